"""A workflow's versions (mounted at /api/v1/workflows): list, read, tag, diff, restore.

A version in a path is its number or its tag (`3`, `1.0.0`, `v1.0.0`); anything that names
no version of the workflow is 404 "Version not found"."""

from typing import Any

from django.http import HttpRequest
from ninja import Query, Router
from ninja.params import functions as param

from accounts.auth import ApiAuth, caller_of
from accounts.permissions import Action, require_role
from accounts.scopes import WORKFLOWS_READ, WORKFLOWS_WRITE

from . import selectors, services, versions
from .models import Workflow
from .schemas import (
    COMMON_ERRORS,
    ErrorOut,
    InvalidGraphOut,
    StaleWriteOut,
    WorkflowOut,
    workflow_out,
)
from .version_schemas import (
    DiffOut,
    RestoreIn,
    TagIn,
    VersionListOut,
    VersionListQuery,
    VersionOut,
)

router = Router(tags=["versions"])

_read = ApiAuth(WORKFLOWS_READ)
_write = ApiAuth(WORKFLOWS_WRITE)
_NO_BODY = param.Body(None)


def _workflow(request: HttpRequest, workflow_id: str) -> Workflow:
    caller = caller_of(request)
    return selectors.workflow_get_for_user(caller.user, workflow_id, team=caller.lookup_team)


@router.get("/{workflow_id}/versions", auth=_read,
            response={200: VersionListOut, 404: ErrorOut, **COMMON_ERRORS},
            summary="The workflow's versions, newest first")
def list_versions(request: HttpRequest, workflow_id: str,
                  query: Query[VersionListQuery]) -> Any:
    workflow = _workflow(request, workflow_id)
    found = versions.version_list(workflow, limit=query.limit, before=query.before)
    return {"versions": [summary.as_json() for summary in found]}


@router.get("/{workflow_id}/versions/{number}", auth=_read,
            response={200: VersionOut, 404: ErrorOut, **COMMON_ERRORS},
            summary="One version with its graph (by number or tag)")
def get_version(request: HttpRequest, workflow_id: str, number: str) -> Any:
    workflow = _workflow(request, workflow_id)
    return versions.version_out(versions.version_resolve(workflow, number))


@router.post("/{workflow_id}/versions/{number}/tag", auth=_write,
             response={200: VersionOut, 404: ErrorOut, 409: ErrorOut, 422: ErrorOut,
                       **COMMON_ERRORS},
             summary="Tag a version with a semantic version (replaces a tag it had)",
             description="422 `invalid_version_tag` unless `tag` is a semantic version "
                         "(`1.4.0`, optional leading `v`, stored without it: `v1.4.0` and "
                         "`1.4.0` are the same tag); 409 `version_tag_taken` when another "
                         "version has it; 409 `version_tag_pinned` when replacing the tag "
                         "the webhook is pinned to.")
def tag_version(request: HttpRequest, workflow_id: str, number: str, payload: TagIn) -> Any:
    workflow = _workflow(request, workflow_id)
    tagged = versions.version_tag(workflow, user=caller_of(request).user, ref=number,
                                  tag=payload.tag, note=payload.note)
    return versions.version_out(tagged)


@router.delete("/{workflow_id}/versions/{number}/tag", auth=_write,
               response={200: VersionOut, 404: ErrorOut, 409: ErrorOut, **COMMON_ERRORS},
               summary="Take a version's tag off",
               description="409 `version_tag_pinned` when the webhook is pinned to the tag.")
def untag_version(request: HttpRequest, workflow_id: str, number: str) -> Any:
    workflow = _workflow(request, workflow_id)
    untagged = versions.version_untag(workflow, user=caller_of(request).user, ref=number)
    return versions.version_out(untagged)


@router.get("/{workflow_id}/versions/{a}/diff/{b}", auth=_read,
            response={200: DiffOut, 404: ErrorOut, **COMMON_ERRORS},
            summary="What changed from version a to version b",
            description="Nodes and edges are matched by id. A move on the canvas is not a "
                        "change; a write-only param is compared but shown as a placeholder. "
                        "An edge whose ends changed under the same id is removed and added.")
def diff_versions(request: HttpRequest, workflow_id: str, a: str, b: str) -> Any:
    workflow = _workflow(request, workflow_id)
    return versions.version_diff(versions.version_resolve(workflow, a),
                                 versions.version_resolve(workflow, b))


@router.post("/{workflow_id}/versions/{number}/restore", auth=_write,
             response={200: WorkflowOut, 404: ErrorOut, 409: StaleWriteOut,
                       422: InvalidGraphOut, **COMMON_ERRORS},
             summary="Make a version's graph the workflow's graph again, as a new version",
             description="A save like any other (validated, stale writes refused with an "
                         "optional `baseUpdatedAt`); history is never rewritten. Restoring the "
                         "graph the workflow already has makes no new version.")
def restore_version(request: HttpRequest, workflow_id: str, number: str,
                    payload: RestoreIn | None = _NO_BODY) -> Any:
    caller = caller_of(request)
    workflow = _workflow(request, workflow_id)
    require_role(caller.user, workflow.team, Action.MODIFY)
    version = versions.version_resolve(workflow, number)
    restored = services.workflow_restore(
        workflow, user=caller.user, version=version,
        base_updated_at=payload.baseUpdatedAt if payload else None)
    return workflow_out(restored)

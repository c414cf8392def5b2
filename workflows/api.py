"""The workflows REST endpoints (mounted at /api/v1/workflows). Parse, call, return."""

import dataclasses
from typing import Any

from django.http import HttpRequest
from ninja import Query, Router, Status

from accounts.auth import ApiAuth, caller_of
from accounts.scopes import WORKFLOWS_READ, WORKFLOWS_WRITE
from wireflow_site.errors import InvalidRequest

from . import selectors, services
from .models import Workflow
from .schemas import (
    COMMON_ERRORS,
    NODE_PATCH_FIELDS,
    DuplicateIn,
    DuplicateOut,
    ErrorOut,
    InvalidGraphOut,
    LintIn,
    LintOut,
    NodePatchedOut,
    NodePatchIn,
    StaleWriteOut,
    WorkflowIn,
    WorkflowListQuery,
    WorkflowOut,
    WorkflowUpdateIn,
    duplicate_out,
    parsed_body,
    workflow_out,
)

router = Router(tags=["workflows"])

_read = ApiAuth(WORKFLOWS_READ)
_write = ApiAuth(WORKFLOWS_WRITE)
_DUPLICATE_BODY_OPENAPI = {"requestBody": {"required": False, "content": {
    "application/json": {"schema": DuplicateIn.model_json_schema()}}}}


def _workflow(request: HttpRequest, workflow_id: str) -> Workflow:
    caller = caller_of(request)
    return selectors.workflow_get_for_user(caller.user, workflow_id, team=caller.lookup_team)


def _data(payload: WorkflowIn) -> services.WorkflowData:
    return services.WorkflowData(name=payload.name, nodes=payload.nodes, edges=payload.edges,
                                 description=payload.description, tags=payload.tags,
                                 is_active=payload.isActive)


def _update_data(payload: WorkflowUpdateIn) -> services.WorkflowData:
    return dataclasses.replace(_data(payload), webhook_enabled=payload.webhookEnabled,
                               webhook_secret=payload.webhook_secret_change(),
                               webhook_version=payload.webhook_version_change())


@router.get("", auth=_read, response={200: list[WorkflowOut], **COMMON_ERRORS},
            summary="List the team's workflows, most recently updated first")
def list_workflows(request: HttpRequest, query: Query[WorkflowListQuery]) -> Any:
    found = selectors.workflow_list(caller_of(request).team, is_active=query.isActive,
                                    limit=query.limit, offset=query.offset)
    return [workflow_out(w) for w in found]


@router.post("", auth=_write, response={201: WorkflowOut, 422: InvalidGraphOut, **COMMON_ERRORS},
             summary="Create a workflow")
def create_workflow(request: HttpRequest, payload: WorkflowIn) -> Any:
    caller = caller_of(request)
    workflow = services.workflow_create(user=caller.user, team=caller.team, data=_data(payload))
    return Status(201, workflow_out(workflow))


# Declared before /{workflow_id} so that "lint" is never taken for an id.
@router.post("/lint", auth=_read, response={200: LintOut, **COMMON_ERRORS}, exclude_none=True,
             summary="Check a graph without saving it (violations are reported, never 422)")
def lint_workflow(request: HttpRequest, payload: LintIn) -> Any:
    violations, warnings = services.graph_lint(payload.nodes, payload.edges)
    return {"ok": not violations, "violations": violations, "warnings": warnings}


@router.get("/{workflow_id}", auth=_read, response={200: WorkflowOut, 404: ErrorOut,
                                                     **COMMON_ERRORS},
            summary="Get a workflow")
def get_workflow(request: HttpRequest, workflow_id: str) -> Any:
    return workflow_out(_workflow(request, workflow_id))


@router.put("/{workflow_id}", auth=_write,
            response={200: WorkflowOut, 404: ErrorOut, 409: StaleWriteOut, 422: InvalidGraphOut,
                      **COMMON_ERRORS},
            summary="Replace a workflow (optional baseUpdatedAt guards against stale writes)")
def update_workflow(request: HttpRequest, workflow_id: str, payload: WorkflowUpdateIn) -> Any:
    workflow = _workflow(request, workflow_id)
    if payload.changes_link_permission(workflow.link_permission):
        raise InvalidRequest("linkPermission cannot be set here: use POST "
                             "/workflows/{id}/visibility", code="invalid_field")
    updated = services.workflow_update(workflow, user=caller_of(request).user,
                                       data=_update_data(payload),
                                       base_updated_at=payload.baseUpdatedAt)
    return workflow_out(updated)


@router.delete("/{workflow_id}", auth=_write, response={204: None, 404: ErrorOut,
                                                        **COMMON_ERRORS},
               summary="Delete a workflow")
def delete_workflow(request: HttpRequest, workflow_id: str) -> Any:
    services.workflow_delete(_workflow(request, workflow_id), user=caller_of(request).user)
    return Status(204, None)


@router.post("/{workflow_id}/webhook/rotate", auth=_write,
             response={200: WorkflowOut, 404: ErrorOut, 409: ErrorOut, **COMMON_ERRORS},
             summary="Give the webhook trigger a new id; the old URL stops working at once",
             description="Enable the webhook first (PUT with `webhookEnabled: true`); a "
                         "disabled webhook answers 409 `webhook_disabled`.")
def rotate_webhook(request: HttpRequest, workflow_id: str) -> Any:
    workflow = _workflow(request, workflow_id)
    return workflow_out(services.workflow_webhook_rotate(workflow, user=caller_of(request).user))


@router.post("/{workflow_id}/duplicate", auth=_write,
             response={201: DuplicateOut, 404: ErrorOut, **COMMON_ERRORS},
             openapi_extra=_DUPLICATE_BODY_OPENAPI,
             summary="Copy a workflow into the caller's current team",
             description="Optional JSON body `{name}`: the copy's name (default: the "
                         "original's, with \" (copy)\").")
def duplicate_workflow(request: HttpRequest, workflow_id: str) -> Any:
    caller = caller_of(request)
    name = _duplicate_name(request)
    source = _workflow(request, workflow_id)
    copied = services.workflow_duplicate(source, user=caller.user, team=caller.team, name=name)
    return Status(201, duplicate_out(copied))


def _duplicate_name(request: HttpRequest) -> str | None:
    """The optional body is read here, not by ninja: a bare POST may come as an empty form
    (multipart), which names nothing, as no body at all does."""
    if request.content_type == "multipart/form-data" or not request.body:
        return None
    return parsed_body(request.body, DuplicateIn).name


@router.patch("/{workflow_id}/nodes/{node_id}", auth=_write,
              response={200: NodePatchedOut, 404: ErrorOut, 409: StaleWriteOut,
                        422: InvalidGraphOut, **COMMON_ERRORS},
              summary="Change one node's params, label or position (saved as a new version)",
              description="`config` and `params` merge into the node's params (a key set to "
                          "null is removed); `label` and `position` replace. Any other field, "
                          "or a structural key (`output`, `nodeType`, ...) inside config or "
                          "params, is 400 `invalid_field`. The graph is validated like a "
                          "save (422); a stale `baseUpdatedAt` is 409 `stale_write`.")
def patch_node(request: HttpRequest, workflow_id: str, node_id: str,
               payload: NodePatchIn) -> Any:
    _check_node_patch(payload)
    workflow = _workflow(request, workflow_id)
    saved, node = services.workflow_node_patch(
        workflow, user=caller_of(request).user, node_id=node_id, patch=_node_patch(payload),
        base_updated_at=payload.baseUpdatedAt)
    return {"data": {"node": node, "updatedAt": saved.updated_at}}


def _check_node_patch(payload: NodePatchIn) -> None:
    refused = payload.refused_fields()
    if refused:
        raise InvalidRequest(f"Not a field a node PATCH may set: {', '.join(refused)} (send "
                             "config, params, label, position or baseUpdatedAt)",
                             code="invalid_field")
    if payload.is_empty():
        raise InvalidRequest(f"Send at least one of {', '.join(NODE_PATCH_FIELDS)}",
                             fields=list(NODE_PATCH_FIELDS))


def _node_patch(payload: NodePatchIn) -> services.NodePatch:
    position = payload.position.model_dump() if payload.position is not None else None
    return services.NodePatch(params=payload.param_changes(), label=payload.label,
                              position=position)

"""The template gallery's REST endpoints (mounted at /api/v1/templates). Parse, call, return.

Publishing public templates while the operator has turned them off
(settings.PUBLIC_TEMPLATES_ENABLED) answers 403 `public_templates_disabled`.
"""

from typing import Any

from django.http import HttpRequest
from ninja import Query, Router, Status
from ninja.params import functions as param

from accounts.auth import ApiAuth, caller_of
from accounts.scopes import WORKFLOWS_READ, WORKFLOWS_WRITE

from . import selectors
from . import templates as gallery
from .models import Template, Workflow
from .schemas import COMMON_ERRORS, ErrorOut, InvalidGraphOut, duplicate_out
from .template_schemas import (
    TemplateListOut,
    TemplateListQuery,
    TemplateOut,
    TemplatePublishIn,
    TemplateUpdateIn,
    TemplateUseIn,
    TemplateUseOut,
    template_list_out,
    template_out,
)

router = Router(tags=["templates"])

_read = ApiAuth(WORKFLOWS_READ)
_write = ApiAuth(WORKFLOWS_WRITE)
_NO_BODY = param.Body(None)  # using a template needs no body: the name defaults to the template's


def _template(request: HttpRequest, template_id: str) -> Template:
    caller = caller_of(request)
    return gallery.template_get_for_user(caller.user, template_id, team=caller.lookup_team)


def _workflow(request: HttpRequest, workflow_id: str) -> Workflow:
    caller = caller_of(request)
    return selectors.workflow_get_for_user(caller.user, workflow_id, team=caller.lookup_team)


def _card(payload: TemplatePublishIn | TemplateUpdateIn) -> gallery.TemplateData:
    return gallery.TemplateData(name=payload.name, description=payload.description,
                                tags=payload.tags, scope=payload.scope)


@router.get("", auth=_read, response={200: TemplateListOut, **COMMON_ERRORS},
            exclude_unset=True,
            summary="The gallery: starter templates, the team's and public ones, newest first")
def list_templates(request: HttpRequest, query: Query[TemplateListQuery]) -> Any:
    filters = gallery.TemplateFilter(scope=query.scope, q=query.q or "", tag=query.tag or "")
    page = gallery.templates_for_team(caller_of(request).team, filters=filters,
                                      limit=query.limit, cursor=query.cursor)
    return template_list_out(page)


@router.post("", auth=_write, response={201: TemplateOut, 404: ErrorOut, **COMMON_ERRORS},
             exclude_unset=True, summary="Publish a workflow's current graph as a template")
def publish_template(request: HttpRequest, payload: TemplatePublishIn) -> Any:
    workflow = _workflow(request, payload.workflowId)
    template = gallery.template_publish(workflow, user=caller_of(request).user,
                                        data=_card(payload))
    return Status(201, template_out(template))


@router.get("/{template_id}", auth=_read, response={200: TemplateOut, 404: ErrorOut,
                                                     **COMMON_ERRORS},
            exclude_unset=True, summary="A template, with its graph")
def get_template(request: HttpRequest, template_id: str) -> Any:
    return template_out(_template(request, template_id))


@router.put("/{template_id}", auth=_write, response={200: TemplateOut, 404: ErrorOut,
                                                     **COMMON_ERRORS},
            exclude_unset=True,
            summary="Change a template; with workflowId, republish it (version + 1)")
def update_template(request: HttpRequest, template_id: str, payload: TemplateUpdateIn) -> Any:
    caller = caller_of(request)
    template = _template(request, template_id)
    workflow = _workflow(request, payload.workflowId) if payload.workflowId else None
    updated = gallery.template_update(template, user=caller.user, data=_card(payload),
                                      workflow=workflow, acting_team=caller.lookup_team)
    return template_out(updated)


@router.delete("/{template_id}", auth=_write, response={204: None, 404: ErrorOut,
                                                        **COMMON_ERRORS},
               summary="Unpublish a template (workflows made from it stay)")
def delete_template(request: HttpRequest, template_id: str) -> Any:
    caller = caller_of(request)
    gallery.template_delete(_template(request, template_id), user=caller.user,
                            acting_team=caller.lookup_team)
    return Status(204, None)


@router.post("/{template_id}/use", auth=_write,
             response={201: TemplateUseOut, 404: ErrorOut, 422: InvalidGraphOut,
                       **COMMON_ERRORS},
             summary="Make a new workflow of the caller's team from a template")
def use_template(request: HttpRequest, template_id: str,
                 payload: TemplateUseIn | None = _NO_BODY) -> Any:
    caller = caller_of(request)
    template = _template(request, template_id)
    workflow = gallery.template_use(template, user=caller.user, team=caller.team,
                                    name=payload.name if payload else None)
    return Status(201, duplicate_out(workflow))

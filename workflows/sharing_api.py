"""Sharing a workflow by link: POST /workflows/{id}/visibility."""

from typing import Any

from django.http import HttpRequest
from ninja import Router, Schema

from accounts.auth import ApiAuth, caller_of
from accounts.scopes import WORKFLOWS_WRITE
from wireflow_site.errors import ApiError, InvalidRequest
from wireflow_site.jsonbody import MalformedJson, parse_json

from .models import LinkPermission
from .schemas import COMMON_ERRORS, ErrorOut
from .selectors import workflow_get_for_user
from .sharing import public_url, workflow_visibility_set

router = Router(tags=["workflows"])

_VISIBILITIES = sorted(LinkPermission.values, reverse=True)  # ["view", "private"]
_BODY_OPENAPI = {"requestBody": {"required": True, "content": {"application/json": {"schema": {
    "type": "object", "required": ["visibility"],
    "properties": {"visibility": {
        "type": "string", "enum": _VISIBILITIES,
        "description": "\"view\": anyone with the link can see the workflow's public page; "
                       "\"private\": only the team (the page is 404 again)"}}}}}}}


class VisibilityOut(Schema):
    linkPermission: str
    url: str


@router.post("/{workflow_id}/visibility", auth=ApiAuth(WORKFLOWS_WRITE),
             response={200: VisibilityOut, 404: ErrorOut, **COMMON_ERRORS},
             openapi_extra=_BODY_OPENAPI,
             summary="Share the workflow by link (a public, read-only page) or stop sharing")
def set_visibility(request: HttpRequest, workflow_id: str) -> Any:
    visibility = _visibility(request)
    caller = caller_of(request)
    workflow = workflow_get_for_user(caller.user, workflow_id, team=caller.lookup_team)
    workflow = workflow_visibility_set(workflow, user=caller.user, visibility=visibility)
    return {"linkPermission": workflow.link_permission, "url": public_url(workflow)}


def _visibility(request: HttpRequest) -> str:
    """The body's `visibility`, or 400 invalid_field (invalid_json for a body that is not
    JSON at all)."""
    try:
        body = parse_json(request.body or b"null")
    except MalformedJson:
        raise InvalidRequest("Malformed JSON body", code="invalid_json") from None
    value = body.get("visibility") if isinstance(body, dict) else None
    if not isinstance(value, str) or value not in _VISIBILITIES:
        raise ApiError("visibility must be \"view\" or \"private\"", code="invalid_field",
                       fields=["visibility"])
    return value

"""Team provider keys (docs/api.md "Provider keys (bring your own)"), mounted at /api/v1/providers.

The team is the key's team, or the browser session's current one. Reading needs
workflows:read (any member: nothing secret is answered), setting and removing team:manage and
an owner or admin (403 forbidden_role). The key is never answered: only `last4`."""

from typing import Any, Literal

from django.http import HttpRequest
from ninja import Router, Schema, Status
from pydantic import BaseModel, Field

from workflows.schemas import COMMON_ERRORS, ErrorOut

from . import provider_keys
from .auth import ApiAuth, caller_of
from .permissions import Action, require_role
from .provider_keys import MAX_BASE_URL_LENGTH, MAX_KEY_LENGTH, provider_overview
from .scopes import TEAM_MANAGE, WORKFLOWS_READ

router = Router(tags=["providers"])

_ERRORS = {404: ErrorOut, 422: ErrorOut, **COMMON_ERRORS}


class ProviderOut(Schema):
    provider: str
    configured: bool
    source: Literal["team", "platform"] | None = Field(
        description="Whose key a node uses: the team's own, else the platform's")
    baseUrl: str | None
    last4: str | None = Field(description="The last 4 characters of the team's key")
    simulated: bool = Field(description="No key anywhere, but the built-in simulator stands in")


class ProviderKeyIn(BaseModel):
    apiKey: str = Field(min_length=1, max_length=MAX_KEY_LENGTH)
    baseUrl: str | None = Field(None, max_length=MAX_BASE_URL_LENGTH,
                                description="http(s); refused if it is not a public address")


def _row(request: HttpRequest, provider: str) -> dict[str, Any]:
    team = caller_of(request).team
    return next(row.as_json() for row in provider_overview(team) if row.provider == provider)


@router.get("", auth=ApiAuth(WORKFLOWS_READ), response={200: list[ProviderOut], **COMMON_ERRORS},
            summary="The providers, and whose key each one runs on")
def list_providers(request: HttpRequest) -> Any:
    caller = caller_of(request)
    require_role(caller.user, caller.team, Action.READ)
    return [row.as_json() for row in provider_overview(caller.team)]


@router.put("/{provider}", auth=ApiAuth(TEAM_MANAGE), response={200: ProviderOut, **_ERRORS},
            summary="Set or replace the team's key (owners and admins); it is never shown again")
def put_provider_key(request: HttpRequest, provider: str, payload: ProviderKeyIn) -> Any:
    caller = caller_of(request)
    provider_keys.provider_key_set(caller.team, provider, payload.apiKey, payload.baseUrl,
                                   by=caller.user)
    return _row(request, provider)


@router.delete("/{provider}", auth=ApiAuth(TEAM_MANAGE), response={204: None, **_ERRORS},
               summary="Remove the team's key (nodes then use the platform's)")
def delete_provider_key(request: HttpRequest, provider: str) -> Any:
    caller = caller_of(request)
    provider_keys.provider_key_delete(caller.team, provider, by=caller.user)
    return Status(204, None)

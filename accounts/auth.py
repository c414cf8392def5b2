"""Who is calling the API: a Bearer API key, or the browser's session (CSRF checked).

`ApiAuth(scope)` is given to each endpoint as its `auth`; it raises the exact errors of the
authentication table, which wireflow_site/api.py renders as the error body. It also counts the
call against the caller's rate limits (wireflow_site/ratelimit.py): endpoints that start an
execution say so with `ApiAuth(scope, counts=EXECUTION)`, and charge the workflow's team once
they have found it.

An API key is live only while its creator is active and a member of the key's team; it acts
with the creator's current role there (accounts/permissions.py).
"""

import re
from dataclasses import dataclass
from typing import Literal, cast

from django.http import HttpRequest
from ninja.security.base import SecuritySchema
from ninja.utils import check_csrf

from wireflow_site import ratelimit
from wireflow_site.errors import Forbidden, Unauthenticated

from . import keys
from .models import ApiKey, Team, User
from .scopes import ALL_SCOPES
from .selectors import api_key_find, current_team_for_user
from .services import api_key_touch

_BEARER = re.compile(r"^Bearer (sk-\S+)$")
_SAFE_METHODS = {"GET", "HEAD", "OPTIONS", "TRACE"}

Counts = Literal["request", "execution"]
REQUEST: Counts = "request"
EXECUTION: Counts = "execution"


@dataclass(frozen=True)
class Caller:
    user: User
    team: Team
    api_key: ApiKey | None
    scopes: frozenset[str]

    @property
    def lookup_team(self) -> Team | None:
        """The team lookups are narrowed to: an API key sees only its own team; the browser
        session sees every team the user belongs to."""
        return self.team if self.api_key is not None else None

    @property
    def trigger(self) -> str:
        return "api" if self.api_key is not None else "editor"

    def require_scope(self, scope: str) -> None:
        """403 unless the caller holds `scope` (a browser session holds every scope)."""
        if scope not in self.scopes:
            raise Forbidden(f"Forbidden: missing scope {scope}", code="forbidden")


class ApiAuth:
    # What the OpenAPI document declares for every endpoint behind it, so that the interactive
    # docs offer "Authorize" for a key (the browser's session, the other way in, is a cookie).
    openapi_security_schema = SecuritySchema(
        type="http", scheme="bearer", bearerFormat="sk-wf_...",
        description="An API key, created at Settings > API Keys: `Authorization: Bearer "
                    "sk-wf_...`.")

    def __init__(self, scope: str | None = None, counts: Counts = REQUEST) -> None:
        self.scope = scope
        self.counts = counts

    def __call__(self, request: HttpRequest) -> Caller:
        header = request.headers.get("Authorization")
        caller = _from_key(header) if header is not None else _from_session(request)
        allowed = not self.scope or self.scope in caller.scopes
        # A call refused for its scope starts nothing: it is counted as a plain request.
        _count(request, caller, self.counts if allowed else REQUEST)
        if self.scope:
            caller.require_scope(self.scope)
        request.caller = caller  # type: ignore[attr-defined]
        return caller


def _count(request: HttpRequest, caller: Caller, counts: Counts) -> None:
    """An execution is charged to the team that owns its workflow, by the endpoint once it has
    found the workflow (ratelimit.enforce_execution_limits). Here, before that:"""
    if caller.api_key is None:
        # A browser session reaches every team of its user, so no team is known yet: its calls,
        # executions too, count against the person's editor allowance.
        ratelimit.enforce_editor_limit(caller.user, request)
    elif counts == EXECUTION:
        # A key reaches only its own team's workflows, so its team is the one: counted up front,
        # failed attempts too. The endpoint's charge of that same team is then no second count.
        ratelimit.enforce_execution_limits(caller.team, request)
    else:
        ratelimit.enforce_request_limit(caller.team, request)


def _from_key(header: str) -> Caller:
    match = _BEARER.match(header.strip())
    if not match:
        raise Unauthenticated("Invalid API key format. Expected: Bearer sk-...",
                              code="invalid_api_key_format")
    secret = match.group(1)
    if not keys.is_well_formed(secret):
        raise Unauthenticated("Invalid API key", code="invalid_api_key")
    api_key = api_key_find(secret)  # None also for a key whose creator lost their place
    if api_key is None:
        raise Unauthenticated("Invalid API key", code="invalid_api_key")
    if api_key.is_expired():
        raise Unauthenticated("API key has expired", code="api_key_expired")
    api_key_touch(api_key)
    return Caller(user=api_key.user, team=api_key.team, api_key=api_key,
                  scopes=frozenset(api_key.scopes))


def _from_session(request: HttpRequest) -> Caller:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        raise Unauthenticated("Missing Authorization header", code="missing_authorization")
    if request.method not in _SAFE_METHODS and check_csrf(request) is not None:
        raise Forbidden("CSRF check failed. Reload the page and try again.", code="csrf_failed")
    team = current_team_for_user(user)
    if team is None:
        raise Forbidden("You do not belong to any team", code="forbidden")
    return Caller(user=user, team=team, api_key=None,
                  scopes=frozenset(ALL_SCOPES))


def caller_of(request: HttpRequest) -> Caller:
    """The Caller that ApiAuth attached to this request (for endpoints behind it)."""
    return cast(Caller, request.auth)  # type: ignore[attr-defined]

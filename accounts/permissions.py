"""Who may do what in a team: docs/api.md's roles table, in one place.

Every page, API endpoint, WebSocket and template action asks this module; nothing else compares
roles. A role is always read from the membership as it is now, in the team that owns the object
acted on: a browser session acts with its role in the workflow's team (not its current team), and
an API key with its creator's current role in the key's team. Lookups come first, so another
team's object is still 404 and never 403.

| may                                                           | owner | admin | editor | viewer |
|---------------------------------------------------------------|-------|-------|--------|--------|
| READ: workflows, runs, templates, stats, members              |   ✓   |   ✓   |   ✓    |   ✓    |
| MODIFY: create / edit / delete workflows, versions, schedules |   ✓   |   ✓   |   ✓    |   —    |
| EXECUTE: execute, run, batch, cancel, rerun                   |   ✓   |   ✓   |   ✓    |   —    |
| USE_TEMPLATE: make a workflow from a template                 |   ✓   |   ✓   |   ✓    |   —    |
| PUBLISH_TEMPLATE: publish; update/delete the team's templates |   ✓   |   ✓   | own    |   —    |
| CREATE_API_KEY: for themself (viewers: read scopes only)      |   ✓   |   ✓   |   ✓    | read   |
| MANAGE_MEMBERS: invite, roles, remove, others' keys           |   ✓   | not owners |  — |   —    |
| MANAGE_PROVIDER_KEYS                                          |   ✓   |   ✓   |   —    |   —    |
| OWN_TEAM: plan, transfer ownership, delete the team           |   ✓   |   —   |   —    |   —    |

The "own", "read" and "not owners" cells are refinements of a ✓ that need the object:
`may_change_template`, `api_key_scopes_allowed` and `may_manage_member` answer them.
"""

import uuid
from collections.abc import Callable, Iterable, Sequence
from enum import StrEnum
from typing import Any, TypeVar, cast

from django.db import connection
from django.db.models import Model, Q, QuerySet

from wireflow_site.errors import Forbidden, NotFound
from wireflow_site.rows import one_row

from .models import Role, Team, User
from .scopes import READ_SCOPES
from .selectors import membership_role


class Action(StrEnum):
    READ = "read"
    MODIFY = "modify"
    EXECUTE = "execute"
    USE_TEMPLATE = "use_template"
    PUBLISH_TEMPLATE = "publish_template"
    CREATE_API_KEY = "create_api_key"
    MANAGE_MEMBERS = "manage_members"
    MANAGE_PROVIDER_KEYS = "manage_provider_keys"
    OWN_TEAM = "own_team"


_ALL = frozenset(Role)
_MEMBERS = frozenset({Role.OWNER, Role.ADMIN, Role.EDITOR})
_MANAGERS = frozenset({Role.OWNER, Role.ADMIN})
PERMISSIONS: dict[Action, frozenset[str]] = {
    Action.READ: _ALL,
    Action.MODIFY: _MEMBERS,
    Action.EXECUTE: _MEMBERS,
    Action.USE_TEMPLATE: _MEMBERS,
    Action.PUBLISH_TEMPLATE: _MEMBERS,
    Action.CREATE_API_KEY: _ALL,
    Action.MANAGE_MEMBERS: _MANAGERS,
    Action.MANAGE_PROVIDER_KEYS: _MANAGERS,
    Action.OWN_TEAM: frozenset({Role.OWNER}),
}


class ForbiddenRole(Forbidden):
    code = "forbidden_role"
    message = "Your role in this team cannot do this"


def role_may(role: str | None, action: Action) -> bool:
    return role is not None and role in PERMISSIONS[action]


def user_may(user: User, team: Team, action: Action) -> bool:
    return role_may(membership_role(user, team), action)


def require_role(user: User, team: Team, action: Action) -> str:
    """The user's role in the team if it may do `action`, else 403 forbidden_role."""
    return require_role_of(membership_role(user, team), action)


def require_role_of(role: str | None, action: Action) -> str:
    """`role` (the caller's in a team, None for none) if it may do `action`, else 403."""
    if role is None or not role_may(role, action):
        raise ForbiddenRole()
    return role


def readable_by(user: User, *, team_field: str = "team") -> Q:
    """A filter for objects whose team `user` may READ in: lookups ask the table in the same
    query, so a read costs no extra round trip."""
    return Q(**{f"{team_field}__memberships__user": user,
                f"{team_field}__memberships__role__in": PERMISSIONS[Action.READ]})


M = TypeVar("M", bound=Model)


def parse_id(raw: object) -> uuid.UUID | None:
    """A row id from a URL or a body; None when it is not a UUID."""
    if isinstance(raw, uuid.UUID):
        return raw
    try:
        return uuid.UUID(str(raw))
    except ValueError:
        return None


def readable_one(rows: QuerySet[M], user: User, raw_id: object, *, team: Team | None,
                 not_found: str) -> M:
    """The row of `rows` with this id when its team is one `user` may read in (only `team`'s,
    for an API key), else NotFound(not_found): the same answer for another team's row, a
    missing one and an id that is not one, so nobody learns what other teams have."""
    pk = parse_id(raw_id)
    if pk is None:
        raise NotFound(not_found)
    found = rows.filter(readable_by(user), pk=pk)
    if team is not None:
        found = found.filter(team=team)
    row = one_row(found)
    if row is None:
        raise NotFound(not_found)
    return row


def readable_row(model: type[Model], sql: Callable[[int, bool], str], user: User,
                 raw_id: object, *, team: Team | None, not_found: str) -> Sequence[Any]:
    """readable_one's answer for a lookup written as SQL once (`sql(number of read roles,
    narrowed to a team)`, whose parameters are the user's id, the row's id, the read roles and
    then the team's id): the row, else NotFound(not_found) for another team's row, a missing
    one and an id that is not one alike."""
    pk = parse_id(raw_id)
    if pk is None:
        raise NotFound(not_found)
    read_roles = sorted(PERMISSIONS[Action.READ])
    params: list[Any] = [user.pk, model._meta.pk.get_db_prep_value(pk, connection),
                         *read_roles]
    if team is not None:
        params.append(team.pk)
    with connection.cursor() as cursor:
        cursor.execute(sql(len(read_roles), team is not None), params)
        row = cursor.fetchone()
    if row is None:
        raise NotFound(not_found)
    return cast(Sequence[Any], row)


def may_change_template(role: str | None, *, is_author: bool) -> bool:
    """Update, republish or unpublish a team's template: managers any, editors their own."""
    if role in _MANAGERS:
        return True
    return is_author and role_may(role, Action.PUBLISH_TEMPLATE)


def may_manage_member(role: str | None, target_role: str) -> bool:
    """Change the role of, or remove, a member whose role is `target_role` (or make someone
    `target_role`): owners anyone, admins anyone but owners."""
    if not role_may(role, Action.MANAGE_MEMBERS):
        return False
    return role == Role.OWNER or target_role != Role.OWNER


def api_key_scopes_allowed(role: str | None, scopes: Iterable[str]) -> bool:
    """Whether someone of `role` may create a key with these scopes: viewers read-only."""
    if not role_may(role, Action.CREATE_API_KEY):
        return False
    return role != Role.VIEWER or set(scopes) <= READ_SCOPES


def actions_for(role: str | None) -> dict[str, bool]:
    """The whole row of the table for one role, as the pages and the editor read it."""
    return {action.value: role_may(role, action) for action in Action}

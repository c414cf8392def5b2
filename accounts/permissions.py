"""Who may do what in a team: api.md's roles table, in one place.

A role is always read from the membership as it is now, in the team that owns the object acted
on: a browser session acts with its role in the workflow's team (not its current team), and an
API key with its creator's current role in the key's team. Lookups come first, so another
team's object is still 404 and never 403.
"""

from enum import StrEnum

from wireflow_site.errors import Forbidden

from .models import Role, Team, User
from .selectors import membership_role


class Action(StrEnum):
    READ = "read"  # workflows, runs, stats, members
    MODIFY = "modify"  # create, edit, delete workflows, versions, schedules
    EXECUTE = "execute"  # execute, run, batch, cancel, rerun
    MANAGE_MEMBERS = "manage_members"  # invite, change roles, remove members, others' keys


_MEMBERS = frozenset({Role.OWNER, Role.ADMIN, Role.EDITOR})
PERMISSIONS: dict[Action, frozenset[str]] = {
    Action.READ: frozenset(Role),
    Action.MODIFY: _MEMBERS,
    Action.EXECUTE: _MEMBERS,
    Action.MANAGE_MEMBERS: frozenset({Role.OWNER, Role.ADMIN}),
}


class ForbiddenRole(Forbidden):
    code = "forbidden_role"
    message = "Your role in this team cannot do this"


def role_may(role: str | None, action: Action) -> bool:
    return role is not None and role in PERMISSIONS[action]


def require_role(user: User, team: Team, action: Action) -> str:
    """The user's role in the team if it may do `action`, else 403 forbidden_role."""
    role = membership_role(user, team)
    if role is None or not role_may(role, action):
        raise ForbiddenRole()
    return role

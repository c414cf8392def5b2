"""Reads for workflows. Every lookup is scoped to the caller's teams; anything else is 404."""

import functools
import re
import uuid

from django.db import connection
from django.db.models import QuerySet

from accounts.models import Membership, Team, User
from accounts.permissions import Action, readable_one, readable_row, role_may
from accounts.selectors import keep_team_providers, membership_role, team_providers_sql
from wireflow_site.rows import columns, instances

from .models import Workflow, WorkflowVersion

_WEBHOOK_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")


def workflow_get_for_user(user: User, workflow_id: str | uuid.UUID, *,
                          team: Team | None = None) -> Workflow:
    """The workflow if it belongs to one of the user's teams, else NotFound("Workflow not found").

    `team` narrows the lookup to that one team: an API key sees only the team it belongs to.
    A malformed id is simply not found, so ids cannot be probed by shape.
    """
    return readable_one(Workflow.objects.select_related("team"), user, workflow_id, team=team,
                        not_found="Workflow not found")


def workflow_get_with_role(user: User, workflow_id: str | uuid.UUID, *,
                           team: Team | None = None) -> tuple[Workflow, str | None]:
    """workflow_get_for_user, with the user's role in the workflow's team, the id of its
    latest version and the providers its team has keys for, read in the same statement (an
    execute needs all four: three round trips fewer on the hottest write, and the version read
    with the graph it holds).

    Every execute makes this lookup, so it is one statement written once, as api_key_find
    is: the ORM spent ~1.3 ms building its two subqueries and the membership join on each
    call, a quarter of an execute's own CPU. Same answers as readable_one's: NotFound for
    another team's workflow, a missing one and an id that is not one."""
    row = readable_row(Workflow, _workflow_with_role_sql, user, workflow_id, team=team,
                       not_found="Workflow not found")
    workflow, owner = instances(row, (Workflow, Team))
    Workflow._meta.get_field("team").set_cached_value(workflow, owner)
    workflow.read_latest_version_id = row[-2]
    keep_team_providers(workflow, row[-1])
    role = row[-3]
    return workflow, role if isinstance(role, str) else None


@functools.cache
def _workflow_with_role_sql(roles: int, narrowed: bool) -> str:
    quote = connection.ops.quote_name
    workflow, team, member, version = (
        quote(m._meta.db_table) for m in (Workflow, Team, Membership, WorkflowVersion))
    # Names from the models' metadata, quoted; the values are parameters.
    return (f"SELECT {columns(Workflow, 'w')}, {columns(Team, 't')}, m.role, "  # noqa: S608
            f"(SELECT v.id FROM {version} v WHERE v.workflow_id = w.id "
            f"ORDER BY v.version DESC LIMIT 1), {team_providers_sql('w.team_id')} "
            f"FROM {workflow} w JOIN {team} t ON t.id = w.team_id "
            f"JOIN {member} m ON m.team_id = w.team_id AND m.user_id = %s "
            f"WHERE w.id = %s AND m.role IN ({', '.join(['%s'] * roles)})"
            + (" AND w.team_id = %s" if narrowed else ""))


def workflows_for_team(team: Team, *, is_active: bool | None = None) -> QuerySet[Workflow]:
    """The team's workflows, most recently updated first."""
    found = Workflow.objects.filter(team=team)
    if is_active is not None:
        found = found.filter(is_active=is_active)
    return found.order_by("-updated_at", "-created_at", "-pk")


def workflow_list(team: Team, *, is_active: bool | None = None, limit: int = 100,
                  offset: int = 0) -> list[Workflow]:
    return list(workflows_for_team(team, is_active=is_active)[offset:offset + limit])


def workflow_version_latest_id(workflow: Workflow) -> int | None:
    """The latest version's id alone (an execute records it without reading its graph): as
    read with the workflow by workflow_get_with_role, else asked for."""
    if hasattr(workflow, "read_latest_version_id"):
        read = workflow.read_latest_version_id
        return read if isinstance(read, int) else None
    return workflow.versions.order_by("-version").values_list("pk", flat=True).first()


def user_can_modify(user: User, team: Team) -> bool:
    """Members may change their team's workflows, except viewers (accounts/permissions.py)."""
    return role_may(membership_role(user, team), Action.MODIFY)


def workflow_get_by_webhook(webhook_id: str) -> Workflow | None:
    """The workflow whose enabled webhook has this id (the public trigger URL), or None."""
    if not _WEBHOOK_ID.fullmatch(webhook_id):  # ids are token_urlsafe(); others cannot match
        return None
    return (Workflow.objects.filter(webhook_id=webhook_id, webhook_enabled=True)
            .select_related("team").first())

"""Reads for workflows. Every lookup is scoped to the caller's teams; anything else is 404."""

import re
import uuid

from django.db.models import OuterRef, QuerySet, Subquery

from accounts.models import Membership, Team, User
from accounts.permissions import Action, readable_one, role_may
from accounts.selectors import membership_role

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
    """workflow_get_for_user, with the user's role in the workflow's team and the id of its
    latest version read in the same statement (an execute needs all three: two round trips
    fewer on the hottest write, and the version read with the graph it holds)."""
    role = Membership.objects.filter(team=OuterRef("team_id"), user=user).values("role")[:1]
    latest = (WorkflowVersion.objects.filter(workflow=OuterRef("pk")).order_by("-version")
              .values("pk")[:1])
    workflow = readable_one(Workflow.objects.select_related("team")
                            .annotate(caller_role=Subquery(role),
                                      read_latest_version_id=Subquery(latest)),
                            user, workflow_id, team=team, not_found="Workflow not found")
    found = getattr(workflow, "caller_role", None)
    return workflow, found if isinstance(found, str) else None


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

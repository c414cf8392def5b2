"""The execute's workflow lookup (workflow_get_with_role) is one hand-written statement: it must
answer exactly as the ORM's readable_one over the same workflow, with the caller's role and the
latest version's id, for every kind of caller, workflow id and team narrowing."""

import uuid
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection
from django.db.models import OuterRef, Subquery
from django.test.utils import CaptureQueriesContext

from accounts.models import Membership, Role, Team, User
from accounts.permissions import readable_one
from wireflow_site.errors import NotFound
from workflows.models import Workflow, WorkflowVersion
from workflows.selectors import workflow_get_with_role


def _by_orm(user: User, workflow_id: Any, team: Team | None) -> tuple[Workflow, str | None]:
    """The same lookup in the ORM's words: the reference the statement is held to."""
    role = Membership.objects.filter(team=OuterRef("team_id"), user=user).values("role")[:1]
    latest = (WorkflowVersion.objects.filter(workflow=OuterRef("pk")).order_by("-version")
              .values("pk")[:1])
    workflow = readable_one(Workflow.objects.select_related("team")
                            .annotate(caller_role=Subquery(role),
                                      read_latest_version_id=Subquery(latest)),
                            user, workflow_id, team=team, not_found="Workflow not found")
    return workflow, getattr(workflow, "caller_role")  # noqa: B009 (an annotation)


def _answer(lookup: Callable[..., tuple[Workflow, str | None]], user: User, workflow_id: Any,
            team: Team | None) -> Any:
    try:
        workflow, role = lookup(user, workflow_id, team=team)
    except NotFound as error:
        return ("not found", str(error))
    fields = {f.attname: getattr(workflow, f.attname) for f in Workflow._meta.concrete_fields}
    owner = {f.attname: getattr(workflow.team, f.attname) for f in Team._meta.concrete_fields}
    return (fields, owner, role, getattr(workflow, "read_latest_version_id"))  # noqa: B009


@pytest.fixture
def world(owner: User, team: Team, member_of: Callable[..., User],
          make_user: Callable[..., User]) -> dict[str, Any]:
    other = make_user("other@example.com")
    assert other.current_team is not None
    mine = Workflow.objects.create(team=team, created_by=owner, name="mine",
                                   nodes=[{"id": "a"}], edges=[], tags=["x"])
    versioned = Workflow.objects.create(team=team, created_by=owner, name="versioned")
    for number in (1, 3, 2):  # the latest is the highest number, not the newest row
        WorkflowVersion.objects.create(workflow=versioned, version=number)
    theirs = Workflow.objects.create(team=other.current_team, created_by=other, name="theirs")
    return {"users": [owner, *(member_of(role) for role in (Role.ADMIN, Role.EDITOR,
                                                            Role.VIEWER)), other],
            "teams": [None, team, other.current_team],
            "ids": [mine.pk, str(versioned.pk), theirs.pk, str(uuid.uuid4()), "not-a-uuid",
                    "", f"{mine.pk}'--"]}


def test_answers_as_the_orm_for_every_caller_id_and_team(world: dict[str, Any]) -> None:
    cases = 0
    for user in world["users"]:
        for team in world["teams"]:
            for workflow_id in world["ids"]:
                expected = _answer(_by_orm, user, workflow_id, team)
                assert _answer(workflow_get_with_role, user, workflow_id, team) == expected, (
                    user.email, team, workflow_id)
                cases += 1
    assert cases == 5 * 3 * 7


def test_reads_the_role_and_the_latest_version(world: dict[str, Any]) -> None:
    viewer = world["users"][3]
    versioned = Workflow.objects.get(name="versioned")
    workflow, role = workflow_get_with_role(viewer, versioned.pk)
    assert role == Role.VIEWER
    assert getattr(workflow, "read_latest_version_id") == versioned.versions.get(version=3).pk  # noqa: B009
    assert workflow.team.name == versioned.team.name


def test_one_statement_with_the_team_attached(world: dict[str, Any]) -> None:
    owner = world["users"][0]
    mine = Workflow.objects.select_related("team").get(name="mine")
    with CaptureQueriesContext(connection) as queries:
        workflow, _ = workflow_get_with_role(owner, mine.pk, team=mine.team)
        assert workflow.team.pk == mine.team_id  # attached: no second read
    assert len(queries.captured_queries) == 1

"""The poll's execution lookup (execution_get_for_poll) is one hand-written statement: it must
answer exactly as the ORM's readable_one over the same execution, deferring what a poll does
not show, for every kind of caller, execution id and team narrowing."""

import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.models import Role, Team, User
from accounts.permissions import readable_one
from executions.models import Execution
from executions.selectors import execution_get_for_poll
from wireflow_site.errors import NotFound
from workflows.models import Workflow, WorkflowVersion

pytestmark = pytest.mark.django_db

NOT_POLLED = {"nodes", "edges", "inputs", "trigger_data"}
VERSION_NOT_POLLED = {"nodes", "edges"}


def _by_orm(user: User, execution_id: Any, *, team: Team | None) -> Execution:
    """The same lookup in the ORM's words: the reference the statement is held to."""
    rows = (Execution.objects.select_related("workflow_version")
            .defer(*NOT_POLLED, *(f"workflow_version__{name}" for name in VERSION_NOT_POLLED)))
    return readable_one(rows, user, execution_id, team=team, not_found="Execution not found")


def _answer(lookup: Callable[..., Execution], user: User, execution_id: Any,
            team: Team | None) -> Any:
    try:
        execution = lookup(user, execution_id, team=team)
    except NotFound as error:
        return ("not found", str(error))
    with CaptureQueriesContext(connection) as queries:
        read = {f.attname: getattr(execution, f.attname)
                for f in Execution._meta.concrete_fields if f.attname not in NOT_POLLED}
        version = execution.workflow_version  # attached: no read of its own
        version_read = None if version is None else {
            f.attname: getattr(version, f.attname)
            for f in WorkflowVersion._meta.concrete_fields if f.attname not in VERSION_NOT_POLLED}
    assert queries.captured_queries == []
    deferred = (execution.get_deferred_fields(),
                None if version is None else version.get_deferred_fields())
    # What was left out is still there when asked for, each read then.
    graph = (execution.nodes, execution.inputs, None if version is None else version.nodes)
    return read, version_read, deferred, graph


@pytest.fixture
def world(owner: User, team: Team, member_of: Callable[..., User],
          make_user: Callable[..., User]) -> dict[str, Any]:
    other = make_user("other@example.com")
    assert other.current_team is not None
    graph = [{"id": "a", "type": "wireflow", "data": {"nodeType": "input:text"}}]
    workflow = Workflow.objects.create(team=team, created_by=owner, name="mine", nodes=graph)
    version = WorkflowVersion.objects.create(workflow=workflow, version=1, nodes=graph,
                                             tag="v1")
    now = timezone.now()

    def execution(of: Workflow, version: WorkflowVersion | None, **fields: Any) -> Execution:
        return Execution.objects.create(workflow=of, team_id=of.team_id, created_by=owner,
                                        workflow_version=version, nodes=graph,
                                        inputs={"a": "é"}, deadline_at=now + timedelta(hours=1),
                                        **fields)

    pinned = execution(workflow, version, final_output={"o": [1, None]}, credits_used=2.5)
    sent_graph = execution(workflow, None, status="FAILED", error="x'; --")
    theirs_workflow = Workflow.objects.create(team=other.current_team, created_by=other,
                                              name="theirs")
    theirs = execution(theirs_workflow, None)
    return {"users": [owner, *(member_of(role) for role in (Role.ADMIN, Role.EDITOR,
                                                            Role.VIEWER)), other],
            "teams": [None, team, other.current_team],
            "ids": [pinned.pk, str(sent_graph.pk), theirs.pk, str(uuid.uuid4()), "not-a-uuid",
                    "", f"{pinned.pk}'--"]}


def test_answers_as_the_orm_for_every_caller_id_and_team(world: dict[str, Any]) -> None:
    cases = found = 0
    for user in world["users"]:
        for team in world["teams"]:
            for execution_id in world["ids"]:
                expected = _answer(_by_orm, user, execution_id, team)
                assert _answer(execution_get_for_poll, user, execution_id, team) == expected, (
                    user.email, team, execution_id)
                cases += 1
                found += expected[0] != "not found"
    assert cases == 5 * 3 * 7
    # Each of the four members finds the team's two executions with no team or their own;
    # the other user finds theirs with no team or theirs.
    assert found == 4 * 2 * 2 + 2


def test_one_statement(world: dict[str, Any]) -> None:
    owner = world["users"][0]
    with CaptureQueriesContext(connection) as queries:
        execution = execution_get_for_poll(owner, str(world["ids"][0]))
        assert execution.workflow_version is not None
        assert execution.workflow_version.tag == "v1"
    assert len(queries.captured_queries) == 1

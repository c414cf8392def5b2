"""Pure nodes (text, JSON, logic; runtime.Inline `pure`) run at once and are recorded together:
a chain of them costs a few round trips, not several per node, with the same outcome, attempts,
events and failure contract as the ordinary claim-run-record path."""

import json
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection, transaction
from django.test import Client
from django.test.utils import CaptureQueriesContext

from executions import events
from executions.engine.runner import PURE_BATCH, advance
from executions.models import Execution, ExecutionEvent, ExecutionStatus, NodeRun, NodeStatus
from tests.builders import chain
from tests.conftest import ApiClient

from .helpers import create_workflow, edge, execute, node
from .inprocess import drive

pytestmark = pytest.mark.django_db(transaction=True)




def test_a_long_chain_completes_in_one_pass_recorded_as_the_ordinary_path_would(
        sent: list[str], api: ApiClient) -> None:
    length = PURE_BATCH + 27  # more than one batch (a workflow has at most 100 nodes)
    execution_id = execute(api, create_workflow(api, *chain(length)))
    advance(execution_id)
    runs = list(NodeRun.objects.filter(execution_id=execution_id))
    assert {run.status for run in runs} == {NodeStatus.COMPLETED}
    for run in runs:
        assert run.attempt == 1 and run.started_at and run.finished_at and run.deadline_at
        [entry] = run.attempts_log
        assert entry["attempt"] == 1 and entry["error"] is None and entry["finishedAt"]
        assert run.ports == {"text": "x"} and run.input is not None
    events = list(ExecutionEvent.objects.filter(execution_id=execution_id))
    assert [event.seq for event in events] == list(range(1, len(events) + 1))  # gap-free
    completed = [event.payload["nodeId"] for event in events if event.type == "node"]
    assert completed == [f"n{i}" for i in range(length)]  # each once, in order
    assert events[-1].type == "execution" and events[-1].payload["status"] == "COMPLETED"


def test_a_chain_of_100_costs_a_few_dozen_queries_not_hundreds(sent: list[str],
                                                                api: ApiClient) -> None:
    execution_id = execute(api, create_workflow(api, *chain(100)))
    with CaptureQueriesContext(connection) as queries:
        advance(execution_id)
    assert drive(execution_id).status == ExecutionStatus.COMPLETED
    # The ordinary path made 18 per node (two transitions, each with its event); batched, the
    # node writes go together and one event write serves fifty nodes.
    assert len(queries.captured_queries) < 100, len(queries.captured_queries)


def test_a_pure_pipeline_ends_in_the_transaction_that_records_its_nodes(
        sent: list[str], api: ApiClient) -> None:
    """Its nodes, their events and the end of the execution (credits settled, the lease let
    go) are one transaction: one commit, no savepoints, a dozen statements for the pass."""
    execution_id = execute(api, create_workflow(api, *chain(3)))
    with CaptureQueriesContext(connection) as queries:
        advance(execution_id)
    statements = [query["sql"] for query in queries.captured_queries]
    assert sum(sql.startswith("COMMIT") for sql in statements) == 1, statements
    assert not [sql for sql in statements if sql.startswith("SAVEPOINT")]
    # The lease taken and the execution read in one statement (state.acquire_lease).
    assert len(statements) <= 11, statements
    execution = Execution.objects.get(pk=execution_id)
    assert execution.status == ExecutionStatus.COMPLETED
    assert (execution.lease_owner, execution.lease_expires_at, execution.wake_at) == ("", None,
                                                                                       None)
    events = list(ExecutionEvent.objects.filter(execution_id=execution_id))
    assert [event.seq for event in events] == [1, 2, 3, 4] == list(range(1, execution.last_seq
                                                                          + 1))
    assert events[-1].payload["status"] == "COMPLETED"
    advance(execution_id)  # a late wake-up finds it ended and changes nothing
    assert ExecutionEvent.objects.filter(execution_id=execution_id).count() == 4


@pytest.mark.parametrize("take", [events._add_returning, events._add_then_read])
def test_event_numbers_are_taken_alike_with_or_without_update_returning(
        take: Callable[[Any, int], int | None], sent: list[str], api: ApiClient) -> None:
    """Where the database returns no rows from an UPDATE (SQLite before 3.35), the counter is
    added to and then read: the same numbers, and None for an execution that is gone."""
    execution_id = execute(api, create_workflow(api, *chain(3)))
    with transaction.atomic():
        assert take(execution_id, 3) == 3
        assert take(execution_id, 1) == 4
    assert Execution.objects.get(pk=execution_id).last_seq == 4
    assert take(uuid.uuid4(), 2) is None


def test_a_failing_pure_node_takes_the_ordinary_path_and_fails_as_it_would(
        sent: list[str], api: ApiClient) -> None:
    nodes = [node("t", "input:text", text="not json"), node("c", "utility:prompt_concat"),
             node("x", "utility:json_extract", path="$.a"), node("out", "output:result")]
    edges = [edge("t", "text", "x", "json"), edge("t", "text", "c", "texts"),
             edge("x", "value", "out", "value")]
    execution = drive(execute(api, create_workflow(api, nodes, edges)))
    assert execution.status == ExecutionStatus.FAILED
    runs = {run.node_id: run for run in NodeRun.objects.filter(execution=execution)}
    assert runs["x"].status == NodeStatus.FAILED and "$.a" in runs["x"].error
    assert runs["x"].attempts_log[-1]["error"] == runs["x"].error
    assert runs["c"].status == NodeStatus.COMPLETED and runs["out"].status == NodeStatus.CANCELLED


def test_a_batch_the_database_refuses_is_recorded_node_by_node(sent: list[str],
                                                               api: ApiClient) -> None:
    # One node's output holds a NUL, which PostgreSQL's jsonb refuses: the batch it was in is
    # rolled back, and the ordinary path records the others and fails that one.
    nodes = [node("payload", "input:text", "payload"),
             node("c", "utility:prompt_concat", "Concat"),
             node("x", "utility:json_extract", "Pick"), node("out", "output:result")]
    edges = [edge("payload", "text", "x", "json"), edge("payload", "text", "c", "texts"),
             edge("x", "value", "out", "value")]
    workflow_id = create_workflow(api, nodes, edges)
    workflow = api.get(f"/workflows/{workflow_id}").json()
    enabled = api.put(f"/workflows/{workflow_id}", {"name": workflow["name"], "nodes": nodes,
                                                   "edges": edges, "webhookEnabled": True})
    answer = Client().post(f"/api/v1/workflow/{enabled.json()['webhookId']}/trigger",
                           data=json.dumps({"payload": '"\\u0000"'}),
                           content_type="application/json")
    assert answer.status_code == 202, answer.content
    execution = drive(answer.json()["executionId"])
    assert execution.status == ExecutionStatus.FAILED
    runs = {run.node_id: run for run in NodeRun.objects.filter(execution=execution)}
    assert {nid: run.status for nid, run in runs.items()} == {
        "payload": "COMPLETED", "c": "COMPLETED", "x": "FAILED", "out": "CANCELLED"}
    assert runs["x"].status == NodeStatus.FAILED
    assert ExecutionEvent.objects.filter(execution=execution, type="node",
                                         payload__nodeId="c").count() == 1

"""Coalesced wake-ups (engine/runner.advance, engine/state.py): a wake-up that finds the lease
held leaves a mark and returns at once, without a task backing off and retrying; the holder
sees the mark when it lets go, and runs another pass instead; the mark is never lost between
the two conditional writes."""

import threading
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection, connections, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from executions.engine import state
from executions.engine.runner import advance
from executions.models import Execution, ExecutionStatus, NodePhase, NodeRun
from executions.services import provider_hook_received
from tests.conftest import ApiClient

from .helpers import create_workflow, execute, node
from .inprocess import drive

pytestmark = pytest.mark.django_db(transaction=True)


def running(api: ApiClient) -> str:
    nodes = [node("g", "generate:flux_2", prompt="a fox [sim hang]")]
    return execute(api, create_workflow(api, nodes, []))


def row(execution_id: str) -> Execution:
    return Execution.objects.get(pk=execution_id)


def test_a_wake_up_while_the_lease_is_held_leaves_a_mark_and_returns(
        sent: list[str], api: ApiClient) -> None:
    execution_id = running(api)
    sent.clear()
    assert state.acquire_lease(execution_id, "holder")
    advance(execution_id)  # a webhook's wake-up
    assert row(execution_id).wake_requested and row(execution_id).lease_owner == "holder"
    assert sent == []  # no task sent to back off and try again
    # The holder, letting go, finds the mark: it keeps the lease for another pass.
    assert state.release_lease(execution_id, "holder", None) is False
    assert not row(execution_id).wake_requested and row(execution_id).lease_owner == "holder"
    assert state.release_lease(execution_id, "holder", None) is True
    assert row(execution_id).lease_owner == ""


def test_many_wake_ups_during_a_pass_cost_one_more_pass(sent: list[str],
                                                       api: ApiClient) -> None:
    execution_id = running(api)
    assert state.acquire_lease(execution_id, "holder")
    for _ in range(50):
        advance(execution_id)
    assert state.release_lease(execution_id, "holder", None) is False
    assert state.release_lease(execution_id, "holder", None) is True


def test_a_wake_up_finding_the_lease_free_or_expired_runs_the_pass_itself(
        sent: list[str], api: ApiClient) -> None:
    execution_id = running(api)
    drive_once = row(execution_id).wake_at
    advance(execution_id)
    assert row(execution_id).lease_owner == ""  # it took the lease, ran, and let go
    assert row(execution_id).wake_at != drive_once
    # A dead holder's expired lease: the wake-up takes it over instead of leaving a mark.
    Execution.objects.filter(pk=execution_id).update(
        lease_owner="dead", lease_expires_at=timezone.now() - timedelta(seconds=1))
    assert not state.request_wake(execution_id)
    advance(execution_id)
    assert row(execution_id).lease_owner == "" and not row(execution_id).wake_requested


def test_a_mark_left_by_a_holder_that_died_is_served_by_the_next_one(sent: list[str],
                                                                      api: ApiClient) -> None:
    execution_id = running(api)
    assert state.acquire_lease(execution_id, "holder")
    assert state.request_wake(execution_id)
    Execution.objects.filter(pk=execution_id).update(
        lease_expires_at=timezone.now() - timedelta(seconds=1))
    assert state.acquire_lease(execution_id, "next")  # its pass reads everything anyway
    assert not row(execution_id).wake_requested


def test_no_mark_is_left_on_an_ended_execution(sent: list[str], api: ApiClient) -> None:
    execution_id = running(api)
    assert api.post(f"/workflows/executions/{execution_id}/cancel").status_code == 202
    assert drive(execution_id).status == ExecutionStatus.CANCELLED
    assert not state.request_wake(execution_id)
    advance(execution_id)  # a late webhook: nothing happens
    assert not row(execution_id).wake_requested and row(execution_id).lease_owner == ""


def test_a_cancel_arriving_mid_pass_is_seen_by_the_holders_next_pass(
        sent: list[str], api: ApiClient, monkeypatch: Any) -> None:
    from executions.engine import runner

    execution_id = running(api)
    advance(execution_id)  # submitted; now waiting on the provider
    passes: list[int] = []
    real = runner._advance

    def pass_with_a_cancel_arriving(execution_id: str, heartbeat: Any, *taken: Any) -> Any:
        passes.append(1)
        wake_at = real(execution_id, heartbeat, *taken)
        if len(passes) == 1:  # the cancel arrives after this pass looked, before it lets go
            assert api.post(f"/workflows/executions/{execution_id}/cancel").status_code == 202
            advance(execution_id)  # its wake-up (sent after commit): leaves a mark
            assert row(execution_id).status == ExecutionStatus.RUNNING
        return wake_at

    monkeypatch.setattr(runner, "_advance", pass_with_a_cancel_arriving)
    advance(execution_id)
    assert len(passes) == 2
    assert row(execution_id).status == ExecutionStatus.CANCELLED


def test_taking_the_lease_reads_the_execution_as_the_orm_would(sent: list[str],
                                                                api: ApiClient) -> None:
    """One statement takes the lease and returns the row: every field as a fresh read gives
    it (JSON, dates, ids and booleans through their converters), the lease already written."""
    execution_id = running(api)
    taken = state.acquire_lease(execution_id, "holder")
    assert taken is not None
    fresh = row(execution_id)
    for field in Execution._meta.concrete_fields:
        assert getattr(taken, field.attname) == getattr(fresh, field.attname), field.name
    assert taken.lease_owner == "holder" and not taken.wake_requested
    assert taken.lease_expires_at is not None and taken.lease_expires_at > timezone.now()
    assert state.acquire_lease(execution_id, "another") is None  # held: nothing returned


def test_taking_the_lease_reads_the_node_runs_as_the_orm_would_once(sent: list[str],
                                                                     api: ApiClient) -> None:
    """On PostgreSQL the same statement returns the execution's node runs, in their order, each
    field as a fresh read gives it; they are handed out once (a later pass reads afresh)."""
    assert connection.vendor == "postgresql", "the lease reads the node runs on PostgreSQL"
    nodes = [node(f"n{i}", "input:text", text=f"line {i}") for i in range(3)]
    nodes.append(node("g", "generate:flux_2", prompt="a fox [sim hang]"))
    execution_id = execute(api, create_workflow(api, nodes, []))
    NodeRun.objects.filter(execution_id=execution_id, node_id="n1").update(
        output={"text": "x"}, started_at=timezone.now(), progress=0.5, remote={"a": [1]})
    taken = state.acquire_lease(execution_id, "holder")
    assert taken is not None
    read = state.node_runs_read(taken)
    fresh = list(NodeRun.objects.filter(execution_id=execution_id))
    assert read is not None and [run.pk for run in read] == [run.pk for run in fresh]
    for mine, theirs in zip(read, fresh, strict=True):
        for field in NodeRun._meta.concrete_fields:
            assert getattr(mine, field.attname) == getattr(theirs, field.attname), field.name
    assert state.node_runs_read(taken) is None  # handed out once
    assert state.acquire_lease(execution_id, "another") is None


# --- A provider's delivery ---------------------------------------------------------------

def submitted(api: ApiClient) -> NodeRun:
    execution_id = running(api)
    advance(execution_id)  # the pass that submits the job (it never finishes: [sim hang])
    run = NodeRun.objects.get(execution_id=execution_id)
    assert run.phase == NodePhase.SUBMITTED and row(execution_id).lease_owner == ""
    return run


def deliver(run: NodeRun) -> None:
    provider_hook_received(run.pk, run.attempt, {"request_id": run.request_id, "status": "OK"})


def test_a_delivery_while_the_lease_is_held_leaves_a_mark_and_sends_no_task(
        sent: list[str], sim_site: str, api: ApiClient) -> None:
    run = submitted(api)
    execution_id = str(run.execution_id)
    assert state.acquire_lease(execution_id, "holder")
    sent.clear()

    deliver(run)

    assert sent == []  # the holder's next pass is the wake-up
    assert row(execution_id).wake_requested
    run.refresh_from_db()
    assert run.remote["delivered"]["request_id"] == run.request_id
    assert state.release_lease(execution_id, "holder", None) is False  # it goes round again


def test_a_delivery_with_the_lease_free_sends_a_task(
        sent: list[str], sim_site: str, api: ApiClient) -> None:
    run = submitted(api)
    sent.clear()

    with CaptureQueriesContext(connection) as queries:
        deliver(run)

    assert sent == [str(run.execution_id)]
    assert not row(str(run.execution_id)).wake_requested
    # The lease was read with the node, not again after the commit.
    statements = [query["sql"] for query in queries.captured_queries]
    assert not [sql for sql in statements
                if sql.startswith('SELECT') and 'FROM "executions_execution"' in sql], statements
    # On PostgreSQL the node's write, the lease's read and the wake time are one statement.
    assert len(statements) == (1 if connection.vendor == "postgresql" else 6), statements
    run.refresh_from_db()
    execution = row(str(run.execution_id))
    assert run.remote["delivered"] == {"request_id": run.request_id, "status": "OK"}
    assert run.next_check_at is not None and run.next_check_at <= timezone.now()
    assert execution.wake_at == run.next_check_at  # due now, both


@pytest.mark.parametrize("way", ["one statement", "a transaction"])
@pytest.mark.parametrize(("body", "kept"), [
    ("its own", True), ("another job's", False), ("no id", True), ("not an object", False),
    ("a prediction's id", True)])
def test_a_delivery_is_kept_only_for_its_own_job_and_always_makes_the_node_due(
        sent: list[str], sim_site: str, api: ApiClient, monkeypatch: pytest.MonkeyPatch,
        body: str, kept: bool, way: str) -> None:
    """On PostgreSQL the delivery is one statement; elsewhere (SQLite) a transaction through
    the ORM, which this database runs too when it is not recognised as PostgreSQL."""
    run = submitted(api)
    bodies: dict[str, dict[str, Any] | None] = {
        "its own": {"request_id": run.request_id, "status": "OK"},
        "another job's": {"request_id": "someone-else", "status": "OK"},
        "no id": {"status": "OK", "payload": {"n": 1}},
        "not an object": None,
        "a prediction's id": {"id": run.request_id, "status": "succeeded"},
    }
    delivered = bodies[body]
    before = run.remote
    sent.clear()
    with CaptureQueriesContext(connection) as queries, monkeypatch.context() as patch:
        if way == "a transaction":
            patch.setattr(connection, "vendor", "the other database")
        provider_hook_received(run.pk, run.attempt, delivered)
    statements = [query["sql"] for query in queries.captured_queries]
    assert (statements[0].startswith("WITH run AS (UPDATE")) is (way == "one statement"), \
        statements
    run.refresh_from_db()
    assert run.remote == ({**before, "delivered": delivered} if kept else before)
    assert run.next_check_at is not None and run.next_check_at <= timezone.now()
    assert sent == [str(run.execution_id)]


def test_a_delivery_for_an_earlier_attempt_or_an_ended_run_changes_nothing(
        sent: list[str], sim_site: str, api: ApiClient) -> None:
    run = submitted(api)
    execution = row(str(run.execution_id))
    sent.clear()
    provider_hook_received(run.pk, run.attempt - 1, {"request_id": run.request_id})
    Execution.objects.filter(pk=run.execution_id).update(status=ExecutionStatus.CANCELLED)
    provider_hook_received(run.pk, run.attempt, {"request_id": run.request_id})
    fresh = NodeRun.objects.get(pk=run.pk)
    assert fresh.remote == run.remote and fresh.next_check_at == run.next_check_at
    assert row(str(run.execution_id)).wake_at == execution.wake_at
    assert sent == []


def test_deliveries_with_a_wake_up_already_waiting_never_write_the_execution(
        sent: list[str], sim_site: str, api: ApiClient) -> None:
    run = submitted(api)
    execution_id = str(run.execution_id)
    assert state.acquire_lease(execution_id, "holder")
    assert state.request_wake(execution_id)
    sent.clear()

    with CaptureQueriesContext(connection) as queries:
        deliver(run)

    writes = [query["sql"] for query in queries.captured_queries
              if '"executions_execution"' in query["sql"]
              and query["sql"].startswith(("UPDATE", "INSERT", "DELETE"))]
    assert writes == [] and sent == []
    run.refresh_from_db()
    assert run.remote["delivered"]["request_id"] == run.request_id


def test_a_delivery_does_not_wait_for_a_lock_on_the_execution(
        sent: list[str], sim_site: str, api: ApiClient) -> None:
    # The execution's row is the one the engine's pass writes (its events, its lease): a
    # fan-out's deliveries locking it queued behind the pass and behind each other.
    assert connection.vendor == "postgresql", "row locks are PostgreSQL's"
    run = submitted(api)
    execution_id = str(run.execution_id)
    assert state.acquire_lease(execution_id, "holder")
    assert state.request_wake(execution_id)
    locked, done = threading.Event(), threading.Event()

    def hold_the_execution_row() -> None:
        try:
            with transaction.atomic():
                Execution.objects.select_for_update().filter(pk=execution_id).first()
                locked.set()
                done.wait(60)
        finally:
            connections.close_all()

    holder = threading.Thread(target=hold_the_execution_row)
    holder.start()
    try:
        assert locked.wait(60)
        with connection.cursor() as cursor:
            cursor.execute("SET lock_timeout = '5s'")  # a wait for the row fails the test
        deliver(run)
    finally:
        done.set()
        holder.join(60)
        with connection.cursor() as cursor:
            cursor.execute("SET lock_timeout = 0")
    run.refresh_from_db()
    assert run.remote["delivered"]["request_id"] == run.request_id

"""A recording step that changes one node goes to PostgreSQL as one statement (engine/fused.py):
its transition, and its events only if that transition won. A step that does more is recorded
in a transaction, as before, with nothing of the first try sent or kept."""

import copy
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from executions.engine import fused, state
from executions.engine.heartbeat import Heartbeat
from executions.engine.nodectx import NodeInput
from executions.engine.runner import Runner, advance
from executions.models import Execution, ExecutionEvent, NodePhase, NodeRun, NodeStatus
from executions.services import provider_hook_received
from tests.conftest import ApiClient

from .helpers import create_workflow, edge, execute, node

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _postgresql() -> None:
    assert connection.vendor == "postgresql", "the engine fuses its writes on PostgreSQL only"


def _runner(execution_id: str) -> Runner:
    taken = state.acquire_lease(execution_id, "owner")
    assert taken is not None
    return Runner(taken, Heartbeat(execution_id, "owner"))


def _events(execution_id: str) -> list[tuple[int, str]]:
    return list(ExecutionEvent.objects.filter(execution_id=execution_id, type="node")
                .order_by("seq").values_list("seq", "payload__nodeId"))


def _pipeline(api: ApiClient) -> str:
    nodes = [node("t", "input:text", text="hi"), node("u", "utility:prompt_concat"),
             node("o", "output:result")]
    return execute(api, create_workflow(api, nodes, [edge("t", "text", "u", "texts"),
                                                     edge("u", "text", "o", "value")]))


def _claim(runner: Runner, node_id: str) -> bool:
    run = runner.runs[node_id]
    prepared = NodeInput.from_stored(runner.ex, run, runner.graph, runner.keys)
    return runner.guarded(run, "the start",
                          lambda: runner.claim(run, prepared, NodePhase.RUNNING))


def test_a_claim_is_one_statement_with_its_event(sent: list[str], api: ApiClient) -> None:
    execution_id = _pipeline(api)
    runner = _runner(execution_id)
    with CaptureQueriesContext(connection) as queries:
        assert _claim(runner, "t")
    statements = [query["sql"] for query in queries.captured_queries]
    assert len(statements) == 1 and statements[0].startswith("WITH node AS (UPDATE"), statements
    stored = NodeRun.objects.get(execution_id=execution_id, node_id="t")
    mine = runner.runs["t"]
    assert (stored.status, stored.attempt, stored.phase) == (NodeStatus.RUNNING, 1, "running")
    assert (mine.status, mine.attempt, mine.attempts_log) == (stored.status, stored.attempt,
                                                              stored.attempts_log)
    assert _events(execution_id) == [(1, "t")]
    assert runner.ex.last_seq == 1 and runner.events.pending == []


def test_a_claim_that_lost_writes_nothing_and_leaves_the_run_as_it_was(
        sent: list[str], api: ApiClient) -> None:
    execution_id = _pipeline(api)
    runner = _runner(execution_id)
    # Another runner got there first: the row is no longer in the attempt this one read.
    NodeRun.objects.filter(execution_id=execution_id, node_id="t").update(attempt=7)
    before = {name: getattr(runner.runs["t"], name)
              for name in ("status", "phase", "attempt", "attempts_log", "started_at")}
    assert _claim(runner, "t") is False
    assert {name: getattr(runner.runs["t"], name) for name in before} == before
    assert _events(execution_id) == []
    assert Execution.objects.get(pk=execution_id).last_seq == 0
    assert runner.events.pending == [] and runner._stop_with is None
    stored = NodeRun.objects.get(execution_id=execution_id, node_id="t")
    assert (stored.status, stored.attempt) == (NodeStatus.PENDING, 7)


def test_a_step_that_changes_two_nodes_is_one_transaction_and_sends_nothing_first(
        sent: list[str], api: ApiClient) -> None:
    execution_id = _pipeline(api)
    runner = _runner(execution_id)
    first, second = runner.runs["t"], runner.runs["u"]
    prepared = NodeInput.from_stored(runner.ex, first, runner.graph, runner.keys)

    def both() -> bool:
        runner.claim(first, prepared, NodePhase.RUNNING)
        return runner.skip(second, "for the test")

    with CaptureQueriesContext(connection) as queries:
        assert runner.guarded(first, "two nodes", both)
    statements = [query["sql"] for query in queries.captured_queries]
    assert not [sql for sql in statements if sql.startswith("WITH node AS")], statements
    assert statements[-1] == "COMMIT", statements
    # Each transition once: the first try was stopped before it sent anything.
    updates = [sql for sql in statements if sql.startswith('UPDATE "executions_noderun"')]
    assert len(updates) == 2, statements
    assert (first.status, first.attempt, second.status) == (NodeStatus.RUNNING, 1,
                                                            NodeStatus.SKIPPED)
    assert sorted(node_id for _, node_id in _events(execution_id)) == ["t", "u"]


def test_a_step_that_sends_a_statement_of_its_own_is_stopped_before_it_is_sent(
        sent: list[str], api: ApiClient) -> None:
    execution_id = _pipeline(api)
    with pytest.raises(fused.Unfusable), fused.collect(fused.Collector()):
        NodeRun.objects.filter(execution_id=execution_id).update(attempt=9)
    assert set(NodeRun.objects.filter(execution_id=execution_id)
               .values_list("attempt", flat=True)) == {0}
    assert fused.collecting() is None


def test_the_statement_refused_fails_the_node_as_any_failed_recording_does(
        sent: list[str], api: ApiClient, monkeypatch: pytest.MonkeyPatch) -> None:
    execution_id = _pipeline(api)
    runner = _runner(execution_id)
    real = fused.Collector.transition

    def unstorable(self: fused.Collector, run: NodeRun, fields: dict[str, Any]) -> bool:
        return real(self, run, {**fields, "attempts_log": [{"note": "\u0000"}]})

    # jsonb refuses a NUL: the one statement fails whole, and the node's failure is recorded
    # (in a transaction of its own, as when any recording fails).
    monkeypatch.setattr(fused.Collector, "transition", unstorable)
    assert _claim(runner, "t") is True
    stored = NodeRun.objects.get(execution_id=execution_id, node_id="t")
    assert stored.status == NodeStatus.FAILED
    assert stored.error.startswith("Could not record the start"), stored.error
    # The claim's event went nowhere: t's one event is its failure (its run then stopped).
    assert [node_id for _, node_id in _events(execution_id)] == ["t", "u", "o"]
    assert ExecutionEvent.objects.filter(
        execution_id=execution_id, payload__nodeId="t").get().payload["status"] == "FAILED"
    assert runner.runs["t"].status == NodeStatus.FAILED


def _hang(api: ApiClient) -> str:
    return execute(api, create_workflow(api, [node("g", "generate:flux_2",
                                                   prompt="a fox [sim hang]")], []))


def test_a_delivery_that_came_before_the_submission_was_recorded_is_kept(
        sent: list[str], sim_site: str, api: ApiClient, monkeypatch: pytest.MonkeyPatch) -> None:
    # A fast provider's completion webhook can arrive between its answer to the submit and
    # the record of that answer: the record keeps it, and the node is due at once.
    execution_id = _hang(api)
    real = Runner._submitted
    recorded: list[tuple[NodeRun, NodeRun]] = []

    def delivered_first(self: Runner, run: NodeRun, job: Any, deliveries: Any) -> bool:
        provider_hook_received(run.pk, run.attempt, {"request_id": job.request_id,
                                                     "status": "OK"})
        won = real(self, run, job, deliveries)
        recorded.append((copy.copy(run), NodeRun.objects.get(pk=run.pk)))
        return won

    monkeypatch.setattr(Runner, "_submitted", delivered_first)
    before = timezone.now()
    advance(execution_id)
    [(mine, stored)] = recorded
    assert stored.phase == NodePhase.SUBMITTED and stored.request_id
    assert stored.remote["delivered"]["request_id"] == stored.request_id
    assert stored.remote["webhook"] is True and stored.remote["status"].endswith("/status")
    assert stored.next_check_at is not None
    assert stored.next_check_at <= before + timedelta(seconds=5)
    # What the runner goes on with is what was written.
    assert (mine.remote, mine.next_check_at) == (stored.remote, stored.next_check_at)


def test_a_submission_without_a_delivery_waits_for_its_webhook(
        sent: list[str], sim_site: str, api: ApiClient) -> None:
    execution_id = _hang(api)
    before = timezone.now()
    advance(execution_id)
    run = NodeRun.objects.get(execution_id=execution_id)
    assert run.phase == NodePhase.SUBMITTED and "delivered" not in run.remote
    assert run.next_check_at is not None and run.next_check_at > before + timedelta(seconds=5)
    assert [node_id for _, node_id in _events(execution_id)] == ["g", "g"]


# --- a submission's record that ends its pass lets go of the lease (Runner._last_write_of_pass)


def _after_the_providers_answer(monkeypatch: pytest.MonkeyPatch,
                                then: Any) -> None:
    """`then(outcomes)` once the provider has answered a pass's calls, before their record."""
    real = Heartbeat.run

    def answered(self: Heartbeat, work: Any, timeout: float | None) -> Any:
        outcomes = real(self, work, timeout)
        if isinstance(outcomes, list):
            then(outcomes)
        return outcomes

    monkeypatch.setattr(Heartbeat, "run", answered)


def _counting(monkeypatch: pytest.MonkeyPatch, name: str) -> list[int]:
    """How many times Runner.`name` is called."""
    real = getattr(Runner, name)
    calls: list[int] = []

    def counted(self: Runner, *args: Any) -> Any:
        calls.append(1)
        return real(self, *args)

    monkeypatch.setattr(Runner, name, counted)
    return calls


def test_a_submission_that_ends_its_pass_lets_go_of_the_lease_in_its_record(
        sent: list[str], sim_site: str, api: ApiClient) -> None:
    execution_id = _hang(api)
    with CaptureQueriesContext(connection) as queries:
        advance(execution_id)
    statements = [query["sql"] for query in queries.captured_queries]
    [record] = [sql for sql in statements
                if sql.startswith("WITH node AS") and "\"phase\" = 'submitted'" in sql]
    assert '"lease_owner" = CASE' in record, record
    # The lease was taken once and let go by the record: no statement of its own for that.
    leases = [sql for sql in statements if 'UPDATE "executions_execution" SET "lease_owner"' in sql]
    assert len(leases) == 1, leases
    assert 'UPDATE "executions_execution" SET "lease_owner" = \'\',' not in leases[0], leases
    execution, run = Execution.objects.get(pk=execution_id), NodeRun.objects.get(
        execution_id=execution_id)
    assert run.phase == NodePhase.SUBMITTED and run.request_id
    assert (execution.lease_owner, execution.lease_expires_at) == ("", None)
    assert execution.wake_at == run.next_check_at and not execution.wake_requested


def test_a_wake_up_during_the_submission_keeps_the_lease_for_one_more_pass(
        sent: list[str], sim_site: str, api: ApiClient, monkeypatch: pytest.MonkeyPatch) -> None:
    execution_id = _hang(api)
    marks: list[bool] = []
    _after_the_providers_answer(monkeypatch,
                                lambda _: marks.append(state.request_wake(execution_id)))
    passes = _counting(monkeypatch, "run")
    advance(execution_id)
    # The mark was left for this pass, which saw it when its record would have let go, kept
    # the lease, and ran one more pass (whose own record let go: nothing was waiting then).
    assert marks and marks[0] is True
    assert len(passes) == 2
    execution = Execution.objects.get(pk=execution_id)
    assert (execution.lease_owner, execution.wake_requested) == ("", False)
    assert execution.wake_at is not None


def test_a_result_delivered_during_the_submission_keeps_the_pass_going(
        sent: list[str], sim_site: str, api: ApiClient, monkeypatch: pytest.MonkeyPatch) -> None:
    execution_id = _hang(api)

    def deliver(outcomes: list[Any]) -> None:
        for done in outcomes:
            if done.kind == "submitted" and not done.failed:
                provider_hook_received(done.run.pk, done.run.attempt,
                                       {"request_id": done.value.request_id, "status": "OK"})
        # Only the delivery counts here: the wake-up it left is cleared.
        Execution.objects.filter(pk=execution_id).update(wake_requested=False)

    _after_the_providers_answer(monkeypatch, deliver)
    rounds = _counting(monkeypatch, "remote_round")
    advance(execution_id)
    run = NodeRun.objects.get(execution_id=execution_id)
    assert run.remote["delivered"]["request_id"] == run.request_id
    # The record kept the delivery and with it the lease: the node was due at once, so the
    # same pass went on to look at it in a second round.
    assert len(rounds) >= 2
    assert Execution.objects.get(pk=execution_id).lease_owner == ""

"""Claim, then act: a node is claimed (committed) before it runs, no transaction is held across
its network calls, the lease is kept alive while a runner works, and a runner that dies between
the claim and the record makes nobody repeat the node's side effects or pay for it twice."""

from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from executions.engine import state
from executions.engine.runner import LOST_INLINE, advance
from executions.executors import EXECUTORS
from executions.executors.fal import FalModelExecutor
from executions.executors.runtime import Inline
from executions.models import Execution, ExecutionStatus, NodeRun
from executions.simulators.state import simulator_stats
from tests.conftest import ApiClient
from tests.harness import wait_until

from .helpers import RUN_TIMEOUT, create_workflow, edge, execute, node, wait_for
from .inprocess import HOLD, DriverThread, Receiver, drive

pytestmark = pytest.mark.django_db(transaction=True)
LEASE_SECONDS = 1.0


@pytest.fixture
def short_lease(settings: Any) -> float:
    settings.ENGINE_LEASE_SECONDS = LEASE_SECONDS
    return LEASE_SECONDS


def model_then_webhook(url: str, **hook: Any) -> tuple[list[dict[str, Any]], list[Any]]:
    """A model, then a webhook delivery on its own (the engine reaches it in a later pass)."""
    nodes = [node("gen", "generate:flux_2", prompt="a fox", image_size="square"),
             node("hook", "output:webhook", "Notify", url=url, **hook)]
    return nodes, [edge("gen", "image", "hook", "value")]


def run_of(execution_id: str, node_id: str) -> NodeRun:
    return NodeRun.objects.get(execution_id=execution_id, node_id=node_id)


def lease_of(execution_id: str) -> tuple[str, Any]:
    return tuple(Execution.objects.values_list("lease_owner", "lease_expires_at")  # type: ignore[return-value]
                 .get(pk=execution_id))


def join(*runners: DriverThread) -> None:
    for runner in runners:
        runner.join(RUN_TIMEOUT)
        assert not runner.is_alive(), "a runner never stopped"
        if runner.error:
            raise runner.error


def test_a_slow_node_keeps_the_lease_alive_and_nobody_can_take_it(
        sim_site: str, sent: list[str], api: ApiClient, receiver: Receiver,
        short_lease: float) -> None:
    receiver.plan = [HOLD]
    execution_id = execute(api, create_workflow(api, *model_then_webhook(receiver.url)))
    runner = DriverThread(execution_id)
    runner.start()
    wait_until(receiver.arrived.is_set, RUN_TIMEOUT, "the webhook was never delivered")
    owner, first_expiry = lease_of(execution_id)
    # Held for several lease periods: the runner renews its lease meanwhile.
    renewed = first_expiry + timedelta(seconds=3 * short_lease)
    wait_until(lambda: lease_of(execution_id)[1] > renewed, RUN_TIMEOUT,
               "the lease was not renewed while the node worked")
    assert lease_of(execution_id)[0] == owner
    assert not state.acquire_lease(execution_id, "intruder")
    receiver.release()
    join(runner)
    assert Execution.objects.get(pk=execution_id).status == ExecutionStatus.COMPLETED
    assert receiver.deliveries == 1


def test_two_runners_racing_deliver_a_slow_webhook_once(
        sim_site: str, sent: list[str], api: ApiClient, receiver: Receiver,
        short_lease: float) -> None:
    receiver.plan = [HOLD]
    execution_id = execute(api, create_workflow(api, *model_then_webhook(receiver.url)))
    runners = DriverThread(execution_id), DriverThread(execution_id)
    for runner in runners:
        runner.start()
    wait_until(receiver.arrived.is_set, RUN_TIMEOUT, "the webhook was never delivered")
    # The runner holding the webhook stalls past its lease (as a paused process would): the
    # other one takes the execution over, and must leave the claimed node alone.
    holder, _ = lease_of(execution_id)

    def taken_over() -> bool:
        Execution.objects.filter(pk=execution_id, lease_owner=holder).update(
            lease_expires_at=timezone.now())
        return lease_of(execution_id)[0] not in (holder, "")

    wait_until(taken_over, RUN_TIMEOUT, "the other runner never took the expired lease")
    receiver.release()
    join(*runners)
    execution = Execution.objects.get(pk=execution_id)
    assert execution.status == ExecutionStatus.COMPLETED, execution.error
    assert receiver.deliveries == 1
    hook = run_of(execution_id, "hook")
    assert hook.status == "COMPLETED" and hook.attempt == 1


def test_a_worker_killed_inside_an_inline_node_does_not_repeat_it(
        sim_site: str, api: ApiClient, receiver: Receiver, worker_factory: Any,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WIREFLOW_SSRF_ALLOW_HOSTS", "127.0.0.1")  # for the worker processes
    receiver.plan = [HOLD]
    doomed = worker_factory("doomed")
    nodes, edges = model_then_webhook(receiver.url, timeoutSeconds=5)
    execution_id = execute(api, create_workflow(api, nodes, edges))
    wait_until(receiver.arrived.is_set, RUN_TIMEOUT, "the webhook was never delivered")
    doomed.kill()  # between the claim and the record
    worker_factory("rescuer")
    poll = wait_for(api, execution_id)
    receiver.release()
    assert poll["status"] == "FAILED"
    hook = run_of(execution_id, "hook")
    assert hook.status == "FAILED"
    assert hook.error == "Timed out after 5 s (the worker running it was lost)"
    assert receiver.deliveries == 1  # a delivery that may have happened is not repeated
    assert run_of(execution_id, "gen").status == "COMPLETED"


class Died(BaseException):
    """The process running the engine died here (nothing catches it)."""


def die_after_submitting(monkeypatch: pytest.MonkeyPatch) -> None:
    """The provider accepts the job, and the runner dies before it records the answer."""
    submit = FalModelExecutor.submit

    async def submit_then_die(self: FalModelExecutor, ctx: Any) -> Any:
        await submit(self, ctx)
        raise Died

    monkeypatch.setattr(FalModelExecutor, "submit", submit_then_die)


def test_a_job_lost_while_submitting_is_not_submitted_again_and_its_webhook_completes_it(
        sim_site: str, sent: list[str], api: ApiClient,
        monkeypatch: pytest.MonkeyPatch) -> None:
    nodes = [node("gen", "generate:flux_2", prompt="a fox", image_size="square")]
    execution_id = execute(api, create_workflow(api, nodes, []))
    die_after_submitting(monkeypatch)
    with pytest.raises(Died):
        advance(execution_id)
    lost = run_of(execution_id, "gen")
    assert (lost.status, lost.phase, lost.request_id) == ("RUNNING", "submitting", "")
    monkeypatch.undo()
    monkeypatch.setattr("executions.dispatch._send", lambda *args: None)
    # The provider still calls back for that attempt; the result is kept, nothing resubmitted.
    execution = drive(execution_id)
    assert execution.status == ExecutionStatus.COMPLETED, execution.error
    gen = run_of(execution_id, "gen")
    assert gen.attempt == 1 and gen.request_id and gen.credits == 3
    assert simulator_stats()["submissions"] == 1


def test_a_job_lost_while_submitting_that_never_reports_back_fails_without_resubmitting(
        sim_site: str, sent: list[str], api: ApiClient,
        monkeypatch: pytest.MonkeyPatch) -> None:
    nodes = [node("gen", "generate:flux_2", prompt="a fox [sim hang]", image_size="square",
                  timeoutSeconds=2)]
    execution_id = execute(api, create_workflow(api, nodes, []))
    die_after_submitting(monkeypatch)
    with pytest.raises(Died):
        advance(execution_id)
    monkeypatch.undo()
    monkeypatch.setattr("executions.dispatch._send", lambda *args: None)
    execution = drive(execution_id)
    assert execution.status == ExecutionStatus.FAILED
    gen = run_of(execution_id, "gen")
    assert "was not submitted again, so as not to pay twice" in gen.error
    assert simulator_stats()["submissions"] == 1


@pytest.mark.parametrize("pure", [True, False])
def test_an_inline_node_without_side_effects_whose_runner_died_mid_call_is_run_again(
        sent: list[str], api: ApiClient, monkeypatch: pytest.MonkeyPatch, pure: bool) -> None:
    """A runner dies (a crash, the database restarting) while running a node. A node without
    side effects is not left to time out: the next pass runs it again. A pure one (recorded
    only once it has run) was never claimed, so it simply runs; any other was claimed, so its
    lost attempt is closed and a new one made."""
    concat = EXECUTORS["utility:prompt_concat"]
    assert isinstance(concat, Inline)
    monkeypatch.setitem(EXECUTORS, "utility:prompt_concat", replace(concat, pure=pure))
    run_fn = Inline.run
    calls: list[str] = []

    def die_the_first_time(self: Inline, ctx: Any) -> Any:
        calls.append(ctx.node_id)
        if ctx.node_id == "join" and calls.count("join") == 1:
            raise Died
        return run_fn(self, ctx)

    monkeypatch.setattr(Inline, "run", die_the_first_time)
    nodes = [node("t", "input:text", text="hello"),
             node("join", "utility:prompt_concat", timeoutSeconds=300),
             node("out", "output:result")]
    edges = [edge("t", "text", "join", "texts"), edge("join", "text", "out", "value")]
    execution_id = execute(api, create_workflow(api, nodes, edges))
    with pytest.raises(Died):
        advance(execution_id)
    assert run_of(execution_id, "join").status == ("PENDING" if pure else "RUNNING")
    execution = drive(execution_id)
    assert execution.status == "COMPLETED"
    join = run_of(execution_id, "join")
    assert calls.count("join") == 2
    if pure:
        assert join.attempt == 1 and join.attempts_log[0]["error"] is None
    else:
        assert join.attempt == 2 and join.attempts_log[0]["error"] == LOST_INLINE

"""Every execution reaches a terminal state: an exception while running or recording a node ends
in a recorded failure with the credit reservation given back, never in an execution left
RUNNING; and the sweeper finds every running execution that nobody is advancing."""

import json
import pkgutil
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.db import DataError
from django.db.models import Sum
from django.test import Client
from django.utils import timezone

from accounts.credits import credit_balance, reservation_outstanding
from accounts.models import CreditEntry, Team
from executions.models import Execution, ExecutionStatus, NodeRun
from executions.services import sweep_stalled
from tests.conftest import ApiClient

from .helpers import create_workflow, edge, execute, node
from .inprocess import drive

pytestmark = pytest.mark.django_db(transaction=True)


def runs_of(execution_id: str) -> dict[str, NodeRun]:
    return {run.node_id: run for run in NodeRun.objects.filter(execution_id=execution_id)}


def assert_ended_cleanly(execution: Execution, team: Team) -> None:
    """Terminal, every node terminal, no lease, nothing left reserved, ledger = balance."""
    assert execution.status != ExecutionStatus.RUNNING
    assert {run.status for run in runs_of(str(execution.pk)).values()} <= {
        "COMPLETED", "FAILED", "SKIPPED", "CANCELLED"}
    assert execution.lease_owner == ""
    assert reservation_outstanding(execution.pk) == 0
    ledger = CreditEntry.objects.filter(team=team).aggregate(s=Sum("amount"))["s"]
    assert credit_balance(team.pk) == ledger


# --- A value the database refuses (the reproduction, through the public webhook) ----

def test_a_nul_extracted_from_a_webhook_body_fails_its_node_and_the_execution(
        sent: list[str], api: ApiClient, team: Team) -> None:
    nodes = [node("payload", "input:text", "payload"), node("x", "utility:json_extract", "Pick"),
             node("out", "output:result")]
    edges = [edge("payload", "text", "x", "json"), edge("x", "value", "out", "value")]
    workflow_id = create_workflow(api, nodes, edges)
    workflow = api.get(f"/workflows/{workflow_id}").json()
    enabled = api.put(f"/workflows/{workflow_id}", {"name": workflow["name"], "nodes": nodes,
                                                   "edges": edges, "webhookEnabled": True})
    hook = f"/api/v1/workflow/{enabled.json()['webhookId']}/trigger"
    answer = Client().post(hook, data=json.dumps({"payload": '"\\u0000"'}),
                           content_type="application/json")
    assert answer.status_code == 202, answer.content
    execution = drive(answer.json()["executionId"])
    assert execution.status == ExecutionStatus.FAILED
    runs = runs_of(str(execution.pk))
    assert runs["x"].status == "FAILED" and "NUL character" in runs["x"].error
    assert runs["out"].status == "CANCELLED"
    assert "Pick" in execution.error
    assert_ended_cleanly(execution, team)


@pytest.mark.parametrize("value", ['"\\u0000"', '"\\ud800"', '{"a": "\\u0000"}',
                                   '[' * 100 + ']' * 100],
                         ids=["nul", "lone-surrogate", "nested-nul", "too-deep"])
def test_any_unstorable_output_fails_its_node_with_a_clear_error(
        sent: list[str], api: ApiClient, team: Team, value: str) -> None:
    nodes = [node("t", "input:text", "T", text=value), node("x", "utility:json_extract"),
             node("out", "output:result")]
    edges = [edge("t", "text", "x", "json"), edge("x", "value", "out", "value")]
    execution = drive(execute(api, create_workflow(api, nodes, edges)))
    assert execution.status == ExecutionStatus.FAILED
    assert "cannot be stored" in runs_of(str(execution.pk))["x"].error
    assert_ended_cleanly(execution, team)


# --- A fault injected at each recording step ------------------------------------------------

class Fault(Exception):
    """What the injected step raises."""


def fail(monkeypatch: pytest.MonkeyPatch, target: str, *, times: int = 1,
         when: Callable[..., bool] = lambda *a, **k: True,
         error: type[Exception] = Fault) -> list[int]:
    """Make `target` ("module:attribute" or "module:Class.attribute") raise `error` on its
    first `times` calls that match `when`; returns the list of faults raised so far."""
    module, _, path = target.partition(":")
    holder, _, name = path.rpartition(".")
    owner: Any = pkgutil.resolve_name(f"{module}:{holder}" if holder else module)
    original = getattr(owner, name)
    raised: list[int] = []

    def faulty(*args: Any, **kwargs: Any) -> Any:
        if len(raised) < times and when(*args, **kwargs):
            raised.append(1)
            raise error(f"injected into {target}")
        return original(*args, **kwargs)

    monkeypatch.setattr(owner, name, faulty)
    return raised


def _completing(run: Any, **fields: Any) -> bool:
    return fields.get("status") == "COMPLETED"


def _claiming(run: Any, **fields: Any) -> bool:
    return fields.get("status") == "RUNNING"


def _submitted(run: Any, **fields: Any) -> bool:
    return fields.get("phase") == "submitted"


def _the_model(team_id: int, execution_id: Any, costs: list[tuple[str, Any]],
               **_: Any) -> bool:
    return any(node_id == "gen" for node_id, _ in costs)


STATE = "executions.engine.state:node_transition"
STEPS: dict[str, dict[str, Any]] = {
    "claiming a node": dict(target=STATE, when=_claiming),
    "recording a result": dict(target=STATE, when=_completing),
    "recording a result the database refuses": dict(target=STATE, when=_completing,
                                                     error=DataError),
    "charging the node": dict(target="executions.engine.recorder:credits_charge_nodes",
                              when=_the_model),
    # The first flush is the input node's, recorded with the pure nodes (runner._commit_pure);
    # when that fails they are recorded one by one, and the second fault meets that.
    "numbering its events": dict(target="executions.events:EventBuffer.flush", times=2),
    "recording the provider's answer": dict(target=STATE, when=_submitted),
    # A step that changes one node goes to PostgreSQL as one statement (engine/fused.py).
    "writing a node's step in one statement": dict(
        target="executions.engine.fused:Collector.write", error=DataError),
    # The end is first written with the last node; when that fails, the node is recorded on
    # its own and the end tried again after it (see the test below): the second fault meets
    # that try.
    "releasing the reservation": dict(
        target="executions.engine.recorder:credits_release_execution", times=2),
    "ending the execution": dict(target="executions.engine.state:execution_transition",
                                 times=2),
    "ending the execution, every time": dict(
        target="executions.engine.state:execution_transition", times=1000),
    "building the runner": dict(target="executions.engine.graphview:GraphView.build"),
}


def _pipeline() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    nodes = [node("p", "input:text", text="a fox"), node("gen", "generate:flux_2"),
             node("out", "output:result")]
    return nodes, [edge("p", "text", "gen", "prompt"), edge("gen", "image", "out", "value")]


@pytest.mark.parametrize("step", list(STEPS))
def test_a_fault_at_any_recording_step_ends_the_execution_and_releases_its_credits(
        sim_site: str, sent: list[str], api: ApiClient, team: Team,
        monkeypatch: pytest.MonkeyPatch, step: str) -> None:
    execution_id = execute(api, create_workflow(api, *_pipeline()))
    assert reservation_outstanding(execution_id) == 3
    raised = fail(monkeypatch, **STEPS[step])
    execution = drive(execution_id)
    assert raised, f"the fault at {step} was never met"
    assert execution.status == ExecutionStatus.FAILED, execution.error
    assert execution.error
    assert_ended_cleanly(execution, team)


GRAPHS_ENDING_WITH_THEIR_LAST_NODE = {
    # Its result, its charge and the end in one recording transaction (Recorder._settle).
    "a model": ([node("gen", "generate:flux_2", prompt="a fox")], []),
    # Pure nodes, recorded together with the end (Runner._commit_pure).
    "pure nodes": ([node("p", "input:text", text="a fox"), node("gen", "utility:prompt_concat"),
                    node("out", "output:result")],
                   [edge("p", "text", "gen", "texts"), edge("gen", "text", "out", "value")]),
}


@pytest.mark.parametrize("graph", list(GRAPHS_ENDING_WITH_THEIR_LAST_NODE))
@pytest.mark.parametrize(("times", "ends"), [(1, ExecutionStatus.COMPLETED),
                                             (1000, ExecutionStatus.FAILED)],
                         ids=["once", "every time"])
def test_an_end_that_cannot_be_written_with_the_last_result_never_costs_the_result(
        sim_site: str, sent: list[str], api: ApiClient, team: Team,
        monkeypatch: pytest.MonkeyPatch, times: int, ends: str, graph: str) -> None:
    # The last results and the end of the execution are written in one transaction. If the
    # end fails there, the results are recorded on their own and the end is written after
    # them (or, failing every time, the execution is failed): the nodes keep their results
    # and the model its charge either way.
    nodes, edges = GRAPHS_ENDING_WITH_THEIR_LAST_NODE[graph]
    execution_id = execute(api, create_workflow(api, nodes, edges))
    raised = fail(monkeypatch, "executions.engine.state:execution_transition", times=times)
    execution = drive(execution_id)
    assert raised
    assert execution.status == ends, execution.error
    runs = runs_of(execution_id)
    assert {run.status for run in runs.values()} == {"COMPLETED"}, runs
    assert runs["gen"].ports, runs["gen"]
    charged = 1 if runs["gen"].node_type == "generate:flux_2" else 0
    assert runs["gen"].credits == 3 * charged
    assert CreditEntry.objects.filter(execution_id=execution_id,
                                      kind="charge").count() == charged
    if ends == ExecutionStatus.COMPLETED and "out" in runs:
        assert execution.final_output["out"]["value"] == "a fox", execution.final_output
    assert_ended_cleanly(execution, team)


# --- The sweeper ---------------------------------------------------------------------------

def _running(api: ApiClient, **state: Any) -> str:
    nodes = [node("p", "input:text", text="x"), node("out", "output:result")]
    execution_id = execute(api, create_workflow(api, nodes, [edge("p", "text", "out", "value")]))
    Execution.objects.filter(pk=execution_id).update(**state)
    return execution_id


def test_the_sweeper_finds_every_running_execution_nobody_advances(
        sent: list[str], api: ApiClient) -> None:
    now = timezone.now()
    long_ago, later = now - timedelta(minutes=5), now + timedelta(minutes=30)
    no_wake_up = _running(api, wake_at=None)
    overdue = _running(api, wake_at=long_ago)
    dead_worker = _running(api, lease_owner="dead", lease_expires_at=long_ago, wake_at=later)
    dead_worker_no_wake_up = _running(api, lease_owner="dead", lease_expires_at=long_ago,
                                      wake_at=None)
    waiting = _running(api, wake_at=later)
    working = _running(api, lease_owner="alive", lease_expires_at=later, wake_at=None)
    sent.clear()
    assert sweep_stalled() == 4
    assert sorted(sent) == sorted([no_wake_up, overdue, dead_worker, dead_worker_no_wake_up])
    assert waiting not in sent and working not in sent
    # Each is pushed ahead and let go: the next sweep does not send it again.
    assert Execution.objects.get(pk=dead_worker).lease_owner == ""
    sent.clear()
    assert sweep_stalled() == 0


def test_an_execution_whose_advance_crashed_is_swept_and_ended(
        sent: list[str], api: ApiClient, team: Team, monkeypatch: pytest.MonkeyPatch) -> None:
    execution_id = _running(api)
    # Every way of ending it fails while this advance runs: it is left RUNNING, lease free.
    for target in ("executions.engine.state:execution_transition",
                   "executions.engine.state:execution_force_fail"):
        fail(monkeypatch, target, times=1000)
    with pytest.raises(Fault):
        from executions.engine.runner import advance

        advance(execution_id)
    assert Execution.objects.get(pk=execution_id).status == ExecutionStatus.RUNNING
    monkeypatch.undo()
    monkeypatch.setattr("executions.dispatch._send",
                        lambda execution_id, delay: sent.append(execution_id))
    sent.clear()
    assert sweep_stalled() == 1 and sent == [execution_id]
    execution = drive(execution_id)
    assert execution.status == ExecutionStatus.COMPLETED
    assert_ended_cleanly(execution, team)

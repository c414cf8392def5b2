"""What one engine pass over a remote node costs, and when it goes round again: a round that
only submitted jobs makes nothing else ready, so the pass ends there (engine/runner.Runner.run);
a round in which a node ended may have made others ready, so the pass goes on."""

import re
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.credits import credits_charge_nodes, reservation_outstanding
from accounts.models import CreditEntry, CreditKind
from executions.engine import recorder
from executions.engine.runner import Runner, advance
from executions.models import (
    Execution,
    ExecutionEvent,
    ExecutionStatus,
    NodePhase,
    NodeRun,
    NodeStatus,
)
from tests.conftest import ApiClient
from tests.harness import wait_until

from .helpers import create_workflow, edge, execute, node

pytestmark = pytest.mark.django_db(transaction=True)


TAKING_THE_LEASE = ('UPDATE "executions_execution" SET "lease_owner"',
                    'WITH lease AS (UPDATE "executions_execution" SET "lease_owner"')


def reads_node_runs(sql: str) -> bool:
    """A read of whole node-run rows (the ORM's, wireflow_site.rows's, or with the lease on
    PostgreSQL), not of a few columns (the locked read of a round's deliveries)."""
    if sql.startswith(TAKING_THE_LEASE[1]):
        return 'r."execution_id", ' in sql
    return re.match(r'SELECT ("executions_noderun"\.)?"id", ("executions_noderun"\.)?'
                    r'"execution_id", ', sql) is not None


def test_a_pass_that_only_submits_a_job_reads_its_nodes_once_and_ends(
        sent: list[str], sim_site: str, api: ApiClient) -> None:
    workflow = create_workflow(api, [node("g", "generate:flux_2", prompt="a fox [sim hang]")], [])
    execution_id = execute(api, workflow)
    with CaptureQueriesContext(connection) as queries:
        advance(execution_id)
    statements = [query["sql"] for query in queries.captured_queries]
    run = NodeRun.objects.get(execution_id=execution_id)
    assert run.phase == NodePhase.SUBMITTED and run.request_id
    assert sum(reads_node_runs(sql) for sql in statements) == 1, statements
    assert statements[0].startswith(TAKING_THE_LEASE[1]) and reads_node_runs(statements[0]), \
        statements  # they came with the lease
    # The claim and the submission's record: one statement each (engine/fused.py), each with
    # its event, and no transaction around them.
    fused = [sql for sql in statements
             if sql.startswith('WITH node AS (UPDATE "executions_noderun"')]
    assert len(fused) == 2 and all("INSERT INTO" in sql for sql in fused), statements
    assert not [sql for sql in statements if sql.startswith(("BEGIN", "COMMIT", "SAVEPOINT"))
                or "executions_executionevent" in sql and sql not in fused], statements
    # The team has no fal key of its own: the lease read that with the execution, so the
    # platform's key is used without a read of the team's keys.
    assert not [sql for sql in statements
                if sql.startswith("SELECT") and '"accounts_providerkey"' in sql], statements
    assert run.remote.get("teamKey") is False, run.remote
    # The lease with the node runs, the claim, and the record (which lets go of the lease).
    assert len(statements) <= 3, statements
    execution = Execution.objects.get(pk=execution_id)
    assert execution.lease_owner == "" and execution.wake_at == run.next_check_at


@pytest.mark.parametrize("own_key", ["fal", "openai"])
def test_a_pass_reads_the_teams_key_only_for_a_provider_it_has_one_for(
        sent: list[str], sim_site: str, api: ApiClient, own_key: str) -> None:
    """The providers the team has keys for come with the lease; a job of one of them is
    submitted on the team's key (read once), any other on the platform's, unread."""
    response = api.put(f"/providers/{own_key}", {"apiKey": f"{own_key}-team-key-1234"})
    assert response.status_code == 200, response.content
    workflow = create_workflow(api, [node("g", "generate:flux_2", prompt="a fox [sim hang]")], [])
    execution_id = execute(api, workflow)
    with CaptureQueriesContext(connection) as queries:
        advance(execution_id)
    reads = [query["sql"] for query in queries.captured_queries
             if query["sql"].startswith("SELECT") and '"accounts_providerkey"' in query["sql"]]
    run = NodeRun.objects.get(execution_id=execution_id)
    assert run.phase == NodePhase.SUBMITTED and run.request_id
    assert len(reads) == (1 if own_key == "fal" else 0), reads
    assert run.remote.get("teamKey") is (own_key == "fal"), run.remote


def test_a_node_that_ends_in_a_round_lets_the_same_pass_go_on(
        sent: list[str], sim_site: str, api: ApiClient) -> None:
    # The provider refuses the job for good: the node fails (and, continuing on error, does
    # not stop the run) when its submit is answered; in the same pass its dependent is
    # settled and the execution ends.
    workflow = create_workflow(api, [
        node("g", "generate:flux_2", prompt="a fox [sim fail=400]", continueOnError=True),
        node("o", "output:result")], [edge("g", "image", "o", "value")])
    execution_id = execute(api, workflow)
    advance(execution_id)
    statuses = dict(NodeRun.objects.filter(execution_id=execution_id)
                    .values_list("node_id", "status"))
    assert statuses["g"] == NodeStatus.FAILED and statuses["o"] != NodeStatus.PENDING, statuses
    assert Execution.objects.get(pk=execution_id).status != ExecutionStatus.RUNNING


def fan_out(api: ApiClient, count: int, **params: Any) -> str:
    nodes = [node(f"g{i}", "generate:flux_2", prompt=f"fox {i} [sim hang]", **params)
             for i in range(count)]
    return execute(api, create_workflow(api, nodes, []))


def test_a_fan_out_is_claimed_in_one_transaction_and_recorded_in_another(
        sent: list[str], sim_site: str, api: ApiClient) -> None:
    execution_id = fan_out(api, 5)
    with CaptureQueriesContext(connection) as queries:
        advance(execution_id)
    statements = [query["sql"] for query in queries.captured_queries]
    runs = list(NodeRun.objects.filter(execution_id=execution_id))
    assert {(run.phase, bool(run.request_id)) for run in runs} == {(NodePhase.SUBMITTED, True)}
    assert sum(sql.startswith("COMMIT") for sql in statements) == 2, statements
    assert not [sql for sql in statements if sql.startswith("SAVEPOINT")], statements
    # Each node's two transitions are events, numbered without a gap.
    events = list(ExecutionEvent.objects.filter(execution_id=execution_id).order_by("seq"))
    assert [event.seq for event in events] == list(range(1, 11))
    assert sorted(event.payload["nodeId"] for event in events) == sorted(
        [f"g{i}" for i in range(5)] * 2)


def test_a_record_that_cannot_be_written_fails_only_its_own_node(
        sent: list[str], sim_site: str, api: ApiClient, monkeypatch: pytest.MonkeyPatch) -> None:
    real = Runner._submitted

    def submitted(self: Runner, run: NodeRun, job: Any, deliveries: Any) -> bool:
        if run.node_id == "g3":
            raise ValueError("a record that cannot be written")
        return real(self, run, job, deliveries)

    monkeypatch.setattr(Runner, "_submitted", submitted)
    execution_id = fan_out(api, 5, continueOnError=True)
    advance(execution_id)
    runs = {run.node_id: run for run in NodeRun.objects.filter(execution_id=execution_id)}
    assert runs["g3"].status == NodeStatus.FAILED
    assert runs["g3"].error.startswith("Could not record the provider's answer"), runs["g3"].error
    others = [run for node_id, run in runs.items() if node_id != "g3"]
    assert {(run.status, run.phase) for run in others} == {(NodeStatus.RUNNING,
                                                            NodePhase.SUBMITTED)}
    assert Execution.objects.get(pk=execution_id).status == ExecutionStatus.RUNNING


def _free_pipeline(*extra: dict[str, Any]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    nodes = [node("t", "input:text", text="hi"), node("u", "utility:prompt_concat"),
             node("o", "output:result"), *extra]
    return nodes, [edge("t", "text", "u", "texts"), edge("u", "text", "o", "value")]


def _ledger_reads_of_the_ending_pass(api: ApiClient, nodes: list[dict[str, Any]],
                                     edges: list[dict[str, Any]]) -> list[str]:
    execution_id = execute(api, create_workflow(api, nodes, edges))
    with CaptureQueriesContext(connection) as queries:
        advance(execution_id)
    assert Execution.objects.get(pk=execution_id).status == ExecutionStatus.COMPLETED
    return [query["sql"] for query in queries.captured_queries
            if '"accounts_creditentry"' in query["sql"]]


def test_a_run_of_free_nodes_ends_without_reading_the_ledger(sent: list[str],
                                                             api: ApiClient) -> None:
    # Nothing priced, so nothing was reserved: no reservation to look up and give back.
    assert _ledger_reads_of_the_ending_pass(api, *_free_pipeline()) == []


def test_a_run_with_a_stored_node_it_does_not_run_still_reads_the_ledger_at_its_end(
        sent: list[str], api: ApiClient) -> None:
    # A sticky note (or a type the catalogue no longer has) is stored but not run: whether
    # anything was reserved is then not known from the graph, so the ledger is read.
    note = {"id": "memo", "type": "stickyNote", "position": {"x": 0, "y": 300},
            "data": {"nodeType": "note:sticky", "label": "Memo", "text": "remember"}}
    assert _ledger_reads_of_the_ending_pass(api, *_free_pipeline(note)) != []


def test_a_fan_out_pass_reads_its_team_s_provider_keys_once(
        sent: list[str], sim_site: str, api: ApiClient) -> None:
    execution_id = fan_out(api, 5)
    with CaptureQueriesContext(connection) as queries:
        advance(execution_id)
    reads = [query["sql"] for query in queries.captured_queries
             if '"accounts_providerkey"' in query["sql"]]
    assert len(reads) == 1, reads  # not one per node
    assert {run.phase for run in NodeRun.objects.filter(execution_id=execution_id)} == {
        NodePhase.SUBMITTED}


def test_the_results_one_pass_records_are_charged_in_one_ledger_write(
        sent: list[str], sim_site: str, api: ApiClient, monkeypatch: pytest.MonkeyPatch) -> None:
    nodes = [node(f"g{i}", "generate:flux_2", prompt=f"fox {i}") for i in range(5)]
    execution_id = execute(api, create_workflow(api, nodes, []))
    advance(execution_id)  # submits the five; their webhooks bring the results
    wait_until(lambda: NodeRun.objects.filter(execution_id=execution_id,
                                              remote__has_key="delivered").count() == 5, 60,
               "the five results were not delivered")
    charges: list[list[str]] = []
    real = credits_charge_nodes

    def counted(team_id: int, execution: Any, costs: list[tuple[str, Any]],
                **options: Any) -> Any:
        charges.append(sorted(node_id for node_id, _ in costs))
        return real(team_id, execution, costs, **options)

    monkeypatch.setattr(recorder, "credits_charge_nodes", counted)
    advance(execution_id)
    assert charges == [[f"g{i}" for i in range(5)]]
    assert Execution.objects.get(pk=execution_id).status == ExecutionStatus.COMPLETED
    charged = CreditEntry.objects.filter(execution_id=execution_id, kind=CreditKind.CHARGE)
    assert sorted(charged.values_list("node_id", flat=True)) == [f"g{i}" for i in range(5)]
    assert {run.credits for run in NodeRun.objects.filter(execution_id=execution_id)} == {
        float(-amount) for amount in charged.values_list("amount", flat=True)}


def _results_delivered(api: ApiClient, nodes: list[dict[str, Any]], count: int) -> str:
    """Executed and submitted; the provider's webhooks have brought `count` results."""
    execution_id = execute(api, create_workflow(api, nodes, []))
    advance(execution_id)
    wait_until(lambda: NodeRun.objects.filter(execution_id=execution_id,
                                              remote__has_key="delivered").count() == count, 60,
               "the results were not delivered")
    return execution_id


def test_the_result_of_the_last_node_and_the_end_of_its_execution_are_one_transaction(
        sent: list[str], sim_site: str, api: ApiClient) -> None:
    # A graph that ends in a model: the pass that records its result ends the execution in the
    # same transaction (its charge and the release of the rest from one read of the
    # reservation), not in another one after it.
    execution_id = _results_delivered(api, [node("g", "generate:flux_2", prompt="a fox")], 1)
    with CaptureQueriesContext(connection) as queries:
        advance(execution_id)
    statements = [query["sql"] for query in queries.captured_queries]
    execution = Execution.objects.get(pk=execution_id)
    assert execution.status == ExecutionStatus.COMPLETED, execution.error
    assert execution.credits_used == 3 and execution.lease_owner == ""
    assert set(execution.final_output) == {"g"}
    assert sum(sql.startswith("COMMIT") for sql in statements) == 1, statements
    assert sum("SUM(" in sql and '"accounts_creditentry"' in sql for sql in statements) == 1, \
        statements
    assert reservation_outstanding(execution_id) == 0
    events = list(ExecutionEvent.objects.filter(execution_id=execution_id).order_by("seq"))
    assert [event.seq for event in events] == list(range(1, len(events) + 1))
    assert [(event.type, event.payload["status"]) for event in events[-2:]] == [
        ("node", "COMPLETED"), ("execution", "COMPLETED")]


def test_the_pass_that_takes_in_a_platform_key_job_s_result_reads_no_provider_key(
        sent: list[str], sim_site: str, api: ApiClient) -> None:
    # The claim recorded that the job went to the platform's key: its result, and any check
    # or cancel of it, use that key again without reading the team's (one read fewer for
    # every job's result, whatever keys the team sets meanwhile).
    execution_id = _results_delivered(api, [node("g", "generate:flux_2", prompt="a fox")], 1)
    assert NodeRun.objects.get(execution_id=execution_id).remote["teamKey"] is False
    with CaptureQueriesContext(connection) as queries:
        advance(execution_id)
    assert Execution.objects.get(pk=execution_id).status == ExecutionStatus.COMPLETED
    # (The lease reads which providers the team has keys for, not the keys.)
    reads = [query["sql"] for query in queries.captured_queries
             if '"accounts_providerkey"' in query["sql"]
             and not query["sql"].startswith(TAKING_THE_LEASE)]
    assert reads == []


def test_the_end_with_the_last_result_gives_back_what_the_failed_nodes_did_not_use(
        sent: list[str], sim_site: str, api: ApiClient) -> None:
    nodes = [node("g", "generate:flux_2", prompt="a fox"),
             node("bad", "generate:flux_2", prompt="a fox [sim fail=400]", continueOnError=True)]
    execution_id = _results_delivered(api, nodes, 1)
    assert NodeRun.objects.get(execution_id=execution_id, node_id="bad").status == "FAILED"
    assert reservation_outstanding(execution_id) == 6
    advance(execution_id)
    execution = Execution.objects.get(pk=execution_id)
    assert execution.status == ExecutionStatus.COMPLETED and execution.credits_used == 3
    assert reservation_outstanding(execution_id) == 0
    entries = list(CreditEntry.objects.filter(execution_id=execution_id).order_by("pk")
                   .values_list("kind", "amount", "node_id"))
    three = Decimal(3)
    assert entries[1:] == [(CreditKind.RELEASE, three, "g"), (CreditKind.CHARGE, -three, "g"),
                           (CreditKind.RELEASE, three, "")]

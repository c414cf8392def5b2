"""What one engine pass over a remote node costs, and when it goes round again: a round that
only submitted jobs makes nothing else ready, so the pass ends there (engine/runner.Runner.run);
a round in which a node ended may have made others ready, so the pass goes on."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from executions.engine.runner import advance
from executions.models import Execution, ExecutionStatus, NodePhase, NodeRun, NodeStatus
from tests.conftest import ApiClient

from .helpers import create_workflow, edge, execute, node

pytestmark = pytest.mark.django_db(transaction=True)

NODE_RUNS_READ = 'SELECT "executions_noderun"."id", "executions_noderun"."execution_id"'


def test_a_pass_that_only_submits_a_job_reads_its_nodes_once_and_ends(
        sent: list[str], sim_site: str, api: ApiClient) -> None:
    workflow = create_workflow(api, [node("g", "generate:flux_2", prompt="a fox [sim hang]")], [])
    execution_id = execute(api, workflow)
    with CaptureQueriesContext(connection) as queries:
        advance(execution_id)
    statements = [query["sql"] for query in queries.captured_queries]
    run = NodeRun.objects.get(execution_id=execution_id)
    assert run.phase == NodePhase.SUBMITTED and run.request_id
    assert sum(sql.startswith(NODE_RUNS_READ) for sql in statements) == 1, statements
    # The claim and the submission's record: a transaction each, no savepoint in them.
    assert sum(sql.startswith("COMMIT") for sql in statements) == 2, statements
    assert not [sql for sql in statements if sql.startswith("SAVEPOINT")], statements
    assert len(statements) <= 15, statements
    execution = Execution.objects.get(pk=execution_id)
    assert execution.lease_owner == "" and execution.wake_at == run.next_check_at


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

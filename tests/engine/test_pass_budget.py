"""A pass has a time budget (settings.ENGINE_PASS_SECONDS) below the Celery task's soft time
limit: once it is used, the pass starts no further inline node and hands the rest of the run to
a fresh task, so a long chain of slow nodes never meets the limit. Each pass still starts at
least one node, so a run always moves on."""

from typing import Any

import pytest

from executions.models import ExecutionStatus, NodeRun
from tests.conftest import ApiClient

from .helpers import create_workflow, edge, execute, node
from .inprocess import drive

pytestmark = pytest.mark.django_db(transaction=True)
CHAIN = 4


def chain_run(api: ApiClient) -> str:
    nodes = [node("t", "input:text", text="x")]
    edges = []
    previous = "t"
    for index in range(CHAIN):
        nodes.append(node(f"c{index}", "utility:prompt_concat", separator="-"))
        edges.append(edge(previous, "text", f"c{index}", "texts"))
        previous = f"c{index}"
    nodes.append(node("out", "output:result"))
    edges.append(edge(previous, "text", "out", "value"))
    return execute(api, create_workflow(api, nodes, edges))


def test_a_spent_pass_hands_the_rest_to_a_fresh_task_one_node_at_a_time(
        sent: list[str], api: ApiClient, settings: Any) -> None:
    settings.ENGINE_PASS_SECONDS = 0
    execution = drive(chain_run(api))
    assert execution.status == ExecutionStatus.COMPLETED
    out = NodeRun.objects.get(execution=execution, node_id="out")
    assert out.output is not None
    assert out.output["value"] == "x"
    # The start, then input, 4 joins, output: six inline nodes, one per pass, each pass but
    # the last waking the next.
    assert sent.count(str(execution.pk)) == 1 + CHAIN + 1


def test_within_its_budget_one_pass_runs_the_whole_chain(sent: list[str], api: ApiClient) -> None:
    execution = drive(chain_run(api))
    assert execution.status == ExecutionStatus.COMPLETED
    assert sent.count(str(execution.pk)) == 1  # the start, and no second pass

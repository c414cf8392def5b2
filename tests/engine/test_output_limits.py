"""Every port value, node output and node input the engine stores is capped (MAX_TEXT_BYTES of
JSON; media go by URL): a node that goes over fails with a clear error, whatever node it is."""

from typing import Any

import pytest

from executions.models import ExecutionStatus, NodeRun
from tests.conftest import ApiClient

from .helpers import create_workflow, edge, execute, node
from .inprocess import drive

pytestmark = pytest.mark.django_db(transaction=True)
CAP = 2000


@pytest.fixture
def small_cap(settings: Any) -> int:
    settings.MAX_TEXT_BYTES = CAP
    return CAP


def run_graph(api: ApiClient, nodes: list[dict[str, Any]],
              edges: list[dict[str, Any]]) -> dict[str, NodeRun]:
    execution = drive(execute(api, create_workflow(api, nodes, edges)))
    runs = {run.node_id: run for run in NodeRun.objects.filter(execution=execution)}
    runs["_execution"] = execution  # type: ignore[assignment]
    return runs


def test_the_default_cap_stops_a_template_that_multiplies_its_input(sent: list[str],
                                                                    api: ApiClient) -> None:
    nodes = [node("big", "input:text", "a", text="x" * 100_000),
             node("tpl", "utility:text_template", template="{{a}}" * 11),
             node("out", "output:result")]
    edges = [edge("big", "text", "tpl", "vars"), edge("tpl", "text", "out", "value")]
    runs = run_graph(api, nodes, edges)
    assert runs["_execution"].status == ExecutionStatus.FAILED
    assert runs["tpl"].status == "FAILED"
    assert "larger than 1,000,000 bytes" in runs["tpl"].error
    assert runs["tpl"].output is None and runs["tpl"].ports is None


@pytest.mark.parametrize("graph", ["template", "split", "merge"])
def test_any_node_whose_output_goes_over_the_cap_fails(sent: list[str], api: ApiClient,
                                                       small_cap: int, graph: str) -> None:
    text = "word " * 240  # 1,200 bytes: under the cap on its own
    producers = {
        "template": node("n", "utility:text_template", template="{{t}} {{t}}"),
        "split": node("n", "utility:split_list", separator=" ", drop_empty=False),
        "merge": node("n", "logic:merge", mode="all"),
    }
    port = {"template": "vars", "split": "text", "merge": "values"}[graph]
    nodes = [node("t", "input:text", "t", text=text), producers[graph],
             node("t2", "input:text", "t2", text=text), node("out", "output:result")]
    edges = [edge("t", "text", "n", port), edge("n", _output(graph), "out", "value")]
    if graph == "merge":
        edges.append(edge("t2", "text", "n", "values"))
    runs = run_graph(api, nodes, edges)
    failed = runs["n"]
    assert failed.status == "FAILED", failed.ports
    assert f"larger than {small_cap:,} bytes" in failed.error


def _output(graph: str) -> str:
    return {"template": "text", "split": "items", "merge": "value"}[graph]


def test_a_node_whose_inputs_together_go_over_the_cap_fails_before_it_runs(
        sent: list[str], api: ApiClient, small_cap: int) -> None:
    nodes = [node("a", "input:text", text="a" * 1200),
             node("b", "input:text", text="b" * 1200),
             node("join", "utility:prompt_concat"), node("out", "output:result")]
    edges = [edge("a", "text", "join", "texts"), edge("b", "text", "join", "texts"),
             edge("join", "text", "out", "value")]
    runs = run_graph(api, nodes, edges)
    assert runs["join"].status == "FAILED"
    assert "The node's input is larger than" in runs["join"].error
    assert runs["join"].input is None
    assert runs["out"].status == "CANCELLED"


def test_values_under_the_cap_pass(sent: list[str], api: ApiClient, small_cap: int) -> None:
    nodes = [node("t", "input:text", "t", text="é" * 100),
             node("tpl", "utility:text_template", template="{{t}}!"),
             node("out", "output:result")]
    edges = [edge("t", "text", "tpl", "vars"), edge("tpl", "text", "out", "value")]
    runs = run_graph(api, nodes, edges)
    assert runs["_execution"].status == ExecutionStatus.COMPLETED
    assert runs["tpl"].ports == {"text": "é" * 100 + "!"}

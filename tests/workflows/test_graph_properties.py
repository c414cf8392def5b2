"""Property tests of workflows.graph over random DAGs of real node types. No database."""

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from workflows.graph import (
    MAX_EDGES,
    MAX_NODES,
    CycleError,
    graph_edges,
    is_sticky,
    lint,
    node_type_of,
    params_of,
    runnable_nodes,
    topological_order,
    upstream_of,
    validate,
)
from workflows.nodes import catalogue

from .graph_builders import edge, node, prompt_to_flux_to_result

# Text templates take any number of values of any type, so every DAG of them is valid.
NODE_TYPE = "utility:text_template"
FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def dags(draw: st.DrawFn, max_nodes: int = 25, max_edges: int = 60
         ) -> tuple[list[str], list[tuple[str, str]]]:
    """Node ids in a shuffled order and edges that always go from an earlier to a later node of
    a hidden ranking, so there is never a cycle."""
    count = draw(st.integers(min_value=1, max_value=max_nodes))
    ranked = [f"n{i}" for i in range(count)]
    pairs = st.tuples(st.integers(0, count - 1), st.integers(0, count - 1))
    edges = [(ranked[min(a, b)], ranked[max(a, b)])
             for a, b in draw(st.lists(pairs, max_size=max_edges)) if a != b]
    return draw(st.permutations(ranked)), edges


@st.composite
def looped_dags(draw: st.DrawFn) -> tuple[list[str], list[tuple[str, str]]]:
    """A DAG plus one edge from a node back to one of its ancestors (or itself)."""
    ids, pairs = draw(dags())
    start = draw(st.sampled_from(ids))
    ancestor = draw(st.sampled_from(sorted(upstream_of(start, pairs))))
    return ids, [*pairs, (start, ancestor)]


def graph_json(ids: list[str], pairs: list[tuple[str, str]]
               ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    nodes = [node(node_id, NODE_TYPE, {"template": "{{x}}"}) for node_id in ids]
    edges = [edge(f"e{i}", s, t, "text", "vars") for i, (s, t) in enumerate(pairs)]
    return nodes, edges


def rules(ids: list[str], pairs: list[tuple[str, str]]) -> list[str]:
    return [v.rule for v in validate(*graph_json(ids, pairs), catalogue)]


@FAST
@given(dags())
def test_a_random_dag_is_valid(dag: tuple[list[str], list[tuple[str, str]]]) -> None:
    assert rules(*dag) == []


@FAST
@given(looped_dags())
def test_an_edge_back_to_an_ancestor_is_always_a_cycle(
        looped: tuple[list[str], list[tuple[str, str]]]) -> None:
    assert rules(*looped) == ["cycle"]


@FAST
@given(dags(), st.data())
def test_deleting_edges_of_a_dag_never_makes_a_cycle(
        dag: tuple[list[str], list[tuple[str, str]]], data: st.DataObject) -> None:
    ids, pairs = dag
    kept = [pair for pair in pairs if data.draw(st.booleans())]
    assert rules(ids, kept) == []


@FAST
@given(dags())
def test_topological_order_puts_every_source_before_its_target(
        dag: tuple[list[str], list[tuple[str, str]]]) -> None:
    ids, pairs = dag
    order = topological_order(ids, pairs)
    assert sorted(order) == sorted(ids)
    position = {node_id: i for i, node_id in enumerate(order)}
    assert all(position[s] < position[t] for s, t in pairs)


@FAST
@given(dags())
def test_topological_order_without_edges_is_the_given_order(
        dag: tuple[list[str], list[tuple[str, str]]]) -> None:
    assert topological_order(dag[0], []) == dag[0]


@FAST
@given(looped_dags())
def test_topological_order_names_a_real_cycle(
        looped: tuple[list[str], list[tuple[str, str]]]) -> None:
    ids, pairs = looped
    with pytest.raises(CycleError) as caught:
        topological_order(ids, pairs)
    cycle = caught.value.cycle
    assert cycle and all((a, b) in pairs for a, b in zip(cycle, cycle[1:] + cycle[:1],
                                                         strict=True))


@settings(max_examples=10, deadline=None)
@given(st.integers(min_value=1, max_value=MAX_NODES))
def test_up_to_100_nodes_pass(count: int) -> None:
    assert rules([f"n{i}" for i in range(count)], []) == []


@settings(max_examples=10, deadline=None)
@given(st.integers(min_value=MAX_NODES + 1, max_value=MAX_NODES + 50))
def test_more_than_100_nodes_fail(count: int) -> None:
    assert rules([f"n{i}" for i in range(count)], []) == ["too_many_nodes"]


def test_exactly_500_edges_pass_and_501_fail() -> None:
    ids = [f"n{i}" for i in range(MAX_NODES)]
    pairs = [(ids[i % 99], ids[99]) for i in range(MAX_EDGES + 1)]
    assert rules(ids, pairs[:MAX_EDGES]) == []
    assert rules(ids, pairs) == ["too_many_edges"]


JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
                    lambda inner: st.lists(inner, max_size=4)
                    | st.dictionaries(st.text(max_size=6), inner, max_size=4), max_leaves=12)
KEYS = ["id", "type", "data", "position", "source", "target", "sourceHandle", "targetHandle"]
SHAPED = st.dictionaries(st.sampled_from(KEYS), JSON, max_size=6)


@settings(max_examples=150, deadline=None)
@given(st.lists(SHAPED | JSON, max_size=6), st.lists(SHAPED | JSON, max_size=6))
def test_any_json_is_reported_and_never_raises(nodes: Any, edges: Any) -> None:
    violations = validate(nodes, edges, catalogue)
    assert violations and all(v.rule and v.message for v in violations)


@settings(max_examples=150, deadline=None)
@given(st.lists(SHAPED | JSON, max_size=6), st.lists(SHAPED | JSON, max_size=6))
def test_any_json_reads_as_typed_nodes_and_edges_and_never_raises(nodes: Any, edges: Any
                                                                  ) -> None:
    for found in runnable_nodes(nodes, catalogue):
        assert found.node_type in catalogue and found.id and isinstance(found.label, str)
    for raw in nodes:
        assert node_type_of(raw) is None or isinstance(node_type_of(raw), str)
        assert params_of(raw) is None or isinstance(params_of(raw), dict)
        assert isinstance(is_sticky(raw), bool)
    for found_edge in graph_edges(edges):
        assert all(isinstance(end, str) and end
                   for end in (found_edge.id, found_edge.source, found_edge.target))


@settings(max_examples=150, deadline=None)
@given(st.sampled_from(["nodes", "edges"]), st.integers(0, 2), st.data())
def test_a_valid_graph_with_one_field_replaced_by_any_json_never_raises(
        side: str, index: int, data: st.DataObject) -> None:
    nodes, edges = prompt_to_flux_to_result()
    item = (nodes if side == "nodes" else edges)[index % (3 if side == "nodes" else 2)]
    target = item["data"] if side == "nodes" and data.draw(st.booleans()) else item
    key = data.draw(st.sampled_from(sorted(target) + ["params"]))
    target[key] = data.draw(JSON)
    violations, warnings = lint(nodes, edges, catalogue)
    assert all(v.to_dict()["rule"] for v in violations + warnings)

"""workflows.graph: every rule of docs/api.md, on the real catalogue, without a database."""

from typing import Any

import pytest

from workflows.graph import (
    CycleError,
    GraphEdge,
    GraphNode,
    PortType,
    Violation,
    compatible,
    edge_pairs,
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

from .graph_builders import edge, node, prompt_to_flux_to_result, sticky

T = PortType


def check(nodes: Any, edges: Any) -> list[dict[str, str]]:
    return [v.to_dict() for v in validate(nodes, edges, catalogue)]


def rules(nodes: Any, edges: Any) -> list[str]:
    return [v.rule for v in validate(nodes, edges, catalogue)]


def only(nodes: Any, edges: Any, rule: str) -> dict[str, str]:
    found = [v for v in check(nodes, edges) if v["rule"] == rule]
    assert len(found) == 1, check(nodes, edges)
    return found[0]


# --- Port types -------------------------------------------------------------------------------

@pytest.mark.parametrize(("source", "target", "expected"), [
    (T.TEXT, T.TEXT, True),
    (T.IMAGE, T.IMAGE, True),
    (T.NUMBER, T.TEXT, True),
    (T.TEXT, T.NUMBER, False),
    (T.IMAGE, T.TEXT, False),
    (T.VIDEO, T.IMAGE, False),
    (T.AUDIO, T.VIDEO, False),
    (T.BOOLEAN, T.TEXT, False),
    (T.JSON, T.TEXT, False),
    (T.ANY, T.IMAGE, True),
    (T.VIDEO, T.ANY, True),
    (T.ANY, T.ANY, True),
])
def test_compatible_follows_the_port_type_table(source: PortType, target: PortType,
                                                expected: bool) -> None:
    assert compatible(source, target) is expected


def test_a_violation_as_a_dict_leaves_out_the_ids_it_does_not_have() -> None:
    assert Violation("cycle", "m", "n1", "e1").to_dict() == {
        "rule": "cycle", "message": "m", "nodeId": "n1", "edgeId": "e1"}
    assert Violation("empty_graph", "m").to_dict() == {"rule": "empty_graph", "message": "m"}
    assert Violation("dangling_edge", "m", edge_id="e2").to_dict() == {
        "rule": "dangling_edge", "message": "m", "edgeId": "e2"}


# --- Valid graphs -----------------------------------------------------------------------------

def test_a_prompt_to_flux_to_result_pipeline_is_valid() -> None:
    assert check(*prompt_to_flux_to_result()) == []


def test_the_prompt_alias_handle_of_a_text_input_names_its_text_port() -> None:
    nodes, edges = prompt_to_flux_to_result()
    edges[0]["sourceHandle"] = "out-prompt"
    assert check(nodes, edges) == []


def test_a_missing_handle_means_the_only_port_on_that_side() -> None:
    nodes, edges = prompt_to_flux_to_result()
    del edges[0]["sourceHandle"], edges[0]["targetHandle"]
    edges[1]["targetHandle"] = None
    assert check(nodes, edges) == []


def test_a_number_may_feed_a_text_port() -> None:
    nodes = [node("n", "input:number", {"value": 3}), node("flux", "generate:flux_2")]
    assert check(nodes, [edge("e", "n", "flux", "value", "prompt")]) == []


def test_unknown_param_keys_are_allowed_for_the_editor_s_hints() -> None:
    nodes, edges = prompt_to_flux_to_result()
    nodes[1]["data"]["params"]["collapsed"] = True
    nodes[1]["data"]["category"] = "whatever the client says"
    assert check(nodes, edges) == []


def test_a_sticky_note_is_a_comment_not_a_node_type() -> None:
    nodes, edges = prompt_to_flux_to_result()
    nodes.append(sticky("note"))
    nodes.append({"id": "note2", "position": {"x": 1, "y": 1},
                  "data": {"nodeType": "note:sticky", "text": "hi"}})
    assert check(nodes, edges) == []


# --- One test per rule ------------------------------------------------------------------------

def test_no_nodes_is_an_empty_graph() -> None:
    assert check([], []) == [{"rule": "empty_graph", "message": "The workflow has no nodes"}]


def test_sticky_notes_alone_are_an_empty_graph() -> None:
    assert rules([sticky("a")], []) == ["empty_graph"]


def test_more_than_100_nodes_are_too_many() -> None:
    nodes = [node(f"n{i}", "input:text", {"text": "x"}) for i in range(101)]
    assert "101 nodes" in only(nodes, [], "too_many_nodes")["message"]


def test_more_than_500_edges_are_too_many() -> None:
    nodes = [node("texts", "input:text", {"text": "x"}), node("join", "utility:prompt_concat")]
    edges = [edge(f"e{i}", "texts", "join", "text", "texts") for i in range(501)]
    assert rules(nodes, edges) == ["too_many_edges"]


def test_a_node_id_used_twice_is_reported_on_that_id() -> None:
    nodes, edges = prompt_to_flux_to_result()
    nodes.append(node("flux", "generate:imagen4", {"prompt": "x"}))
    assert only(nodes, edges, "duplicate_node_id")["nodeId"] == "flux"


def test_an_edge_id_used_twice_is_reported_on_that_id() -> None:
    nodes, edges = prompt_to_flux_to_result()
    edges[1]["id"] = "e1"
    assert only(nodes, edges, "duplicate_edge_id")["edgeId"] == "e1"


def test_an_unknown_node_type_is_reported_on_its_node() -> None:
    nodes, edges = prompt_to_flux_to_result()
    nodes[1]["data"]["nodeType"] = "generate:dall_e_9"
    found = only(nodes, edges, "unknown_node_type")
    assert found["nodeId"] == "flux" and "generate:dall_e_9" in found["message"]
    assert rules(nodes, edges) == ["unknown_node_type"]  # its edges are not blamed as well


def test_a_node_without_a_node_type_is_an_unknown_node_type() -> None:
    nodes, edges = prompt_to_flux_to_result()
    del nodes[2]["data"]["nodeType"]
    assert only(nodes, edges, "unknown_node_type")["nodeId"] == "result"


def test_an_edge_to_a_missing_node_dangles() -> None:
    nodes, edges = prompt_to_flux_to_result()
    edges.append(edge("e3", "flux", "ghost", "image", "value"))
    found = only(nodes, edges, "dangling_edge")
    assert found["edgeId"] == "e3" and "ghost" in found["message"]


def test_a_handle_naming_no_port_is_an_unknown_port() -> None:
    nodes, edges = prompt_to_flux_to_result()
    edges[0]["targetHandle"] = "in-negative_prompt"
    found = only(nodes, edges, "unknown_port")
    assert (found["nodeId"], found["edgeId"]) == ("flux", "e1")
    assert "negative_prompt" in found["message"]


def test_an_output_handle_naming_no_port_is_an_unknown_port_on_the_source() -> None:
    nodes, edges = prompt_to_flux_to_result()
    edges[1]["sourceHandle"] = "out-video"
    assert (only(nodes, edges, "unknown_port")["nodeId"]) == "flux"


def test_a_missing_handle_on_a_node_with_several_ports_is_an_unknown_port() -> None:
    nodes, edges = prompt_to_flux_to_result()
    del edges[1]["sourceHandle"]  # FLUX.2 has two outputs: image and images
    assert only(nodes, edges, "unknown_port")["edgeId"] == "e2"


@pytest.mark.parametrize("handle", ["prompt", "out-prompt", 7, ["in-prompt"]])
def test_a_handle_not_of_the_in_port_form_is_an_unknown_port(handle: Any) -> None:
    nodes, edges = prompt_to_flux_to_result()
    edges[0]["targetHandle"] = handle
    assert only(nodes, edges, "unknown_port")["edgeId"] == "e1"


def test_an_image_into_a_text_port_is_a_type_mismatch() -> None:
    nodes = [node("img", "input:image", {"url": "https://example.com/a.png"}),
             node("flux", "generate:flux_2")]
    found = only(nodes, [edge("e", "img", "flux", "image", "prompt")], "type_mismatch")
    assert (found["nodeId"], found["edgeId"]) == ("flux", "e")
    assert "IMAGE" in found["message"] and "TEXT" in found["message"]


def test_a_loop_is_a_cycle_named_on_a_node_and_an_edge_of_it() -> None:
    nodes = [node("a", "utility:regex", {"pattern": "x"}),
             node("b", "utility:regex", {"pattern": "y"})]
    edges = [edge("ab", "a", "b", "text", "text"), edge("ba", "b", "a", "text", "text")]
    found = only(nodes, edges, "cycle")
    assert found["nodeId"] == "a" and found["edgeId"] in {"ab", "ba"}


def test_an_edge_from_a_node_to_itself_is_a_cycle() -> None:
    nodes = [node("a", "utility:regex", {"pattern": "x"})]
    found = only(nodes, [edge("aa", "a", "a", "text", "text")], "cycle")
    assert (found["nodeId"], found["edgeId"]) == ("a", "aa")


def test_two_separate_loops_are_two_cycles() -> None:
    nodes = [node(n, "utility:regex", {"pattern": "x"}) for n in "abcd"]
    edges = [edge("ab", "a", "b", "text", "text"), edge("ba", "b", "a", "text", "text"),
             edge("cd", "c", "d", "text", "text"), edge("dc", "d", "c", "text", "text")]
    assert [v["nodeId"] for v in check(nodes, edges) if v["rule"] == "cycle"] == ["a", "c"]


def test_a_required_input_with_no_edge_and_no_param_is_missing() -> None:
    nodes, edges = prompt_to_flux_to_result()
    del edges[0]
    found = only(nodes, edges, "missing_required_input")
    assert found["nodeId"] == "flux" and "prompt" in found["message"]


def test_a_required_input_is_satisfied_by_a_param_of_the_same_name() -> None:
    nodes, edges = prompt_to_flux_to_result()
    del edges[0]
    nodes[1]["data"]["params"]["prompt"] = "a fox in the snow"
    assert check(nodes, edges) == []


@pytest.mark.parametrize("blank", ["", "   ", None, []])
def test_a_blank_param_does_not_satisfy_a_required_input(blank: Any) -> None:
    nodes = [node("edit", "edit:flux_2_edit", {"prompt": "x", "image_urls": blank})]
    assert only(nodes, [], "missing_required_input")["nodeId"] == "edit"


def test_params_that_fail_the_schema_are_invalid_params_on_their_node() -> None:
    nodes, edges = prompt_to_flux_to_result()
    nodes[1]["data"]["params"].update(num_images=9, image_size="huge")
    found = [v for v in check(nodes, edges) if v["rule"] == "invalid_params"]
    assert {v["nodeId"] for v in found} == {"flux"}
    assert any("num_images" in v["message"] for v in found)
    assert any("image_size" in v["message"] for v in found)


def test_params_that_are_not_an_object_are_invalid_params() -> None:
    nodes, edges = prompt_to_flux_to_result()
    nodes[1]["data"]["params"] = ["prompt", "a fox"]
    assert only(nodes, edges, "invalid_params")["nodeId"] == "flux"


def test_a_param_fed_by_a_connected_input_is_not_checked() -> None:
    nodes, edges = prompt_to_flux_to_result()
    nodes[1]["data"]["params"]["prompt"] = {"not": "a string"}
    assert check(nodes, edges) == []
    del edges[0]
    assert "invalid_params" in rules(nodes, edges)


def test_a_second_edge_into_a_single_port_is_too_many() -> None:
    nodes, edges = prompt_to_flux_to_result()
    nodes.append(node("prompt2", "input:text", {"text": "b"}))
    edges.append(edge("e3", "prompt2", "flux", "text", "prompt"))
    found = only(nodes, edges, "too_many_edges_into_port")
    assert (found["nodeId"], found["edgeId"]) == ("flux", "e3")


def test_a_multiple_port_takes_many_edges() -> None:
    nodes, edges = prompt_to_flux_to_result()
    nodes.append(node("prompt2", "input:text", {"text": "b"}))
    edges.append(edge("e3", "prompt2", "result", "text", "value"))
    assert check(nodes, edges) == []


def test_an_edge_touching_a_sticky_note_is_an_invalid_edge() -> None:
    nodes, edges = prompt_to_flux_to_result()
    nodes.append(sticky("note"))
    edges.append(edge("e3", "note", "result"))
    found = only(nodes, edges, "invalid_edge")
    assert (found["nodeId"], found["edgeId"]) == ("note", "e3")


# --- Everything at once, and any JSON -----------------------------------------------------------

def test_every_violation_is_reported_at_once() -> None:
    nodes = [node("p", "input:text", {"text": "x"}),
             node("p", "input:text"),
             node("img", "input:image"),
             node("flux", "generate:flux_2", {"num_images": 0}),
             node("mystery", "generate:unknown"),
             node("a", "utility:regex", {"pattern": "x"}),
             node("b", "utility:regex", {"pattern": "("})]
    edges = [edge("e1", "img", "flux", "image", "prompt"),
             edge("e1", "p", "flux", "text", "prompt"),
             edge("e2", "p", "nowhere"),
             edge("e3", "p", "flux", "text", "steps"),
             edge("e4", "a", "b", "text", "text"),
             edge("e5", "b", "a", "text", "text")]
    found = {(v["rule"], v.get("nodeId"), v.get("edgeId")) for v in check(nodes, edges)}
    assert found == {
        ("duplicate_node_id", "p", None),
        ("duplicate_edge_id", None, "e1"),
        ("unknown_node_type", "mystery", None),
        ("dangling_edge", None, "e2"),
        ("type_mismatch", "flux", "e1"),
        ("unknown_port", "flux", "e3"),
        ("cycle", "a", "e5"),
        ("invalid_params", "flux", None),
        ("invalid_params", "b", None),
    }


MALFORMED: list[tuple[Any, Any]] = [
    (None, None),
    ("nodes", "edges"),
    ({"id": "a"}, {}),
    (5, [1, 2]),
    ([None, 3, "x", []], [None, "e"]),
    ([{"id": 3, "data": {}}], []),
    ([{"id": "", "position": {"x": 0, "y": 0}}], []),
    ([{"id": "a", "data": "input:text", "position": {"x": 0, "y": 0}}], []),
    ([{"id": "a", "data": {"nodeType": "input:text"}}], []),
    ([{"id": "a", "data": {"nodeType": "input:text"}, "position": {"x": "0", "y": None}}], []),
    ([{"id": "a", "data": {"nodeType": "input:text"}, "position": [0, 0]}], []),
    ([{"id": "a", "data": {"nodeType": ["input:text"]}, "position": {"x": 0, "y": 0}}], []),
    ([{"id": "a", "data": {"nodeType": "input:text", "label": 5},
       "position": {"x": 0, "y": 0}}], []),
    ([{"id": "a", "data": {"nodeType": "input:text", "params": "text=x"},
       "position": {"x": 0, "y": 0}}], []),
    ([{"id": "a", "data": {"nodeType": {"x": 1}}, "position": {"x": float("nan"), "y": 0}}],
     []),
    ([node("a", "input:text")], [{"id": "e", "source": "a"}]),
    ([node("a", "input:text")], [{"id": "e", "source": 1, "target": ["a"]}]),
    ([node("a", "input:text")], [{"id": {"x": 1}, "source": "a", "target": "a"}]),
    ([node("a", "generate:flux_2")],
     [{"id": "e", "source": "a", "target": "a", "sourceHandle": {}, "targetHandle": 1.5}]),
    ([node("s", "logic:switch", {"cases": "not a list", "operator": 3})], []),
    ([node("r", "logic:router", {"operator": "regex", "value": "(["})], []),
]


@pytest.mark.parametrize(("nodes", "edges"), MALFORMED)
def test_malformed_json_is_reported_and_never_raises(nodes: Any, edges: Any) -> None:
    found = check(nodes, edges)
    assert found and all(set(v) <= {"rule", "message", "nodeId", "edgeId"} for v in found)
    violations, warnings = lint(nodes, edges, catalogue)
    assert [v.to_dict() for v in violations] == found
    assert isinstance(warnings, list)


def test_a_node_without_a_position_is_an_invalid_node() -> None:
    nodes, edges = prompt_to_flux_to_result()
    del nodes[0]["position"]
    assert only(nodes, edges, "invalid_node")["nodeId"] == "prompt"


def test_a_node_without_an_id_is_an_invalid_node_named_by_its_place() -> None:
    nodes, edges = prompt_to_flux_to_result()
    nodes.append({"data": {"nodeType": "input:text"}, "position": {"x": 0, "y": 0}})
    assert "Node #4" in only(nodes, edges, "invalid_node")["message"]


# --- Lint warnings ------------------------------------------------------------------------------

def warnings_of(nodes: Any, edges: Any) -> list[tuple[str, str | None]]:
    return [(w.rule, w.node_id) for w in lint(nodes, edges, catalogue)[1]]


def test_a_clean_pipeline_has_no_warnings() -> None:
    assert lint(*prompt_to_flux_to_result(), catalogue) == ([], [])


def test_a_node_with_no_edges_is_disconnected() -> None:
    nodes, edges = prompt_to_flux_to_result()
    nodes.append(node("lonely", "input:number"))
    assert warnings_of(nodes, edges) == [("disconnected_node", "lonely")]


def test_a_graph_without_an_output_node_is_warned() -> None:
    nodes, edges = prompt_to_flux_to_result()
    assert warnings_of(nodes[:2], edges[:1]) == [("no_output_node", None)]


def test_a_result_nobody_uses_is_an_unused_output() -> None:
    nodes, edges = prompt_to_flux_to_result()
    nodes.append(node("imagen", "generate:imagen4"))
    edges.append(edge("e3", "prompt", "imagen", "text", "prompt"))
    assert warnings_of(nodes, edges) == [("unused_output", "imagen")]


def test_two_edges_between_the_same_ports_are_a_duplicate_connection() -> None:
    nodes, edges = prompt_to_flux_to_result()
    edges.append(edge("e3", "flux", "result", "image", "value"))
    assert warnings_of(nodes, edges) == [("duplicate_connection", "result")]


def test_lint_reports_the_same_violations_as_validate() -> None:
    nodes, edges = prompt_to_flux_to_result()
    del edges[0]
    violations, _ = lint(nodes, edges, catalogue)
    assert violations == validate(nodes, edges, catalogue)


# --- Order ----------------------------------------------------------------------------------

def test_topological_order_puts_sources_first_and_keeps_the_given_order_for_ties() -> None:
    order = topological_order(["d", "c", "b", "a"], [("a", "b"), ("c", "b")])
    assert order == ["d", "c", "a", "b"]


def test_topological_order_of_a_chain_given_backwards_is_the_chain() -> None:
    assert topological_order(["c", "b", "a"], [("a", "b"), ("b", "c")]) == ["a", "b", "c"]


def test_topological_order_ignores_edges_to_unknown_nodes() -> None:
    assert topological_order(["a", "b"], [("a", "zz"), ("b", "a")]) == ["b", "a"]


def test_topological_order_raises_the_cycle_in_edge_order() -> None:
    with pytest.raises(CycleError) as caught:
        topological_order(["start", "a", "b", "c"],
                          [("start", "a"), ("a", "b"), ("b", "c"), ("c", "a")])
    cycle = caught.value.cycle
    assert sorted(cycle) == ["a", "b", "c"]
    assert cycle[cycle.index("a") - 2] == "b"  # a -> b -> c -> a, from wherever it starts


def test_topological_order_raises_on_a_self_loop() -> None:
    with pytest.raises(CycleError) as caught:
        topological_order(["a", "b"], [("a", "b"), ("b", "b")])
    assert caught.value.cycle == ["b"]


def test_upstream_of_a_node_is_itself_and_all_its_ancestors() -> None:
    edges = [("a", "b"), ("b", "d"), ("c", "d"), ("d", "e"), ("x", "y")]
    assert upstream_of("d", edges) == {"a", "b", "c", "d"}
    assert upstream_of("a", edges) == {"a"}


# --- Reading a saved graph's JSON once -------------------------------------------------------

def test_runnable_nodes_are_the_nodes_of_known_types_in_the_graph_s_order() -> None:
    nodes, _ = prompt_to_flux_to_result()
    nodes[1]["data"]["label"] = ""
    found = runnable_nodes([sticky("note"), *nodes, node("x", "nope:unknown")], catalogue)
    assert found == [
        GraphNode("prompt", "input:text", "prompt", {"text": "a red fox"}),
        GraphNode("flux", "generate:flux_2", "", {"num_images": 2}),
        GraphNode("result", "output:result", "result", {}),
    ]
    assert [n.title for n in found] == ["prompt", "generate:flux_2", "result"]


def test_graph_edges_keep_the_order_and_the_handles_as_sent() -> None:
    _, edges = prompt_to_flux_to_result()
    assert graph_edges(edges) == [GraphEdge("e1", "prompt", "flux", "out-text", "in-prompt"),
                                  GraphEdge("e2", "flux", "result", "out-image", "in-value")]
    assert edge_pairs(edges) == [("prompt", "flux"), ("flux", "result")]


NOT_A_NODE: list[Any] = [None, 3, "a", [], {}, {"id": "a"}, {"id": "a", "data": None},
                         {"id": "a", "data": []}, {"id": "a", "data": {"nodeType": 5}},
                         {"id": 7, "data": {"nodeType": "input:text"}},
                         {"id": "", "data": {"nodeType": "input:text"}},
                         {"id": "a", "data": {"nodeType": "input:text", "params": [1],
                                              "label": 4}}]


@pytest.mark.parametrize("raw", NOT_A_NODE)
def test_reading_a_malformed_node_never_raises_and_reads_only_well_typed_fields(raw: Any) -> None:
    node_type, params = node_type_of(raw), params_of(raw)
    assert node_type is None or node_type == raw["data"]["nodeType"]
    assert params is None or params == raw["data"]["params"]
    assert is_sticky(raw) is False
    for found in runnable_nodes([raw], catalogue):  # only the last one runs
        assert found == GraphNode("a", "input:text", "", {})


NOT_AN_EDGE: list[Any] = [None, 1, "e", [], {}, {"id": "e", "source": "a"},
                          {"id": "e", "source": "a", "target": ""},
                          {"id": "e", "source": 1, "target": "b"},
                          {"id": ["e"], "source": "a", "target": "b"}]


@pytest.mark.parametrize("raw", NOT_AN_EDGE)
def test_a_malformed_edge_is_left_out_and_never_raises(raw: Any) -> None:
    assert graph_edges([raw]) == []
    assert edge_pairs([raw, {"id": "e2", "source": "a", "target": "b"}]) == [("a", "b")]


@pytest.mark.parametrize("container", [None, {}, "nodes", 3])
def test_a_graph_that_is_not_a_list_reads_as_empty(container: Any) -> None:
    assert runnable_nodes(container, catalogue) == []
    assert graph_edges(container) == []


def test_a_sticky_note_is_known_by_its_type_or_its_node_type() -> None:
    assert is_sticky(sticky("n"))
    assert is_sticky({"id": "n", "data": {"nodeType": "note:sticky"}})
    assert not is_sticky(node("a", "input:text"))

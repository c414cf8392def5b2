"""Graph pieces for tests, one way everywhere: a node and an edge in the API's React Flow shape
(docs/api.md, "Graph"). The people (owner, teammate, viewer, stranger …) are the fixtures of
tests/conftest.py; tests/workflows/graph_builders.py builds the malformed graphs validation is
tested with."""

from typing import Any


def node(node_id: str, node_type: str, label: str | None = None, x: int = 0,
         **params: Any) -> dict[str, Any]:
    """A saved node; nodes placed in a row at height 0 (`x`) show side by side in the editor."""
    return {"id": node_id, "type": "basedNode", "position": {"x": x, "y": 0},
            "data": {"label": label or node_id, "nodeType": node_type, "params": params}}


def edge(source: str, out: str, target: str, into: str) -> dict[str, Any]:
    """From output port `out` of `source` into input port `into` of `target`."""
    return {"id": f"{source}.{out}->{target}.{into}", "source": source, "target": target,
            "sourceHandle": f"out-{out}", "targetHandle": f"in-{into}"}


def chain(length: int) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """A text input, then `length - 1` joins one after another: the engine's longest path of
    pure nodes."""
    nodes = [node("n0", "input:text", text="x")]
    edges = []
    for i in range(1, length):
        nodes.append(node(f"n{i}", "utility:prompt_concat"))
        edges.append(edge(f"n{i - 1}", "text", f"n{i}", "texts"))
    return nodes, edges

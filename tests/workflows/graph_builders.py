"""Builders for graph JSON in the React Flow shape of docs/api.md, shared by the graph tests."""

from typing import Any


def node(node_id: str, node_type: str, params: dict[str, Any] | None = None,
         label: str | None = None) -> dict[str, Any]:
    return {"id": node_id, "type": "basedNode", "position": {"x": 0, "y": 0},
            "data": {"label": label or node_id, "nodeType": node_type, "params": params or {}}}


def edge(edge_id: str, source: str, target: str, source_port: str | None = None,
         target_port: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"id": edge_id, "source": source, "target": target}
    if source_port is not None:
        body["sourceHandle"] = f"out-{source_port}"
    if target_port is not None:
        body["targetHandle"] = f"in-{target_port}"
    return body


def sticky(node_id: str) -> dict[str, Any]:
    return {"id": node_id, "type": "stickyNote", "position": {"x": 0, "y": 0},
            "data": {"text": "remember to pick a better prompt"}}


def prompt_to_flux_to_result() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The smallest real pipeline: a prompt, FLUX.2, a result."""
    nodes = [node("prompt", "input:text", {"text": "a red fox"}),
             node("flux", "generate:flux_2", {"num_images": 2}),
             node("result", "output:result")]
    edges = [edge("e1", "prompt", "flux", "text", "prompt"),
             edge("e2", "flux", "result", "image", "value")]
    return nodes, edges

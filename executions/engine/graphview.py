"""The execution's graph, indexed once per advance."""

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from workflows import dataflow
from workflows.graph import NodeSpec
from workflows.nodes import catalogue


@dataclass
class GraphView:
    nodes: dict[str, Mapping[str, Any]]
    specs: dict[str, NodeSpec]
    incoming: dict[str, list[dataflow.Link]]
    links: list[dataflow.Link]

    @classmethod
    def build(cls, nodes: list[dict[str, Any]], edges: list[dict[str, Any]]) -> "GraphView":
        runnable = [node for node in nodes if node.get("data", {}).get("nodeType") in catalogue]
        links = dataflow.links(runnable, edges, catalogue)
        incoming: dict[str, list[dataflow.Link]] = {node["id"]: [] for node in runnable}
        for link in links:
            incoming[link.target].append(link)
        return cls(
            nodes={node["id"]: node for node in runnable},
            specs={node["id"]: catalogue[node["data"]["nodeType"]] for node in runnable},
            incoming=incoming,
            links=links,
        )

    def params(self, node_id: str) -> dict[str, Any]:
        params = self.nodes[node_id].get("data", {}).get("params") or {}
        return dict(params) if isinstance(params, dict) else {}

    def label(self, node_id: str) -> str:
        data = self.nodes[node_id].get("data", {})
        return str(data.get("label") or self.specs[node_id].node_type)

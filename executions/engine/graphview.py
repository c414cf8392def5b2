"""The execution's graph, indexed once per advance."""

from dataclasses import dataclass
from typing import Any

from executions.executors import executor_for
from workflows import dataflow
from workflows.graph import GraphNode, graph_edges, runnable_nodes
from workflows.nodes import catalogue
from workflows.nodes.registry import NodeType

from .contracts import Executor


@dataclass
class GraphView:
    nodes: dict[str, GraphNode]
    specs: dict[str, NodeType]
    incoming: dict[str, list[dataflow.Link]]
    links: list[dataflow.Link]

    @classmethod
    def build(cls, nodes: list[dict[str, Any]], edges: list[dict[str, Any]]) -> "GraphView":
        runnable = runnable_nodes(nodes, catalogue)
        links = dataflow.links(runnable, graph_edges(edges), catalogue)
        incoming: dict[str, list[dataflow.Link]] = {node.id: [] for node in runnable}
        for link in links:
            incoming[link.target].append(link)
        return cls(
            nodes={node.id: node for node in runnable},
            specs={node.id: catalogue[node.node_type] for node in runnable},
            incoming=incoming,
            links=links,
        )

    def executor(self, node_id: str) -> Executor:
        return executor_for(self.specs[node_id].node_type)

    def params(self, node_id: str) -> dict[str, Any]:
        return dict(self.nodes[node_id].params)

    def label(self, node_id: str) -> str:
        return self.nodes[node_id].title

"""Runtime dataflow over a validated graph — pure, no Django.

Given the graph and what each node has delivered so far, it decides for a pending node whether
to wait, to skip (a required input can no longer arrive), or to run with which inputs. The engine
(executions/engine) owns persistence; everything here is plain data so it is tested without a
database.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .graph import GraphEdge, GraphNode, NodeSpec
from .graph_rules import is_blank

TERMINAL = frozenset({"COMPLETED", "FAILED", "SKIPPED", "CANCELLED"})


@dataclass(frozen=True)
class Link:
    """One edge with its handles resolved to catalogue port ids."""

    id: str
    source: str
    source_port: str
    target: str
    target_port: str


@dataclass(frozen=True)
class Wait:
    pass


@dataclass(frozen=True)
class Skip:
    reason: str


@dataclass(frozen=True)
class Run:
    inputs: dict[str, Any]
    sources: dict[str, list[str]] = field(default_factory=dict)  # port -> source node ids


Decision = Wait | Skip | Run


def _port_of(handle: Any, prefix: str, ports: Sequence[Any], aliases: Mapping[str, str]) -> str:
    if isinstance(handle, str) and handle.startswith(prefix):
        name = handle[len(prefix):]
        return aliases.get(name, name)
    return ports[0].id if len(ports) == 1 else ""


def links(nodes: Sequence[GraphNode], edges: Sequence[GraphEdge],
          catalogue: Mapping[str, NodeSpec]) -> list[Link]:
    """The edges between runnable nodes with their ports resolved (of a validated graph)."""
    types = {node.id: node.node_type for node in nodes}
    resolved = []
    for edge in edges:
        if edge.source not in types or edge.target not in types:
            continue
        source_spec = catalogue[types[edge.source]]
        target_spec = catalogue[types[edge.target]]
        resolved.append(Link(
            id=edge.id,
            source=edge.source,
            source_port=_port_of(edge.source_handle, "out-", source_spec.outputs,
                                 source_spec.output_aliases),
            target=edge.target,
            target_port=_port_of(edge.target_handle, "in-", target_spec.inputs, {}),
        ))
    return resolved


def decide(spec: NodeSpec, params: Mapping[str, Any], incoming: Sequence[Link],
           statuses: Mapping[str, str],
           delivered: Mapping[str, Mapping[str, Any] | None]) -> Decision:
    """What a pending node should do now.

    `statuses` maps node id -> status; `delivered` maps node id -> the values on its output
    ports (None or missing for nodes that delivered nothing). Untaken router outputs are simply
    absent from `delivered[source]`.
    """
    if any(statuses.get(link.source) not in TERMINAL for link in incoming):
        return Wait()
    values: dict[str, list[Any]] = {}
    sources: dict[str, list[str]] = {}
    for link in incoming:
        ports = delivered.get(link.source) or {}
        if link.source_port in ports:
            values.setdefault(link.target_port, []).append(ports[link.source_port])
            sources.setdefault(link.target_port, []).append(link.source)
    if incoming and not values:
        return Skip("no input arrived: every upstream branch was skipped or not taken")
    multiple = {port.id for port in spec.inputs if port.multiple}
    for port in spec.inputs:
        if port.required and port.id not in values and is_blank(params.get(port.id)):
            return Skip(f"required input '{port.id}' did not arrive")
    inputs = {port: (vals if port in multiple else vals[0]) for port, vals in values.items()}
    return Run(inputs=inputs, sources=sources)


def sinks(node_ids: Sequence[str], all_links: Sequence[Link]) -> list[str]:
    with_outgoing = {link.source for link in all_links}
    return [node_id for node_id in node_ids if node_id not in with_outgoing]

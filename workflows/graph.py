"""The workflow graph, pure: port typing, validation, lint and ordering.

Nothing here imports Django or the node registry; the catalogue is passed in as a mapping of
node type -> NodeSpec, so the module is tested without a database.

The input is the raw React Flow JSON a client sent (see docs/api.md, Objects > Graph). It may be
malformed in any way; `validate` and `lint` never raise, they report. Besides the rules of
docs/api.md, two rules name malformed shapes:

- `invalid_node`: a node that is not an object, has no non-empty string `id`, has `data` that
  is not an object, a `label` that is not a string, or no `position` of numbers `{x, y}`.
- `invalid_edge`: an edge that is not an object, has no non-empty string `id`, `source` or
  `target`, or touches a sticky note (notes are comments and take no edges).

Sticky notes (`type: "stickyNote"` or `data.nodeType: "note:sticky"`) are kept in the graph
but never validated as node types and never executed.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol

from workflows.graph_rules import (
    ancestors,
    find_cycle,
    is_blank,
    is_nonempty_str,
    is_number,
    ordered_components,
    port_for_handle,
    stable_kahn,
)

MAX_NODES = 100
MAX_EDGES = 500
STICKY_TYPE = "stickyNote"
STICKY_NODE_TYPE = "note:sticky"
OUTPUT_FAMILY = "output:"


class PortType(StrEnum):
    TEXT = "TEXT"
    IMAGE = "IMAGE"
    VIDEO = "VIDEO"
    AUDIO = "AUDIO"
    NUMBER = "NUMBER"
    BOOLEAN = "BOOLEAN"
    JSON = "JSON"
    ANY = "ANY"


@dataclass(frozen=True)
class Port:
    id: str
    type: PortType
    label: str = ""
    required: bool = False
    multiple: bool = False


class NodeSpec(Protocol):
    """What the graph needs to know about a node type (workflows.nodes.NodeType is one)."""

    @property
    def node_type(self) -> str: ...

    @property
    def inputs(self) -> tuple[Port, ...]: ...

    @property
    def outputs(self) -> tuple[Port, ...]: ...

    @property
    def output_aliases(self) -> Mapping[str, str]: ...

    def param_errors(self, params: Mapping[str, Any], connected_inputs: set[str]) -> list[str]:
        ...


def compatible(source: PortType, target: PortType) -> bool:
    """May an output of type `source` feed an input of type `target`? (docs/api.md port types)"""
    if PortType.ANY in (source, target):
        return True
    if target is PortType.TEXT and source is PortType.NUMBER:
        return True
    return source == target


@dataclass(frozen=True)
class Violation:
    rule: str
    message: str
    node_id: str | None = None
    edge_id: str | None = None

    def to_dict(self) -> dict[str, str]:
        body = {"rule": self.rule, "message": self.message}
        if self.node_id is not None:
            body["nodeId"] = self.node_id
        if self.edge_id is not None:
            body["edgeId"] = self.edge_id
        return body


class CycleError(ValueError):
    def __init__(self, cycle: list[str]) -> None:
        self.cycle = cycle
        super().__init__("cycle through " + " -> ".join(cycle))


# --- Public functions -------------------------------------------------------------------------

def validate(nodes: Sequence[Mapping[str, Any]], edges: Sequence[Mapping[str, Any]],
             catalogue: Mapping[str, NodeSpec]) -> list[Violation]:
    """Every violation of the graph rules, in a stable order; empty when the graph is valid."""
    return _check(nodes, edges, catalogue).violations


def lint(nodes: Sequence[Mapping[str, Any]], edges: Sequence[Mapping[str, Any]],
         catalogue: Mapping[str, NodeSpec]) -> tuple[list[Violation], list[Violation]]:
    """(violations, warnings): warnings flag graphs that are valid but probably not meant."""
    checked = _check(nodes, edges, catalogue)
    return checked.violations, _warnings(checked)


@dataclass(frozen=True)
class GraphNode:
    """A node of a saved graph that runs (its type is in the catalogue), read from the graph's
    JSON once: what the engine, a run's inputs and its price need of it."""

    id: str
    node_type: str
    label: str  # as written; "" when it has none
    params: Mapping[str, Any]

    @property
    def title(self) -> str:
        """What its runs and line items are called: its label, else its type."""
        return self.label or self.node_type


def node_type_of(node: Any) -> str | None:
    """A node's `data.nodeType` when it is a string (any JSON is read)."""
    data = node.get("data") if isinstance(node, Mapping) else None
    node_type = data.get("nodeType") if isinstance(data, Mapping) else None
    return node_type if isinstance(node_type, str) else None


def params_of(node: Any) -> dict[str, Any] | None:
    """A node's `data.params` when it is an object (any JSON is read)."""
    data = node.get("data") if isinstance(node, Mapping) else None
    params = data.get("params") if isinstance(data, Mapping) else None
    return params if isinstance(params, dict) else None


def is_sticky(node: Any) -> bool:
    """Is this node a sticky note (kept in the graph, never validated nor run)?"""
    return isinstance(node, Mapping) and (node.get("type") == STICKY_TYPE
                                          or node_type_of(node) == STICKY_NODE_TYPE)


def runnable_nodes(nodes: Any, catalogue: Mapping[str, NodeSpec]) -> list[GraphNode]:
    """The nodes that run, in the graph's order: those whose type is in the catalogue (not
    sticky notes). Any JSON is read: what is not a node of a known type is left out."""
    found = []
    for node in nodes if isinstance(nodes, list) else []:
        node_type = node_type_of(node)
        if node_type not in catalogue or not is_nonempty_str(node.get("id")):
            continue
        label = node["data"].get("label")
        found.append(GraphNode(id=str(node["id"]), node_type=str(node_type),
                               label=label if isinstance(label, str) else "",
                               params=params_of(node) or {}))
    return found


@dataclass(frozen=True)
class GraphEdge:
    """An edge of a graph, read from its JSON: a handle is kept as sent (validation checks it)."""

    id: str
    source: str
    target: str
    source_handle: Any = None
    target_handle: Any = None


def graph_edges(edges: Any) -> list[GraphEdge]:
    """The edges that join two nodes, in the graph's order (any JSON is read: what is not an
    object with string `id`, `source` and `target` is left out)."""
    found = []
    for edge in edges if isinstance(edges, list) else []:
        if isinstance(edge, Mapping) and all(is_nonempty_str(edge.get(key))
                                             for key in ("id", "source", "target")):
            found.append(GraphEdge(edge["id"], edge["source"], edge["target"],
                                   edge.get("sourceHandle"), edge.get("targetHandle")))
    return found


def edge_pairs(edges: Any) -> list[tuple[str, str]]:
    """(source, target) of each edge of a graph's JSON."""
    return [(edge.source, edge.target) for edge in graph_edges(edges)]


def topological_order(node_ids: Sequence[str], edges: Sequence[tuple[str, str]]) -> list[str]:
    """Node ids so that every edge's source precedes its target; ties keep the given order.

    Edges naming an id that is not in `node_ids` are ignored. Raises CycleError with the ids of
    one cycle, in edge order, when there is none.
    """
    known = set(node_ids)
    pairs = [(s, t) for s, t in edges if s in known and t in known]
    order = stable_kahn(node_ids, pairs)
    if len(order) < len(known):
        placed = set(order)
        raise CycleError(find_cycle([n for n in node_ids if n not in placed], pairs))
    return order


def upstream_of(target: str, edges: Sequence[tuple[str, str]]) -> set[str]:
    """`target` and every node it depends on, directly or not."""
    return ancestors(target, edges)


# --- The parsed graph -------------------------------------------------------------------------

@dataclass
class _Node:
    id: str
    label: str
    node_type: str | None
    spec: NodeSpec | None
    params: Mapping[str, Any]
    sticky: bool = False
    params_ok: bool = True

    @property
    def name(self) -> str:
        return f"'{self.label}' ({self.id})" if self.label != self.id else f"'{self.id}'"


@dataclass(frozen=True)
class _Link:
    """An edge whose ports are resolved at one or both ends (None: that end is unknown)."""

    edge: GraphEdge
    source_port: Port | None
    target_port: Port | None


@dataclass
class _Checked:
    nodes: dict[str, _Node] = field(default_factory=dict)
    edges: list[GraphEdge] = field(default_factory=list)
    links: list[_Link] = field(default_factory=list)
    violations: list[Violation] = field(default_factory=list)

    def add(self, rule: str, message: str, node_id: str | None = None,
            edge_id: str | None = None) -> None:
        self.violations.append(Violation(rule, message, node_id, edge_id))

    def executable(self) -> list[_Node]:
        return [node for node in self.nodes.values() if not node.sticky]

    def connected_inputs(self) -> dict[str, set[str]]:
        """node id -> the ids of its input ports that have an edge."""
        connected: dict[str, set[str]] = defaultdict(set)
        for link in self.links:
            if link.target_port is not None:
                connected[link.edge.target].add(link.target_port.id)
        return connected


def _check(nodes: Any, edges: Any, catalogue: Mapping[str, NodeSpec]) -> _Checked:
    raw_nodes = _as_list(nodes)
    raw_edges = _as_list(edges)
    checked = _Checked()
    _check_containers(checked, raw_nodes, raw_edges)
    _check_sizes(checked, raw_nodes or [], raw_edges or [])
    _parse_nodes(checked, raw_nodes or [], catalogue)
    _parse_edges(checked, raw_edges or [])
    _resolve_ports(checked)
    _check_fan_in(checked)
    _check_cycles(checked)
    _check_inputs_and_params(checked)
    return checked


def _as_list(value: Any) -> list[Any] | None:
    if value is None:
        return []
    return list(value) if isinstance(value, list | tuple) else None


def _check_containers(checked: _Checked, raw_nodes: Any, raw_edges: Any) -> None:
    if raw_nodes is None:
        checked.add("invalid_node", "The graph's nodes must be a list")
    if raw_edges is None:
        checked.add("invalid_edge", "The graph's edges must be a list")


def _check_sizes(checked: _Checked, raw_nodes: list[Any], raw_edges: list[Any]) -> None:
    if all(is_sticky(raw) for raw in raw_nodes):
        checked.add("empty_graph", "The workflow has no nodes")
    if len(raw_nodes) > MAX_NODES:
        checked.add("too_many_nodes",
                    f"The workflow has {len(raw_nodes)} nodes; at most {MAX_NODES} are allowed")
    if len(raw_edges) > MAX_EDGES:
        checked.add("too_many_edges",
                    f"The workflow has {len(raw_edges)} edges; at most {MAX_EDGES} are allowed")


# --- Nodes ------------------------------------------------------------------------------------

def _parse_nodes(checked: _Checked, raw_nodes: list[Any],
                 catalogue: Mapping[str, NodeSpec]) -> None:
    for index, raw in enumerate(raw_nodes):
        node = _parse_node(checked, index, raw, catalogue)
        if node is not None:
            checked.nodes[node.id] = node


def _parse_node(checked: _Checked, index: int, raw: Any,
                catalogue: Mapping[str, NodeSpec]) -> _Node | None:
    if not isinstance(raw, Mapping) or not is_nonempty_str(raw.get("id")):
        checked.add("invalid_node", f"Node #{index + 1} must be an object with a string id")
        return None
    node_id: str = raw["id"]
    if node_id in checked.nodes:
        checked.add("duplicate_node_id", f"Node id '{node_id}' is used more than once", node_id)
        return None
    data = raw.get("data", {})
    if not isinstance(data, Mapping):
        checked.add("invalid_node", f"Node '{node_id}': data must be an object", node_id)
        data = {}
    _check_position(checked, node_id, raw.get("position"))
    label = _label(checked, node_id, data.get("label"))
    if is_sticky(raw):
        return _Node(node_id, label, None, None, {}, sticky=True)
    node = _Node(node_id, label, None, None, {})
    _attach_spec(checked, node, data.get("nodeType"), catalogue)
    _attach_params(checked, node, data.get("params", {}))
    return node


def _check_position(checked: _Checked, node_id: str, position: Any) -> None:
    if isinstance(position, Mapping) and all(is_number(position.get(k)) for k in ("x", "y")):
        return
    checked.add("invalid_node", f"Node '{node_id}': position must be {{x, y}} numbers", node_id)


def _label(checked: _Checked, node_id: str, label: Any) -> str:
    if label is None:
        return node_id
    if isinstance(label, str):
        return label or node_id
    checked.add("invalid_node", f"Node '{node_id}': label must be a string", node_id)
    return node_id


def _attach_spec(checked: _Checked, node: _Node, node_type: Any,
                 catalogue: Mapping[str, NodeSpec]) -> None:
    if not is_nonempty_str(node_type):
        checked.add("unknown_node_type", f"Node {node.name} has no data.nodeType", node.id)
        return
    node.node_type = node_type
    node.spec = catalogue.get(node_type)
    if node.spec is None:
        checked.add("unknown_node_type", f"Node {node.name}: unknown node type '{node_type}'",
                    node.id)


def _attach_params(checked: _Checked, node: _Node, params: Any) -> None:
    if params is None:
        return
    if isinstance(params, Mapping):
        node.params = params
        return
    node.params_ok = False
    checked.add("invalid_params", f"Node {node.name}: data.params must be an object", node.id)


# --- Edges ------------------------------------------------------------------------------------

def _parse_edges(checked: _Checked, raw_edges: list[Any]) -> None:
    seen: set[str] = set()
    for index, raw in enumerate(raw_edges):
        edge = _parse_edge(checked, index, raw, seen)
        if edge is not None and _edge_ends_ok(checked, edge):
            checked.edges.append(edge)


def _parse_edge(checked: _Checked, index: int, raw: Any, seen: set[str]) -> GraphEdge | None:
    if not isinstance(raw, Mapping) or not is_nonempty_str(raw.get("id")):
        checked.add("invalid_edge", f"Edge #{index + 1} must be an object with a string id")
        return None
    edge_id: str = raw["id"]
    if edge_id in seen:
        checked.add("duplicate_edge_id", f"Edge id '{edge_id}' is used more than once",
                    edge_id=edge_id)
        return None
    seen.add(edge_id)
    source, target = raw.get("source"), raw.get("target")
    if not (isinstance(source, str) and source and isinstance(target, str) and target):
        checked.add("invalid_edge", f"Edge '{edge_id}' needs a string source and target",
                    edge_id=edge_id)
        return None
    return GraphEdge(edge_id, source, target, raw.get("sourceHandle"), raw.get("targetHandle"))


def _edge_ends_ok(checked: _Checked, edge: GraphEdge) -> bool:
    for end in (edge.source, edge.target):
        node = checked.nodes.get(end)
        if node is None:
            checked.add("dangling_edge", f"Edge '{edge.id}' points to a missing node '{end}'",
                        edge_id=edge.id)
            return False
        if node.sticky:
            checked.add("invalid_edge", f"Edge '{edge.id}' touches sticky note '{end}'; "
                        "notes take no edges", end, edge.id)
            return False
    return True


def _resolve_ports(checked: _Checked) -> None:
    for edge in checked.edges:
        source = checked.nodes[edge.source]
        target = checked.nodes[edge.target]
        source_port = _end_port(checked, edge, source, "out-", edge.source_handle)
        target_port = _end_port(checked, edge, target, "in-", edge.target_handle)
        checked.links.append(_Link(edge, source_port, target_port))
        if source_port and target_port and not compatible(source_port.type, target_port.type):
            checked.add("type_mismatch",
                        f"Edge '{edge.id}': {source.name} output '{source_port.id}' is "
                        f"{source_port.type}, but {target.name} input '{target_port.id}' "
                        f"takes {target_port.type}", edge.target, edge.id)


def _end_port(checked: _Checked, edge: GraphEdge, node: _Node, prefix: str,
              handle: Any) -> Port | None:
    if node.spec is None:
        return None  # already reported as unknown_node_type
    is_output = prefix == "out-"
    ports = node.spec.outputs if is_output else node.spec.inputs
    aliases = node.spec.output_aliases if is_output else {}
    port, problem = port_for_handle(handle, prefix, ports, aliases)
    if problem:
        side = "output" if is_output else "input"
        checked.add("unknown_port", f"Edge '{edge.id}': {node.name} {side} {problem}",
                    node.id, edge.id)
    return port


def _check_fan_in(checked: _Checked) -> None:
    into: dict[tuple[str, str], list[_Link]] = defaultdict(list)
    for link in checked.links:
        if link.target_port is not None and not link.target_port.multiple:
            into[(link.edge.target, link.target_port.id)].append(link)
    for (node_id, port_id), links in into.items():
        for extra in links[1:]:
            checked.add("too_many_edges_into_port",
                        f"Input '{port_id}' of {checked.nodes[node_id].name} takes one edge; "
                        f"it has {len(links)}", node_id, extra.edge.id)


def _check_cycles(checked: _Checked) -> None:
    pairs = [(edge.source, edge.target) for edge in checked.edges]
    components = ordered_components(list(checked.nodes), pairs)
    component_of = {node_id: i for i, members in enumerate(components) for node_id in members}
    inside: dict[int, list[GraphEdge]] = defaultdict(list)
    for edge in checked.edges:
        if component_of[edge.source] == component_of[edge.target]:
            inside[component_of[edge.source]].append(edge)
    for index in sorted(inside):  # a component with an edge inside it is a cycle
        edges = inside[index]
        names = ", ".join(checked.nodes[n].name for n in components[index])
        checked.add("cycle", f"These nodes form a cycle: {names}", components[index][0],
                    edges[-1].id)


# --- Required inputs and params ---------------------------------------------------------------

def _check_inputs_and_params(checked: _Checked) -> None:
    connected_inputs = checked.connected_inputs()
    for node in checked.executable():
        if node.spec is None:
            continue
        connected = connected_inputs[node.id]
        _check_required(checked, node, node.spec, connected)
        if node.params_ok:
            _check_params(checked, node, node.spec, connected)


def _check_required(checked: _Checked, node: _Node, spec: NodeSpec, connected: set[str]) -> None:
    for port in spec.inputs:
        if port.required and port.id not in connected and is_blank(node.params.get(port.id)):
            checked.add("missing_required_input",
                        f"Node {node.name} needs input '{port.id}': connect it or set the "
                        "parameter", node.id)


def _check_params(checked: _Checked, node: _Node, spec: NodeSpec, connected: set[str]) -> None:
    try:
        problems = spec.param_errors(node.params, connected)
    except Exception:  # a spec's own bug must not turn bad input into a 500
        problems = ["the parameters could not be checked"]
    for problem in problems:
        checked.add("invalid_params", f"Node {node.name}: {problem}", node.id)


# --- Warnings ---------------------------------------------------------------------------------

def _warnings(checked: _Checked) -> list[Violation]:
    nodes = checked.executable()
    found: list[Violation] = []
    if not nodes:
        return found
    found += _disconnected(checked, nodes)
    outputs = [n for n in nodes if (n.node_type or "").startswith(OUTPUT_FAMILY)]
    if not outputs:
        found.append(Violation("no_output_node", "No output node: the results of the last "
                               "nodes become the final output"))
    else:
        found += _unused_outputs(checked, nodes)
    found += _duplicate_connections(checked.links)
    return found


def _disconnected(checked: _Checked, nodes: list[_Node]) -> list[Violation]:
    if len(nodes) < 2:
        return []
    touched = {end for edge in checked.edges for end in (edge.source, edge.target)}
    return [Violation("disconnected_node", f"Node {n.name} is not connected to anything", n.id)
            for n in nodes if n.id not in touched]


def _unused_outputs(checked: _Checked, nodes: list[_Node]) -> list[Violation]:
    sources = {edge.source for edge in checked.edges}
    targets = {edge.target for edge in checked.edges}
    return [Violation("unused_output", f"The result of node {n.name} is not used", n.id)
            for n in nodes
            if n.spec is not None and n.spec.outputs and n.id in targets and n.id not in sources
            and not (n.node_type or "").startswith(OUTPUT_FAMILY)]


def _duplicate_connections(links: Iterable[_Link]) -> list[Violation]:
    seen: set[tuple[str, str, str, str]] = set()
    found: list[Violation] = []
    for link in links:
        if link.source_port is None or link.target_port is None:
            continue
        key = (link.edge.source, link.source_port.id, link.edge.target, link.target_port.id)
        if key in seen:
            found.append(Violation("duplicate_connection", f"Edge '{link.edge.id}' repeats "
                                   "another edge between the same ports",
                                   link.edge.target, link.edge.id))
        seen.add(key)
    return found

"""What workflows/graph.py builds its rules on: checks of raw JSON values, and plain graph
algorithms on node ids. Pure.

The algorithms are iterative (no recursion), so a long chain in a hostile request cannot hit
Python's recursion limit, and stable: results follow the order of the given ids.
"""

from __future__ import annotations

import heapq
import math
from collections import defaultdict, deque
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, Protocol, TypeVar


class _HasId(Protocol):
    @property
    def id(self) -> str: ...


PortT = TypeVar("PortT", bound=_HasId)


def is_nonempty_str(value: Any) -> bool:
    return isinstance(value, str) and value != ""


def is_number(value: Any) -> bool:
    """A finite JSON number (booleans are not numbers here)."""
    return (isinstance(value, int | float) and not isinstance(value, bool)
            and math.isfinite(value))


def is_blank(value: Any) -> bool:
    """No value for a required input: missing, blank text or an empty list/object."""
    if value is None:
        return True
    if isinstance(value, str):
        return value.strip() == ""
    return isinstance(value, list | tuple | dict) and len(value) == 0


def port_for_handle(handle: Any, prefix: str, ports: Sequence[PortT],
                    aliases: Mapping[str, str]) -> tuple[PortT | None, str]:
    """The port a handle (`out-<port>` / `in-<port>`) names, or (None, why not).

    No handle means the only port on that side, if there is exactly one.
    """
    if handle is None or handle == "":
        if len(ports) == 1:
            return ports[0], ""
        return None, f"handle is missing and the node has {len(ports)} such ports"
    if not isinstance(handle, str) or not handle.startswith(prefix):
        return None, f"handle {handle!r} must look like '{prefix}<port>'"
    port_id = handle.removeprefix(prefix)
    port_id = aliases.get(port_id, port_id)
    for port in ports:
        if port.id == port_id:
            return port, ""
    return None, f"port '{port_id}' does not exist"


def _successors(pairs: Sequence[tuple[str, str]]) -> dict[str, list[str]]:
    successors: dict[str, list[str]] = defaultdict(list)
    for source, target in pairs:
        successors[source].append(target)
    return successors


def stable_kahn(node_ids: Sequence[str], pairs: Sequence[tuple[str, str]]) -> list[str]:
    """Kahn's topological sort, always taking the earliest ready id; cyclic nodes are left out.

    Repeated ids and repeated pairs count once.
    """
    position = {node_id: i for i, node_id in reversed(list(enumerate(node_ids)))}
    unique_pairs = set(pairs)
    indegree = dict.fromkeys(position, 0)
    for _, target in unique_pairs:
        indegree[target] += 1
    successors = _successors(list(unique_pairs))
    ready = [position[n] for n, degree in indegree.items() if degree == 0]
    heapq.heapify(ready)
    by_position = {i: n for n, i in position.items()}
    order: list[str] = []
    while ready:
        node_id = by_position[heapq.heappop(ready)]
        order.append(node_id)
        for child in successors[node_id]:
            indegree[child] -= 1
            if indegree[child] == 0:
                heapq.heappush(ready, position[child])
    return order


def find_cycle(candidates: Sequence[str], pairs: Sequence[tuple[str, str]]) -> list[str]:
    """One cycle, as ids in edge order, among `candidates` (nodes Kahn's sort could not place).

    Every such node has a predecessor that is also a candidate, so walking predecessors from
    any of them must come back to a node already seen.
    """
    members = set(candidates)
    predecessor: dict[str, str] = {}
    for source, target in pairs:
        if source in members and target in members:
            predecessor.setdefault(target, source)
    walk: list[str] = []
    seen: dict[str, int] = {}
    node_id = candidates[0]
    while node_id not in seen:
        seen[node_id] = len(walk)
        walk.append(node_id)
        node_id = predecessor[node_id]
    return list(reversed(walk[seen[node_id]:]))


def ordered_components(node_ids: Sequence[str],
                       pairs: Sequence[tuple[str, str]]) -> list[list[str]]:
    """Strongly connected components (Tarjan, iterative), each listed in the given id order,
    ordered by their first member. Pairs naming unknown ids are ignored."""
    position = {node_id: i for i, node_id in reversed(list(enumerate(node_ids)))}
    known = [(s, t) for s, t in pairs if s in position and t in position]
    tarjan = _Tarjan(_successors(known))
    for node_id in position:
        tarjan.visit(node_id)
    components = [sorted(c, key=position.__getitem__) for c in tarjan.components]
    return sorted(components, key=lambda c: position[c[0]])


class _Tarjan:
    def __init__(self, successors: dict[str, list[str]]) -> None:
        self.successors = successors
        self.index: dict[str, int] = {}
        self.low: dict[str, int] = {}
        self.stack: list[str] = []
        self.on_stack: set[str] = set()
        self.components: list[list[str]] = []

    def _enter(self, node_id: str) -> tuple[str, Iterator[str]]:
        self.index[node_id] = self.low[node_id] = len(self.index)
        self.stack.append(node_id)
        self.on_stack.add(node_id)
        return node_id, iter(self.successors.get(node_id, ()))

    def visit(self, root: str) -> None:
        if root in self.index:
            return
        work = [self._enter(root)]
        while work:
            node_id, children = work[-1]
            child = next((c for c in children if self._descend_or_link(node_id, c)), None)
            if child is not None:
                work.append(self._enter(child))
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                self.low[parent] = min(self.low[parent], self.low[node_id])
            self._maybe_close(node_id)

    def _descend_or_link(self, node_id: str, child: str) -> bool:
        """True when `child` is new and must be visited; else update the low-link."""
        if child not in self.index:
            return True
        if child in self.on_stack:
            self.low[node_id] = min(self.low[node_id], self.index[child])
        return False

    def _maybe_close(self, node_id: str) -> None:
        if self.low[node_id] != self.index[node_id]:
            return
        component: list[str] = []
        while True:
            member = self.stack.pop()
            self.on_stack.discard(member)
            component.append(member)
            if member == node_id:
                break
        self.components.append(component)


def ancestors(target: str, pairs: Sequence[tuple[str, str]]) -> set[str]:
    """`target` and every id with a path of pairs leading to it."""
    predecessors: dict[str, list[str]] = defaultdict(list)
    for source, dest in pairs:
        predecessors[dest].append(source)
    found = {target}
    queue = deque([target])
    while queue:
        for source in predecessors[queue.popleft()]:
            if source not in found:
                found.add(source)
                queue.append(source)
    return found

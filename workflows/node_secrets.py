"""Write-only node params (output:webhook's signing secret): sealed when a graph is written,
hidden whenever one is read.

A node type marks such a param `writeOnly` in its params schema. Every graph a client sends
(a workflow save, an execute with a graph of its own) goes through `seal_graph` before it is
validated or stored, so workflows, their versions, executions and node-run inputs hold only the
sealed value (workflows/secretbox.py); the executor reveals it when it signs. Every read path
(the workflow API, execution details) shows `PLACEHOLDER` for a value that is set.

What a client sends for such a param:
- `PLACEHOLDER` (what it read), or nothing at all: keep the value stored for the same node;
- `""`: no secret;
- anything else: the new secret.
"""

import copy
from collections.abc import Iterable
from functools import cache
from typing import Any

from wireflow_site.errors import InvalidGraph

from .graph import Violation, node_type_of, params_of
from .nodes import catalogue
from .secretbox import PLACEHOLDER, is_sealed_param, seal_param

__all__ = ["PLACEHOLDER", "redact_graph", "redact_params", "seal_graph", "secret_params",
           "strip_secrets"]


@cache
def secret_params(node_type: str | None) -> frozenset[str]:
    """The params of this node type that are write-only (none for no type)."""
    spec = catalogue.get(node_type) if node_type is not None else None
    if spec is None:
        return frozenset()
    return frozenset(name for name, field in spec.params.model_fields.items()
                     if isinstance(field.json_schema_extra, dict)
                     and field.json_schema_extra.get("writeOnly") is True)


def seal_graph(nodes: Any, previous: Any) -> Any:
    """A copy of `nodes` with every write-only param sealed, placeholders and left-out params
    taken from `previous` (the stored graph) by node id and type. Anything malformed is left
    for validation to report. 422 if a placeholder names a secret that is not stored."""
    if not isinstance(nodes, list):
        return nodes
    stored = {node["id"]: node for node in _secret_nodes(previous)}
    sealed = copy.deepcopy(nodes)
    violations = []
    for node in _secret_nodes(sealed):
        for name in secret_params(node_type_of(node)):
            if not _seal_param(node, name, _stored_value(stored.get(node["id"]), node, name)):
                violations.append(Violation(
                    "invalid_params", f"{name}: this node has no stored secret to keep: "
                                      "enter the secret again", node_id=node["id"]).to_dict())
    if violations:
        raise InvalidGraph(violations=violations)
    return sealed


def _stored_value(old: dict[str, Any] | None, node: dict[str, Any], name: str) -> str:
    """The sealed value the same node (same id and type) has stored, or ""."""
    if old is None or node_type_of(old) != node_type_of(node):
        return ""
    value = (params_of(old) or {}).get(name)
    if not isinstance(value, str) or not value:
        return ""
    return value if is_sealed_param(value) else seal_param(value)  # saved before sealing


def _seal_param(node: dict[str, Any], name: str, kept: str) -> bool:
    """Seal one param in place; False when it asks to keep a secret that is not there."""
    data = node["data"]
    if data.get("params") is None and kept:
        data["params"] = {}
    params = data.get("params")
    if not isinstance(params, dict):
        return True  # validation reports it
    value = params.get(name, PLACEHOLDER if kept else "")
    if value == PLACEHOLDER:
        if not kept:
            return False
        params[name] = kept
    elif isinstance(value, str) and value:
        params[name] = seal_param(value)
    return True


def redact_graph(nodes: Any) -> Any:
    """`nodes` as a client may see them: each write-only param that is set reads PLACEHOLDER.
    Nodes without such a param are shared, not copied."""
    return _replace_secrets(nodes, PLACEHOLDER)


def strip_secrets(nodes: Any) -> Any:
    """A copy of `nodes` without the write-only values (for a copy into another team)."""
    return _replace_secrets(nodes, "")


def redact_params(node_type: str, params: Any) -> Any:
    """One node's params (a node run's stored input) as a client may see them."""
    names = secret_params(node_type)
    if not names or not isinstance(params, dict):
        return params
    return {key: PLACEHOLDER if key in names and value else value
            for key, value in params.items()}


def _replace_secrets(nodes: Any, shown: str) -> Any:
    if not isinstance(nodes, list):
        return nodes
    return [_node_with(node, shown) if _is_secret_node(node) else node for node in nodes]


def _node_with(node: dict[str, Any], shown: str) -> dict[str, Any]:
    data = node["data"]
    params = data.get("params")
    if not isinstance(params, dict):
        return node
    names = secret_params(node_type_of(node))
    hidden = {key: shown if key in names and value else value for key, value in params.items()}
    return {**node, "data": {**data, "params": hidden}}


def _secret_nodes(nodes: Any) -> Iterable[dict[str, Any]]:
    if isinstance(nodes, list):
        yield from (node for node in nodes if _is_secret_node(node))


def _is_secret_node(node: Any) -> bool:
    return (isinstance(node, dict) and isinstance(node.get("id"), str)
            and isinstance(node.get("data"), dict) and bool(secret_params(node_type_of(node))))

"""What a workflow asks of a run: its input nodes, described for GET /workflows/{id}/run, and
the check that every required one has a value."""

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from wireflow_site.errors import InvalidRequest
from workflows.graph import GraphNode, runnable_nodes
from workflows.graph_rules import is_blank
from workflows.nodes import NodeType, catalogue

_EXAMPLES: dict[str, Any] = {"text": "some text", "image": "https://example.com/image.png",
                             "url": "https://example.com/file.mp4", "number": 1,
                             "boolean": True, "select": ""}


@dataclass(frozen=True)
class RunInput:
    node_id: str
    label: str
    type: str
    required: bool
    default: Any  # None: no default
    options: list[str] | None

    def as_json(self) -> dict[str, Any]:
        shape: dict[str, Any] = {"nodeId": self.node_id, "label": self.label,
                                 "type": self.type, "required": self.required}
        if self.default is not None:
            shape["default"] = self.default
        if self.options is not None:
            shape["options"] = self.options
        return shape

    def example(self) -> Any:
        if self.default is not None:
            return self.default
        if self.options:
            return self.options[0]
        return _EXAMPLES[self.type]


def run_inputs(nodes: list[Any]) -> list[RunInput]:
    """The workflow's input nodes (node types that declare an `input_param`), in graph order.
    The value saved in the node is its default (an empty text or URL is none)."""
    found = []
    for node in runnable_nodes(nodes, catalogue):
        spec = catalogue[node.node_type]
        if spec.input_param and spec.input_type:
            found.append(_describe(node, spec, spec.input_param, spec.input_type))
    return found


def _describe(node: GraphNode, spec: NodeType, param: str, input_type: str) -> RunInput:
    params = spec.parse_params(node.params)
    value = getattr(params, param, None)
    return RunInput(node_id=node.id, label=node.label or spec.label,
                    type=input_type,
                    required=bool(getattr(params, "required", False)),
                    default=None if is_blank(value) else value,
                    options=getattr(params, "options", None))


def example_inputs(inputs: list[RunInput]) -> dict[str, Any]:
    """A request body's `inputs`, keyed by label where the label names one input only."""
    labels = [i.label.strip().lower() for i in inputs]
    ids = {i.node_id for i in inputs}
    return {(i.label if labels.count(i.label.strip().lower()) == 1 and i.label not in ids
             else i.node_id): i.example() for i in inputs}


def require_inputs(inputs: list[RunInput], given: Mapping[str, Any]) -> None:
    """400 naming every required input that has neither a value in `given` (resolved: keyed
    by node id) nor a default."""
    missing = [i for i in inputs if i.required and i.default is None
               and is_blank(given.get(i.node_id))]
    if missing:
        names = ", ".join(f"'{i.label}' ({i.node_id})" for i in missing)
        raise InvalidRequest(f"Missing required input: {names}",
                             fields=[f"inputs.{i.node_id}" for i in missing])

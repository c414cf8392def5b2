"""Input nodes deliver their value: the param, or the run input that replaced it."""

from dataclasses import dataclass
from typing import Literal

from executions.engine.contracts import NodeContext, NodeFailure, NodeResult
from workflows.graph_rules import is_blank
from workflows.nodes import catalogue

from .table import executes


@dataclass(frozen=True)
class InputExecutor:
    """Delivers the node's value (its `input_param`) on its one output port."""

    param: str
    port: str
    kind: Literal["inline"] = "inline"
    pure: bool = True
    repeatable: bool = True

    def run(self, ctx: NodeContext) -> NodeResult:
        value = getattr(ctx.params, self.param)
        if getattr(ctx.params, "required", False) and is_blank(value):
            raise NodeFailure(f"input '{ctx.label}' is required but has no value")
        return NodeResult(ports={self.port: value}, output={self.port: value})


for _node_type in catalogue.values():
    if _node_type.category == "input":
        assert _node_type.input_param is not None and len(_node_type.outputs) == 1
        executes(_node_type.node_type,
                 InputExecutor(_node_type.input_param, _node_type.outputs[0].id))

"""The one registry of node types: what each type is, its ports, params, timeout and price.

Each family module (input.py, fal.py, ...) declares its types and calls `register()`; the
package's __init__ imports them all. Pure: no Django, so the graph tests need no database.
How a node type runs is not declared here: executions/executors/<family>.py holds its executor,
which the engine looks up by the node type's name.
"""

from __future__ import annotations

import copy
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from functools import cache
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic.config import JsonDict
from pydantic_core import ErrorDetails

from workflows.graph import Port

Category = Literal["input", "model", "utility", "logic", "output"]
# LLMs are priced per 1,000 tokens (their default model's price; the run charges what the
# provider reports), speech per 1,000 characters of text.
CreditUnit = Literal["run", "image", "second", "megapixel", "1k tokens", "1k characters"]
# How a run input is asked for and described (docs/api.md "Run with inputs"): files by URL.
InputType = Literal["text", "image", "url", "number", "boolean", "select"]
CATEGORY_ORDER: tuple[Category, ...] = ("input", "model", "utility", "logic", "output")
DEFAULT_TIMEOUT_SECONDS = 60
TEXTAREA: JsonDict = {"format": "textarea"}
URL: JsonDict = {"format": "uri"}
# The common params are marked so the editor can fold them into an "Advanced" section.
ADVANCED: JsonDict = {"group": "advanced"}


class BaseParams(BaseModel):
    """Params every node type accepts. Unknown keys are allowed: the editor stores UI hints."""

    model_config = ConfigDict(extra="allow")

    retries: int = Field(3, ge=0, le=10, description="Retries after a retryable failure.",
                         json_schema_extra=ADVANCED)
    timeoutSeconds: int | None = Field(  # camelCase: the JSON name the editor saves
        None, ge=1, le=86_400, title="Timeout (seconds)",
        description="Overrides the node type's default timeout.", json_schema_extra=ADVANCED)
    continueOnError: bool = Field(
        False, title="Continue on error", json_schema_extra=ADVANCED,
        description="On failure, pass {error} downstream instead of failing the run.")

    # The params a run's price depends on. When one of them is fed by an edge, its value is
    # known only while running, so the estimate assumes the worst.
    price_fields: ClassVar[frozenset[str]] = frozenset()

    def billable_units(self) -> float:
        """How many credit units one run costs (images, seconds, megapixels); 1 by default.
        Quantities that depend on the input media are estimated at a typical size."""
        return 1.0

    @classmethod
    def max_billable_units(cls) -> float:
        """The most units any run of this node type can cost, whatever its params and inputs
        (the provider's own limits); what is reserved when the params cannot be known."""
        return 1.0

    # The input media a run's price depends on, measured before it runs: (param, "megapixels"
    # or "seconds"); None when the params alone set the price.
    measured_media: ClassVar[tuple[str, str] | None] = None

    def bound_units(self, measured: float | None) -> float:
        """The most units this run can cost, given the measure of its `measured_media` (None
        when it could not be measured: then the worst case)."""
        return self.billable_units()


@dataclass(frozen=True, eq=False)
class NodeType:
    node_type: str
    label: str
    category: Category
    description: str
    params: type[BaseParams]
    inputs: tuple[Port, ...] = ()
    outputs: tuple[Port, ...] = ()
    output_aliases: Mapping[str, str] = field(default_factory=dict)
    timeout_seconds: int = DEFAULT_TIMEOUT_SECONDS
    credits: float = 0.0
    credit_unit: CreditUnit = "run"
    fal_model_id: str | None = None
    fal_edit_model_id: str | None = None  # used instead when images are connected
    # Input nodes: the one param a run input fills, and how a run dialog or an API client
    # asks for it. Everything that maps run inputs onto nodes reads these two fields.
    input_param: str | None = None
    input_type: InputType | None = None
    # A connected input replaces the param of the same name (docs/api.md), except on nodes whose
    # port and param share a name but mean different things (the router's `value`).
    ports_override_params: bool = True
    # The provider whose key runs it (a team's own key from Settings > Providers, else the
    # platform's); None for nodes that call no provider.
    provider: Literal["fal", "replicate", "openai", "anthropic", "stability"] | None = None

    def param_errors(self, params: Mapping[str, Any], connected_inputs: set[str]) -> list[str]:
        """Human messages for params that fail the schema; fields fed by an edge are skipped."""
        try:
            self.params.model_validate(dict(params))
        except ValidationError as exc:
            return [_describe(e) for e in exc.errors() if not _overridden(e, connected_inputs)]
        return []

    def parse_params(self, params: Mapping[str, Any]) -> BaseParams:
        """The params model, or its defaults when the given params do not validate."""
        try:
            return self.params.model_validate(dict(params))
        except ValidationError:
            return self.params.model_construct()

    def estimate_credits(self, params: Mapping[str, Any],
                         connected: Collection[str] = ()) -> float:
        """What a run is expected to cost, on the params that will run: a param fed by an edge
        is replaced by what arrives, so its saved value does not count. If the price depends
        on such a param, or the params do not validate, the worst case is assumed (never the
        defaults: they would price a run other than the one that happens)."""
        if not self.credits:
            return 0.0
        replaced = set(connected) & set(self.params.model_fields)
        try:
            if replaced & self.params.price_fields:
                raise ValueError("priced by a value known only while running")
            units = self.params.model_validate(
                {k: v for k, v in params.items() if k not in replaced}).billable_units()
        except (ValidationError, ValueError):
            units = self.params.max_billable_units()
        return round(self.credits * units, 4)


def _overridden(error: ErrorDetails, connected_inputs: set[str]) -> bool:
    loc = error.get("loc", ())
    return bool(loc) and loc[0] in connected_inputs


def _describe(error: ErrorDetails) -> str:
    field_path = ".".join(str(part) for part in error.get("loc", ())) or "params"
    message = error.get("msg", "is invalid").removeprefix("Value error, ")
    return f"{field_path}: {message}"


REGISTRY: dict[str, NodeType] = {}


def register(*node_types: NodeType) -> None:
    for node_type in node_types:
        if node_type.node_type in REGISTRY:
            raise ValueError(f"node type {node_type.node_type} is registered twice")
        _check_input_param(node_type)
        REGISTRY[node_type.node_type] = node_type


def _check_input_param(nt: NodeType) -> None:
    if (nt.input_param is None) != (nt.input_type is None):
        raise ValueError(f"node type {nt.node_type}: input_param and input_type go together")
    if nt.input_param is not None and nt.input_param not in nt.params.model_fields:
        raise ValueError(f"node type {nt.node_type}: input_param '{nt.input_param}' "
                         "is not one of its params")


def get(node_type: str) -> NodeType | None:
    return REGISTRY.get(node_type)


def all_types() -> list[NodeType]:
    """Every type for the palette: by category, then in registration order."""
    order = {category: i for i, category in enumerate(CATEGORY_ORDER)}
    return sorted(REGISTRY.values(), key=lambda nt: order[nt.category])


def catalogue_entry(nt: NodeType) -> dict[str, Any]:
    """One node type as GET /api/v1/nodes shows it (docs/api.md), plus hints for the editor."""
    return {
        "nodeType": nt.node_type,
        "label": nt.label,
        "category": nt.category,
        "description": nt.description,
        "inputs": [_port_entry(port) for port in nt.inputs],
        "outputs": [_port_entry(port) for port in nt.outputs],
        "paramsSchema": copy.deepcopy(params_schema(nt.params)),
        "credits": nt.credits,
        "creditUnit": nt.credit_unit,
        "timeoutSeconds": nt.timeout_seconds,
        "outputAliases": dict(nt.output_aliases),
        "inputParam": nt.input_param,
        "inputType": nt.input_type,
    }


@cache  # generating a schema takes ~0.5 ms and a model class never changes
def params_schema(params: type[BaseParams]) -> dict[str, Any]:
    """The params' JSON Schema, the node's own fields first and the common ones last.

    Shared: copy it before changing it."""
    schema = params.model_json_schema()
    common = set(BaseParams.model_fields)
    fields = schema.get("properties", {})
    schema["properties"] = {**{k: v for k, v in fields.items() if k not in common},
                            **{k: v for k, v in fields.items() if k in common}}
    return schema


def _port_entry(port: Port) -> dict[str, Any]:
    return {"id": port.id, "label": port.label or port.id, "type": str(port.type),
            "required": port.required, "multiple": port.multiple}

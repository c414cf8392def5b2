"""Request and response shapes of the workflows API (camelCase, as docs/api.md publishes them)."""

import math
from datetime import datetime
from typing import Annotated, Any, TypeVar

from django.conf import settings
from ninja import Schema
from ninja.errors import ValidationError as NinjaValidationError
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    PlainValidator,
    ValidationError,
    WithJsonSchema,
    field_validator,
)
from pydantic.json_schema import SkipJsonSchema

from wireflow_site.errors import InvalidRequest
from wireflow_site.isotime import iso
from wireflow_site.jsonbody import MalformedJson, parse_json

from .models import Workflow
from .node_secrets import redact_graph
from .versions import webhook_pin_out

Timestamp = Annotated[
    datetime,
    PlainSerializer(iso, return_type=str),
    WithJsonSchema({"type": "string", "format": "date-time",
                    "example": "2026-11-28T16:13:40.123Z"}),
]
Node = dict[str, Any]
Edge = dict[str, Any]
# Patterns say in the OpenAPI document what the validators below enforce: no NUL characters
# (PostgreSQL cannot store them) and, for names, at least one visible character.
NO_NUL = r"^[^\x00]*$"
Tag = Annotated[str, Field(min_length=1, max_length=50, pattern=NO_NUL)]
VERSION_REF_MAX = 50


def _version_ref(value: Any) -> int | str:
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise ValueError("must be a version number or a tag")
    if isinstance(value, str) and len(value) > VERSION_REF_MAX:
        raise ValueError(f"must be at most {VERSION_REF_MAX} characters")
    ref: int | str = value
    return ref


# A version of a workflow, by number (3 or "3") or by tag ("1.0.0" or "v1.0.0"). One validator
# rather than a union, so that an error names the field, not the union's branches.
VersionRef = Annotated[
    int | str,
    PlainValidator(_version_ref),
    WithJsonSchema({"anyOf": [{"type": "integer"},
                              {"type": "string", "maxLength": VERSION_REF_MAX}],
                    "description": "A version number (3 or \"3\") or tag (\"1.0.0\" or "
                                   "\"v1.0.0\")"}),
]


# --- Errors -------------------------------------------------------------------------------

class ErrorOut(Schema):
    error: str
    code: str


class FieldsErrorOut(ErrorOut):
    fields: list[str] = Field(default_factory=list, description="The fields at fault")


class ViolationOut(Schema):
    rule: str
    message: str
    nodeId: str | None = None
    edgeId: str | None = None


class InvalidGraphOut(ErrorOut):
    violations: list[ViolationOut]


class StaleWriteOut(ErrorOut):
    currentUpdatedAt: str = Field(description="The workflow's updatedAt on the server now")
    yourBaseUpdatedAt: str = Field(description="The baseUpdatedAt the request sent")


Model = TypeVar("Model", bound=BaseModel)


def parsed_body(raw: bytes, model: type[Model]) -> Model:
    """A JSON body read by the endpoint itself (one that also takes a form, or nothing), with
    the errors ninja's parsing gives: 400 invalid_json, and the API's one rendering of
    validation errors (400 invalid_request naming the fields)."""
    try:
        value = parse_json(raw)
    except MalformedJson:
        raise InvalidRequest("Malformed JSON body", code="invalid_json") from None
    try:
        return model.model_validate(value)
    except ValidationError as exc:
        raise NinjaValidationError([dict(error) for error in exc.errors()]) from None


# Every authenticated endpoint can answer these (bad input, auth, scope, size, rate limit).
COMMON_ERRORS: dict[int, Any] = {400: FieldsErrorOut, 401: ErrorOut, 403: ErrorOut,
                                 413: ErrorOut, 429: ErrorOut}


# --- Workflows ----------------------------------------------------------------------------

MAX_JSON_DEPTH = 64
WEBHOOK_SECRET_MIN_LENGTH = 16  # as the settings page asks


def storable(value: Any) -> Any:
    """A field validator's check: what PostgreSQL would refuse to store (a NUL, a lone
    surrogate, runaway nesting) is a 400 naming the field, never a 500."""
    problem = storable_json_problem(value)
    if problem:
        raise ValueError(f"value {problem}")
    return value


def storable_json_problem(value: Any) -> str | None:
    """Why PostgreSQL would refuse this parsed JSON, or None. Python's json module accepts NaN,
    Infinity, lone surrogates and NUL characters that jsonb and text columns reject; deep
    nesting would exhaust the stack when the value is copied or stored. Iterative on purpose."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > MAX_JSON_DEPTH:
            return f"is nested more than {MAX_JSON_DEPTH} levels deep"
        if isinstance(item, dict):
            stack.extend((key, depth) for key in item)
            stack.extend((child, depth + 1) for child in item.values())
        elif isinstance(item, list):
            stack.extend((child, depth + 1) for child in item)
        elif isinstance(item, str) and not _storable_text(item):
            return "contains a NUL character or an unpaired surrogate"
        elif isinstance(item, float) and not math.isfinite(item):
            return "contains NaN or Infinity"
    return None


def _storable_text(text: str) -> bool:
    if "\x00" in text:
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


# Request bodies are plain pydantic models: ninja's Schema reads any object through getattr,
# so it would take a JSON array for an object whose fields all have defaults.

NAME_MAX = 200
NAME_PATTERN = r"^[^\x00]*[^\s\x00][^\x00]*$"  # at least one visible character, no NUL


class WorkflowIn(BaseModel):
    name: str = Field(max_length=NAME_MAX, pattern=NAME_PATTERN)
    description: str | None = Field(None, max_length=10_000, pattern=NO_NUL)
    nodes: list[Node] = Field(description="React Flow nodes (see docs/api.md, Objects > Graph)")
    edges: list[Edge]
    tags: list[Tag] | None = Field(None, max_length=20)
    isActive: bool | None = None

    @field_validator("name")
    @classmethod
    def _name_not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("name must not be blank")
        return value.strip()

    @field_validator("name", "description", "nodes", "edges", "tags")
    @classmethod
    def _storable(cls, value: Any) -> Any:
        return storable(value)


class WorkflowUpdateIn(WorkflowIn):
    """Replaces the workflow. Optional fields left out keep their current values."""

    baseUpdatedAt: datetime | None = Field(
        None, description="The updatedAt the client last saw; a newer one on the server is 409")
    webhookEnabled: bool | None = Field(
        None, description="Turn the webhook trigger on (a new webhookId) or off (no URL).")
    webhookVersion: VersionRef | None = Field(
        None, description="Pin the webhook trigger to this version (a number or a tag); \"\" "
                          "or null: the webhook runs the current graph. Left out: unchanged.")
    webhookSecret: str | None = Field(
        None, max_length=255, pattern=NO_NUL, json_schema_extra={"writeOnly": True},
        description="Signing secret for the webhook (X-Wireflow-Signature); \"\" or null "
                    "clears it. Write-only: the workflow shows only webhookSecretSet.")
    # Not changed here (400 invalid_field): POST /workflows/{id}/visibility changes it.
    linkPermission: SkipJsonSchema[Any] = Field(None, exclude=True)

    @field_validator("webhookSecret")
    @classmethod
    def _secret_storable(cls, value: str | None) -> str | None:
        if value is not None and not _storable_text(value):
            raise ValueError("value contains a NUL character or an unpaired surrogate")
        if value and len(value) < WEBHOOK_SECRET_MIN_LENGTH:
            # A short secret can be guessed offline from one signed request.
            raise ValueError(f"must be at least {WEBHOOK_SECRET_MIN_LENGTH} characters "
                             "(\"\" or null clears it)")
        return value

    def webhook_version_change(self) -> str | int | None:
        """None: leave the pin as it is; "": run the current graph; else the version named.
        A null sent explicitly clears the pin, an absent field changes nothing."""
        if "webhookVersion" not in self.model_fields_set:
            return None
        return "" if self.webhookVersion is None else self.webhookVersion

    def changes_link_permission(self, current: str) -> bool:
        """Whether the body sends a linkPermission other than `current` (null included):
        sharing has its own endpoint, so a PUT that tries to change it is refused rather than
        half applied. Echoing the current value (a GET's answer sent back) changes nothing."""
        return "linkPermission" in self.model_fields_set and self.linkPermission != current

    def webhook_secret_change(self) -> str | None:
        """None: leave the secret as it is; "": clear it; else the new secret. A null sent
        explicitly clears, an absent field changes nothing."""
        if "webhookSecret" not in self.model_fields_set:
            return None
        return self.webhookSecret or ""


class WorkflowOut(Schema):
    id: str
    name: str
    description: str
    nodes: list[Node]
    edges: list[Edge]
    tags: list[str]
    isActive: bool
    teamId: int
    webhookId: str | None
    webhookUrl: str | None
    webhookEnabled: bool
    webhookSecretSet: bool = Field(description="Whether webhook requests must be signed")
    webhookVersion: int | str | None = Field(
        description="The version the webhook runs (a number or a tag); null: the current graph")
    executionCount: int
    lastExecutedAt: Timestamp | None
    createdAt: Timestamp
    updatedAt: Timestamp
    version: int
    linkPermission: str = Field(
        json_schema_extra={"enum": ["private", "view"]},
        description="\"view\": anyone with the link sees the public page (read-only canvas, "
                    "description, inputs); \"private\": only the team")


class WorkflowListQuery(Schema):
    isActive: bool | None = None
    limit: int = Field(100, ge=1, le=200)
    offset: int = Field(0, ge=0, le=1_000_000_000)  # bounded: PostgreSQL's OFFSET is a bigint


class LintIn(BaseModel):
    # Items are deliberately untyped: lint reports malformed nodes as violations, never 4xx.
    nodes: list[Any] = Field(default_factory=list)
    edges: list[Any] = Field(default_factory=list)


class LintOut(Schema):
    ok: bool
    violations: list[ViolationOut]
    warnings: list[ViolationOut]


# --- PATCH /workflows/{id}/nodes/{nodeId} ----------------------------------------------------

NODE_PATCH_FIELDS = ("config", "params", "label", "position")
# What a node PATCH never sets inside config/params either: the node's identity and type, and
# what runs write (the hosted API's clients send these by mistake when they echo a node back).
STRUCTURAL_KEYS = frozenset({"id", "type", "data", "nodeType", "category", "inputs", "outputs",
                             "output", "result", "results", "isExecuting"})
LABEL_MAX = 200


def _number(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) \
            or not math.isfinite(value):
        raise ValueError("must be a finite number")
    return float(value)


Coordinate = Annotated[float, PlainValidator(_number),
                       WithJsonSchema({"type": "number"})]


class PositionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    x: Coordinate
    y: Coordinate


class NodePatchIn(BaseModel):
    """Changes to one node. Keys outside these fields are kept in `model_extra` so that the
    endpoint can refuse them by name (400 invalid_field), not ignore them."""

    model_config = ConfigDict(extra="allow")

    config: dict[str, Any] | None = Field(
        None, description="Merged into the node's params like `params` (a key set to null "
                          "is removed)")
    params: dict[str, Any] | None = Field(
        None, description="Merged shallowly into the node's params; a key set to null is "
                          "removed")
    label: str | None = Field(None, max_length=LABEL_MAX, pattern=NO_NUL,
                              description="Replaces the node's label")
    position: PositionIn | None = Field(None, description="Replaces the node's position")
    baseUpdatedAt: datetime | None = Field(
        None, description="The updatedAt the client last saw; a newer one on the server is 409")

    @field_validator("config", "params", "label")
    @classmethod
    def _storable(cls, value: Any) -> Any:
        return storable(value)

    def refused_fields(self) -> list[str]:
        """The fields sent that a node PATCH may not set, by their path in the body."""
        refused = sorted(self.model_extra or {})
        for name in ("config", "params"):
            changes = getattr(self, name) or {}
            refused += [f"{name}.{key}" for key in sorted(changes) if key in STRUCTURAL_KEYS]
        return refused

    def param_changes(self) -> dict[str, Any] | None:
        """`config` and `params` as one set of changes (`params` wins where both set a key);
        None when neither was sent."""
        if self.config is None and self.params is None:
            return None
        return {**(self.config or {}), **(self.params or {})}

    def is_empty(self) -> bool:
        return all(getattr(self, name) is None for name in NODE_PATCH_FIELDS)


class NodePatchOut(Schema):
    node: Node = Field(description="The whole node as saved (React Flow shape)")
    updatedAt: Timestamp


class NodePatchedOut(Schema):
    data: NodePatchOut


# --- Duplicate ------------------------------------------------------------------------------

class DuplicateIn(BaseModel):
    name: str | None = Field(None, max_length=NAME_MAX, pattern=NAME_PATTERN,
                             description="The copy's name (default: the original's + \" (copy)\")")

    @field_validator("name")
    @classmethod
    def _strip(cls, value: str | None) -> str | None:
        return storable(value.strip()) if value is not None else None


class DuplicatedOut(Schema):
    id: str
    name: str
    url: str = Field(description="The copy's editor page")


class DuplicateOut(DuplicatedOut):
    data: DuplicatedOut = Field(description="The same three fields, for clients that read "
                                            "a `data` envelope")


def webhook_url(workflow: Workflow) -> str | None:
    if not (workflow.webhook_enabled and workflow.webhook_id):
        return None
    return f"{settings.SITE_URL}/api/v1/workflow/{workflow.webhook_id}/trigger"


def workflow_out(workflow: Workflow) -> dict[str, Any]:
    return {
        "id": str(workflow.id), "name": workflow.name, "description": workflow.description,
        "nodes": redact_graph(workflow.nodes), "edges": workflow.edges, "tags": workflow.tags,
        "isActive": workflow.is_active, "teamId": workflow.team_id,
        "webhookId": workflow.webhook_id if workflow.webhook_enabled else None,
        "webhookUrl": webhook_url(workflow), "webhookEnabled": workflow.webhook_enabled,
        "webhookSecretSet": bool(workflow.webhook_secret),
        "webhookVersion": webhook_pin_out(workflow),
        "executionCount": workflow.execution_count, "lastExecutedAt": workflow.last_executed_at,
        "createdAt": workflow.created_at, "updatedAt": workflow.updated_at,
        "version": workflow.version, "linkPermission": workflow.link_permission,
    }


def duplicate_out(workflow: Workflow) -> dict[str, Any]:
    copied = {"id": str(workflow.id), "name": workflow.name,
              "url": f"/workflows/{workflow.id}/edit"}
    return {**copied, "data": dict(copied)}

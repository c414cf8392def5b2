"""Request and response shapes of the execution endpoints (docs/api.md "Execution (poll shape)")."""

from typing import Any

from ninja import Schema
from ninja.schema import DjangoGetter
from pydantic import Field, field_validator, model_validator

from workflows.schemas import VersionRef, storable

from .models import ExecutionStatus, NodeStatus, Trigger


class ObjectBody(Schema):
    """A request body that must be a JSON object, even when every field is optional."""

    @model_validator(mode="before")
    @classmethod
    def _is_an_object(cls, value: Any) -> Any:
        # ninja's Schema wraps whatever it is given in a DjangoGetter and reads attributes off
        # it, so without this a JSON array or string body would pass as an empty one.
        raw = value._obj if isinstance(value, DjangoGetter) else value
        if not isinstance(raw, dict):
            raise ValueError("the body must be a JSON object")
        return value


class ExecuteIn(ObjectBody):
    nodes: list[dict[str, Any]] | None = Field(
        None, description="Run this graph instead of the saved one (validated).")
    edges: list[dict[str, Any]] | None = None
    inputs: dict[str, Any] = Field(default_factory=dict,
                                   description="Values for input nodes, by node id or label.")
    targetNodeId: str | None = Field(
        None, max_length=200,
        description="Run only this node and what it needs, reusing cached upstream results.")
    force: bool = Field(
        False, description="true: run every node again; no node reuses a cached result (not "
                           "even the upstream nodes of targetNodeId).")
    triggerData: dict[str, Any] = Field(default_factory=dict,
                                        description="Free-form, stored with the execution.")
    version: VersionRef | None = Field(
        None, description="Run this saved version (a number or a tag) instead of the current "
                          "graph; not together with nodes/edges. Unknown: 404.")

    @field_validator("nodes", "edges", "inputs", "targetNodeId", "triggerData")
    @classmethod
    def _storable(cls, value: Any) -> Any:
        return storable(value)


class ExecutionRunOut(Schema):
    id: str
    status: ExecutionStatus
    startTime: str | None
    nodeRuns: list[dict[str, Any]]


class ExecuteOut(Schema):
    executionId: str
    workflowId: str
    status: ExecutionStatus
    executionRuns: list[ExecutionRunOut]


class NodeStateOut(Schema):
    nodeId: str
    label: str
    nodeType: str
    status: NodeStatus
    error: str | None
    progress: float | None
    outputUrl: str | None
    outputUrls: list[str]
    text: str | None
    requestId: str | None
    attempts: int
    startedAt: str | None
    finishedAt: str | None
    durationMs: int | None
    credits: float
    cached: bool


class NodeStateDetailOut(NodeStateOut):
    input: dict[str, Any] | None
    attemptsLog: list[dict[str, Any]]
    cacheKey: str | None


class NodeRunResultOut(Schema):
    nodeId: str
    status: NodeStatus
    output: Any = None


class NodeResultsOut(Schema):
    nodeRuns: list[NodeRunResultOut]


class ExecutionSummaryOut(Schema):
    executionId: str
    workflowId: str
    status: ExecutionStatus
    error: str | None
    startTime: str | None
    endTime: str | None
    durationMs: int | None
    creditsUsed: float
    trigger: Trigger
    version: int | None = Field(description="The number of the workflow version run; null "
                                            "for a graph sent with the execute")
    versionTag: str | None = Field(description="That version's tag, if it has one")


class PollOut(ExecutionSummaryOut):
    nodeStates: list[NodeStateOut]
    nodeResults: NodeResultsOut
    finalOutput: dict[str, Any]


class GraphOut(Schema):
    nodes: list[dict[str, Any]]
    edges: list[dict[str, Any]]


class DetailsOut(PollOut):
    nodeStates: list[NodeStateDetailOut]  # type: ignore[assignment]
    inputs: dict[str, Any]
    triggerData: dict[str, Any]
    targetNodeId: str | None
    graph: GraphOut
    versionId: str | None


class HistoryOut(Schema):
    executions: list[ExecutionSummaryOut]
    nextCursor: str | None


class HistoryQuery(Schema):
    status: str | None = Field(None, pattern="^(RUNNING|COMPLETED|FAILED|CANCELLED)$")
    limit: int = Field(20, ge=1, le=100)
    cursor: str | None = Field(None, max_length=500)


class CancelOut(Schema):
    executionId: str
    status: str
    message: str

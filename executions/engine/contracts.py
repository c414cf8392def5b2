"""What an executor receives and returns. Each node type's executor is in
executions/executors/<family>.py, looked up by the node type's name; the engine only knows
these shapes."""

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from pydantic import BaseModel


class NodeFailure(Exception):
    """A node failed for a reason retrying will not fix (bad input, validation error)."""


@dataclass(frozen=True)
class NodeContext:
    execution_id: str
    team_id: int
    node_id: str
    node_type: str
    label: str
    params: BaseModel  # the node's params model, with connected inputs merged in
    inputs: Mapping[str, Any]  # values that arrived on input ports (lists on multiple ports)
    input_labels: Mapping[str, list[str]]  # port -> labels of the source nodes, in edge order
    attempt: int = 1
    webhook_url: str = ""
    # A provider node's key (executions.providers.credentials.Credentials), resolved before
    # the async provider calls; None when the node calls no provider or nobody has a key.
    credentials: Any = None


@dataclass
class NodeResult:
    ports: dict[str, Any]  # values delivered on output ports; an absent port delivers nothing
    output: dict[str, Any]  # what the user sees as the node's output
    credits: float = 0.0


@dataclass(frozen=True)
class RemoteJob:
    request_id: str
    urls: dict[str, str] = field(default_factory=dict)
    webhook: bool = False  # the provider will call back on completion
    # The provider's completion webhook body, when it arrived: the outcome without asking.
    delivered: dict[str, Any] | None = None
    # For a cancel: the key the job runs on (NodeContext.credentials); never stored.
    credentials: Any = None


@dataclass(frozen=True)
class RemoteStatus:
    done: bool
    progress: float | None = None
    logs: list[str] = field(default_factory=list)


class InlineExecutor(Protocol):
    """Runs in the worker, bounded by the node's deadline (the engine's heartbeat)."""

    @property
    def kind(self) -> Literal["inline"]: ...

    @property
    def pure(self) -> bool:
        """Reads nothing but its context and does no I/O: run at once, recorded in batches."""

    @property
    def repeatable(self) -> bool:
        """May run again when the worker running it was lost (False: it has side effects)."""

    def run(self, ctx: NodeContext) -> NodeResult: ...


class RemoteExecutor(Protocol):
    """A queue-style provider: submit, then check until done, then fetch. The engine never
    waits in a worker slot between these calls."""

    @property
    def kind(self) -> Literal["remote"]: ...

    async def submit(self, ctx: NodeContext) -> RemoteJob: ...

    async def check(self, ctx: NodeContext, job: RemoteJob) -> RemoteStatus: ...

    async def fetch(self, ctx: NodeContext, job: RemoteJob) -> NodeResult: ...

    async def cancel(self, job: RemoteJob) -> None: ...


Executor = InlineExecutor | RemoteExecutor


def inline(executor: Executor) -> InlineExecutor:
    """The executor of a node the engine runs inline (its kind says so)."""
    if executor.kind != "inline":
        raise TypeError(f"{executor!r} runs remotely")
    return executor


def remote(executor: Executor) -> RemoteExecutor:
    """The executor of a node the engine submits and checks (its kind says so)."""
    if executor.kind != "remote":
        raise TypeError(f"{executor!r} runs inline")
    return executor

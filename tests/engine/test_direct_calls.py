"""Providers that answer in one call (executions/engine/calls.py, `Direct`): the call runs on the
process's call loop while the advance that started it returns, its outcome comes back like a
webhook, its streamed text reaches live viewers, and the failure contract holds: retryable
errors are retried, refusals fail at once, a call whose process was lost is made again, and a
cancelled execution stops its call.

The node type here is the test's own (registered for the test only), so the calls can be
scripted; the engine runs in the test process (inprocess.drive)."""

import asyncio
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from channels.layers import get_channel_layer
from django.core.cache import cache
from pydantic import Field

from executions.engine import calls
from executions.engine.calls import Direct, Stream
from executions.engine.contracts import NodeContext, NodeFailure, NodeResult
from executions.engine.runner import advance
from executions.events import group_name
from executions.executors import EXECUTORS
from executions.models import ExecutionStatus, NodeRun, NodeStatus
from executions.providers.errors import ProviderError
from tests.conftest import ApiClient
from tests.harness import wait_until
from workflows.graph import Port, PortType
from workflows.nodes.registry import REGISTRY, BaseParams, NodeType

from .helpers import create_workflow, edge, execute, node
from .inprocess import drive

pytestmark = pytest.mark.django_db(transaction=True)

WORDS = ["Once", "upon", "a", "time"]


class ScriptParams(BaseParams):
    script: str = Field("ok", max_length=20)


class Script:
    """What the scripted calls did, for the test to look at."""

    def __init__(self) -> None:
        self.attempts: list[int] = []
        self.listening = threading.Event()
        self.cancelled = threading.Event()
        self.started = threading.Event()


SCRIPT = Script()


async def scripted_call(ctx: NodeContext, stream: Stream) -> NodeResult:
    SCRIPT.attempts.append(ctx.attempt)
    SCRIPT.started.set()
    script = getattr(ctx.params, "script", "ok")
    if script == "stream":
        await asyncio.to_thread(SCRIPT.listening.wait, 30)
    if script == "flaky" and ctx.attempt == 1:
        raise ProviderError("busy", http_status=429, retryable=True, retry_after=0)
    if script == "refused":
        raise ProviderError("model not found", http_status=404)
    if script == "invalid":
        raise NodeFailure("the answer was not JSON")
    if script == "bug":
        raise KeyError("choices")
    if script == "hang" or (script == "lost" and ctx.attempt == 1):
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            SCRIPT.cancelled.set()
            raise
    text = ""
    for word in WORDS:
        text = f"{text} {word}".strip()
        stream.text(text)
        if script == "stream":
            await asyncio.sleep(calls.STREAM_EVERY_SECONDS * 2)
    return NodeResult(ports={"text": text}, output={"text": text}, credits=0.0)


@pytest.fixture(autouse=True)
def scripted_node(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    global SCRIPT
    SCRIPT = Script()
    monkeypatch.setitem(REGISTRY, "test:call", NodeType(
        node_type="test:call", label="Scripted call", category="utility",
        description="A provider call scripted by the test.", params=ScriptParams,
        outputs=(Port("text", PortType.TEXT),), timeout_seconds=120, provider="openai"))
    monkeypatch.setitem(EXECUTORS, "test:call", Direct(call=scripted_call))
    yield


def run_of(api: ApiClient, script: str, **params: Any) -> str:
    nodes = [node("call", "test:call", "Call", script=script, **params),
             node("out", "output:result", "Result")]
    return execute(api, create_workflow(api, nodes, [edge("call", "text", "out", "value")]))


def call_run(execution_id: str) -> NodeRun:
    return NodeRun.objects.get(execution_id=execution_id, node_id="call")


def test_the_advance_returns_while_the_call_runs_and_its_outcome_wakes_the_execution(
        sent: list[str], api: ApiClient) -> None:
    execution_id = run_of(api, "hang")
    advance(execution_id)  # submits, and returns: no worker slot waits for the provider
    run = call_run(execution_id)
    assert (run.status, run.phase) == (NodeStatus.RUNNING, "submitted")
    assert run.request_id.startswith("call_")
    wait_until(SCRIPT.started.is_set, 30, "the call never started")
    assert api.post(f"/workflows/executions/{execution_id}/cancel").status_code == 202
    assert drive(execution_id).status == ExecutionStatus.CANCELLED
    wait_until(SCRIPT.cancelled.is_set, 30, "the call was not stopped by the cancel")


def test_a_call_completes_with_its_result_delivered_like_a_webhook(
        sent: list[str], api: ApiClient) -> None:
    execution = drive(run_of(api, "ok"))
    assert execution.status == ExecutionStatus.COMPLETED
    run = call_run(str(execution.pk))
    assert run.output == {"text": "Once upon a time"}
    assert run.remote["delivered"]["result"]["ports"] == {"text": "Once upon a time"}
    assert execution.final_output is not None
    assert "Once upon a time" in str(execution.final_output)


def test_streamed_text_reaches_the_executions_live_viewers_growing(
        sent: list[str], api: ApiClient) -> None:
    execution_id = run_of(api, "stream")
    received: list[dict[str, Any]] = []

    async def listen() -> None:
        layer = get_channel_layer()
        channel = await layer.new_channel()
        await layer.group_add(group_name(execution_id), channel)
        SCRIPT.listening.set()
        while not received or received[-1]["data"]["text"] != "Once upon a time":
            message = await asyncio.wait_for(layer.receive(channel), 30)
            if message["type"] == "execution.stream":
                received.append(message)

    listener = threading.Thread(target=lambda: asyncio.run(listen()), daemon=True)
    listener.start()
    assert drive(execution_id).status == ExecutionStatus.COMPLETED
    listener.join(30)
    texts = [message["data"]["text"] for message in received]
    assert len(texts) >= 2 and texts[-1] == "Once upon a time"
    assert all(later.startswith(earlier) for earlier, later in zip(texts, texts[1:],
                                                                    strict=False))
    assert received[0]["data"]["nodeId"] == "call" and received[0]["data"]["attempt"] == 1


def test_a_retryable_error_is_retried_by_the_engine(sent: list[str], api: ApiClient) -> None:
    execution = drive(run_of(api, "flaky"))
    assert execution.status == ExecutionStatus.COMPLETED
    run = call_run(str(execution.pk))
    assert run.attempt == 2 and SCRIPT.attempts == [1, 2]
    assert [entry["httpStatus"] for entry in run.attempts_log] == [429, None]


@pytest.mark.parametrize(("script", "error"), [
    ("refused", "model not found"),
    ("invalid", "the answer was not JSON"),
    ("bug", "KeyError"),
])
def test_a_refusal_or_a_bug_fails_the_node_at_once_with_its_message(
        sent: list[str], api: ApiClient, script: str, error: str) -> None:
    execution = drive(run_of(api, script))
    assert execution.status == ExecutionStatus.FAILED
    run = call_run(str(execution.pk))
    assert run.status == NodeStatus.FAILED and error in run.error
    assert SCRIPT.attempts == [1]  # never tried again


def test_a_call_whose_process_was_lost_is_made_again(sent: list[str], api: ApiClient) -> None:
    execution_id = run_of(api, "lost")
    advance(execution_id)
    wait_until(SCRIPT.started.is_set, 30, "the call never started")
    run = call_run(execution_id)
    # The process making the call dies: its call stops and its liveness mark lapses.
    calls.calls().cancel(run.request_id)
    wait_until(SCRIPT.cancelled.is_set, 30, "the call did not stop")
    cache.delete(f"wireflow:call:alive:{run.request_id}")
    NodeRun.objects.filter(pk=run.pk).update(next_check_at=None)  # the next poll is due now
    execution = drive(execution_id)
    assert execution.status == ExecutionStatus.COMPLETED
    run = call_run(execution_id)
    assert SCRIPT.attempts == [1, 2] and run.attempt == 2
    assert run.attempts_log[0]["error"] == calls.LOST

"""Providers that answer in one call, possibly streamed (LLM chat, speech, Stability), run on
the remote path without holding a worker slot.

`Direct(call)` is a RemoteExecutor. Its `submit` starts the call on this process's
call loop (a daemon thread running one asyncio loop, shared by every call in flight) and
returns at once; the advance ends as it does after a queue-style submit. When the call ends,
its outcome is delivered like a provider's webhook (services.provider_hook_received: stored on
the node run, the execution woken), and `check`/`fetch` read it from there.

A call in flight refreshes a liveness mark in the cache every few seconds. A check that finds
neither the outcome nor the mark knows the process making the call is gone (a restart, a
crash) and fails the attempt as retryable, so the retry contract runs it again.

Streamed text goes to the node's live viewers (`Stream.text`): sent at most every
STREAM_EVERY_SECONDS on the execution's Channels group as a `node.stream` message, which is not
stored (the node's output holds the whole text when it completes).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import threading
import time
import uuid
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from django.core.cache import cache
from django.db import close_old_connections

from executions.events import broadcast_live
from executions.models import NodeRun
from executions.providers.errors import ProviderError
from executions.services import provider_hook_received
from wireflow_site.perprocess import PerProcess

from .contracts import NodeContext, NodeFailure, NodeResult, RemoteJob, RemoteStatus

logger = logging.getLogger("wireflow.engine")
# A call in flight renews its mark every ALIVE_EVERY seconds; the mark lives ALIVE_TTL.
ALIVE_EVERY_SECONDS = 5.0
ALIVE_TTL_SECONDS = 30
# No single call outlives this, whatever its node's timeout (the engine fails the node at its
# own deadline and cancels the call; this only bounds a call nobody waits for any more).
MAX_CALL_SECONDS = 3 * 3600
STREAM_EVERY_SECONDS = 0.1
MAX_STREAM_CHARS = 64_000  # what one live message carries; the output holds the whole text
LOST = ("The process making this call was lost (restarted or stopped) before the provider "
        "answered; the call is made again.")


class Stream(Protocol):
    def text(self, text: str) -> None:
        """The node's text so far; cheap to call on every token (sending is throttled)."""


CallFn = Callable[[NodeContext, Stream], Coroutine[Any, Any, NodeResult]]


@dataclass(frozen=True, eq=False)
class Direct:
    """The executor of a node whose provider answers in one call: `call(ctx, stream)` makes
    it and returns the node's result (credits 0 on the team's own key), or raises
    ProviderError (retryable or not) / NodeFailure."""

    call: CallFn
    kind: Literal["remote"] = "remote"

    async def submit(self, ctx: NodeContext) -> RemoteJob:
        request_id = f"call_{uuid.uuid4().hex}"
        await cache.aset(_alive_key(request_id), 1, ALIVE_TTL_SECONDS)
        calls().start(request_id, ctx, self.call)
        return RemoteJob(request_id=request_id, webhook=True)

    async def check(self, ctx: NodeContext, job: RemoteJob) -> RemoteStatus:
        if job.delivered is not None:
            return RemoteStatus(done=True)
        if await cache.aget(_alive_key(job.request_id)) is None:
            raise ProviderError(LOST, retryable=True)
        return RemoteStatus(done=False)

    async def fetch(self, ctx: NodeContext, job: RemoteJob) -> NodeResult:
        delivered = job.delivered or {}
        result = delivered.get("result")
        if isinstance(result, dict):
            return NodeResult(ports=dict(result.get("ports") or {}),
                              output=dict(result.get("output") or {}),
                              credits=float(result.get("credits") or 0.0))
        raise _error_of(delivered.get("error"))

    async def cancel(self, job: RemoteJob) -> None:
        """Stops the call wherever it runs: here at once, in another process at its next
        liveness renewal (it looks for this mark)."""
        await cache.aset(_cancel_key(job.request_id), 1, ALIVE_TTL_SECONDS * 4)
        calls().cancel(job.request_id)


def _alive_key(request_id: str) -> str:
    return f"wireflow:call:alive:{request_id}"


def _cancel_key(request_id: str) -> str:
    return f"wireflow:call:cancel:{request_id}"


# --- The outcome, delivered like a provider's webhook ------------------------------------

def _outcome(request_id: str, result: NodeResult | BaseException) -> dict[str, Any]:
    if isinstance(result, NodeResult):
        return {"request_id": request_id, "result": {
            "ports": result.ports, "output": result.output, "credits": result.credits}}
    if isinstance(result, ProviderError):
        error = {"kind": "provider", "message": result.message,
                 "httpStatus": result.http_status, "retryable": result.retryable,
                 "retryAfter": result.retry_after}
    elif isinstance(result, NodeFailure):
        error = {"kind": "failure", "message": str(result)}
    elif isinstance(result, asyncio.TimeoutError | TimeoutError):
        error = {"kind": "provider", "message": "the provider did not answer in time",
                 "retryable": True}
    else:  # a bug in a client: recorded as the attempt's error, never lost
        logger.error("call %s failed", request_id, exc_info=result)
        error = {"kind": "failure",
                 "message": f"the call failed ({result.__class__.__name__}: {result})"[:500]}
    return {"request_id": request_id, "error": error}


def _error_of(error: object) -> Exception:
    if not isinstance(error, dict):
        return NodeFailure("the call ended without a result")
    message = str(error.get("message") or "the call failed")
    if error.get("kind") == "failure":
        return NodeFailure(message)
    status = error.get("httpStatus")
    retry_after = error.get("retryAfter")
    return ProviderError(message, http_status=status if isinstance(status, int) else None,
                         retryable=bool(error.get("retryable")),
                         retry_after=float(retry_after) if isinstance(retry_after, int | float)
                         else None)


def _deliver(ctx: NodeContext, body: dict[str, Any]) -> None:
    close_old_connections()
    try:
        run_id = NodeRun.objects.filter(execution_id=ctx.execution_id, node_id=ctx.node_id) \
            .values_list("pk", flat=True).first()
        if run_id is not None:
            provider_hook_received(run_id, ctx.attempt, body)
    finally:
        close_old_connections()  # as a request would: per CONN_MAX_AGE


# --- Live text ---------------------------------------------------------------------------

class _LiveStream:
    """Sends the newest text at most every STREAM_EVERY_SECONDS, never two sends at once."""

    def __init__(self, ctx: NodeContext) -> None:
        self.ctx = ctx
        self.latest: str | None = None
        self.sent_at = 0.0
        self.sending: concurrent.futures.Future[Any] | None = None

    def text(self, text: str) -> None:
        self.latest = text
        now = time.monotonic()
        if now - self.sent_at >= STREAM_EVERY_SECONDS and (
                self.sending is None or self.sending.done()):
            self.flush(now)

    def flush(self, now: float | None = None) -> None:
        if self.latest is None:
            return
        self.sent_at = time.monotonic() if now is None else now
        self.sending = broadcast_live(self.ctx.execution_id, {
            "nodeId": self.ctx.node_id, "attempt": self.ctx.attempt,
            "text": self.latest[:MAX_STREAM_CHARS]})
        self.latest = None


# --- The call loop -----------------------------------------------------------------------

@dataclass
class CallLoop:
    """One asyncio loop on a daemon thread of this process, running every call in flight."""

    loop: asyncio.AbstractEventLoop = field(default_factory=asyncio.new_event_loop)
    tasks: dict[str, asyncio.Task[None]] = field(default_factory=dict)
    # Database work (deliveries) off the loop, on a thread that keeps its connection.
    db: concurrent.futures.ThreadPoolExecutor = field(
        default_factory=lambda: concurrent.futures.ThreadPoolExecutor(
            max_workers=2, thread_name_prefix="call-db"))

    def __post_init__(self) -> None:
        threading.Thread(target=self._serve, name="calls", daemon=True).start()

    def _serve(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.create_task(self._renew())
        self.loop.run_forever()

    def start(self, request_id: str, ctx: NodeContext, call: CallFn) -> None:
        def begin() -> None:
            self.tasks[request_id] = self.loop.create_task(self._run(request_id, ctx, call))

        self.loop.call_soon_threadsafe(begin)

    def cancel(self, request_id: str) -> None:
        def stop() -> None:
            task = self.tasks.get(request_id)
            if task is not None:
                task.cancel()

        self.loop.call_soon_threadsafe(stop)

    async def _run(self, request_id: str, ctx: NodeContext, call: CallFn) -> None:
        stream = _LiveStream(ctx)
        try:
            try:
                result: NodeResult | BaseException = await asyncio.wait_for(
                    call(ctx, stream), MAX_CALL_SECONDS)
            except asyncio.CancelledError:
                return  # cancelled: the engine has already settled the node
            except Exception as exc:
                result = exc
            body = _outcome(request_id, result)
            try:
                await self.loop.run_in_executor(self.db, _deliver, ctx, body)
            except Exception:
                # The database is away: the liveness mark lapses and the engine calls again.
                logger.exception("could not deliver the outcome of call %s", request_id)
        finally:
            self.tasks.pop(request_id, None)

    async def _renew(self) -> None:
        """Every few seconds: renew the marks of the calls in flight, and stop the ones whose
        node was cancelled or timed out in another process."""
        while True:
            await asyncio.sleep(ALIVE_EVERY_SECONDS)
            ids = list(self.tasks)
            if not ids:
                continue
            try:
                await self.loop.run_in_executor(self.db, _renew_marks, ids)
                cancelled = await self.loop.run_in_executor(self.db, _cancelled, ids)
            except Exception:
                logger.warning("could not renew the marks of calls in flight", exc_info=True)
                continue
            for request_id in cancelled:
                task = self.tasks.get(request_id)
                if task is not None:
                    task.cancel()


def _renew_marks(ids: list[str]) -> None:
    cache.set_many({_alive_key(request_id): 1 for request_id in ids}, ALIVE_TTL_SECONDS)


def _cancelled(ids: list[str]) -> list[str]:
    found = cache.get_many([_cancel_key(request_id) for request_id in ids])
    return [request_id for request_id in ids if _cancel_key(request_id) in found]


_loop = PerProcess(CallLoop)


def calls() -> CallLoop:
    """This process's call loop (a forked Celery child starts its own)."""
    return _loop.get()

"""Live execution events as Server-Sent Events (docs/api.md "Live events"):
`GET /api/v1/workflows/executions/{executionId}/events`.

A snapshot (the poll shape) first, then every stored event with `seq` above it as
`event: node|execution`, `id: <seq>`; the stream ends after the terminal `execution` event.
`Last-Event-ID: N` (or `?lastEventId=N`) skips the snapshot and replays the events after N.

The stored events are the source of truth. The execution's Channels group is only a fast
path: a broadcast that continues the sequence is sent as it is, anything else (a gap, a lost
broadcast, a quiet spell) is filled from the database, so a stream has no gaps and no
duplicates whatever the channel layer does.
"""

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator, Callable
from typing import Any, TypeVar

from asgiref.sync import sync_to_async
from channels.layers import BaseChannelLayer, get_channel_layer
from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from ninja import Router
from ninja.params import functions as param

from accounts.auth import ApiAuth, caller_of
from accounts.scopes import EXECUTIONS_READ
from workflows.schemas import COMMON_ERRORS, ErrorOut

from . import selectors
from .events import as_message, continuing, group_name, remember_web_loop
from .models import Execution, ExecutionStatus

router = Router(tags=["executions"])
logger = logging.getLogger("wireflow.events")

PING_SECONDS = 15.0  # keeps proxies and load balancers from closing a quiet stream
RECHECK_SECONDS = 5.0  # how long a lost broadcast can delay an event at worst
POLL_SECONDS = 1.0  # without a channel layer the database is read this often
LEAVE_SECONDS = 5.0  # bounds the wait for a cancelled receive to end
PAGE = 500
MAX_SEQ = 2**63 - 1  # sequence numbers are BIGINT
TERMINAL = {ExecutionStatus.COMPLETED, ExecutionStatus.FAILED, ExecutionStatus.CANCELLED}
SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}

_STREAM_DOC = (
    "A `text/event-stream`. Without `Last-Event-ID`: first `event: snapshot` (`id:` the last "
    "event's sequence number, `data:` the poll shape), then `event: node` / `event: execution` "
    "frames, `id:` increasing, `data:` JSON; `: ping` comments every 15 s. The stream ends "
    "after the terminal `execution` event.")
_OPENAPI = {"responses": {
    200: {"description": _STREAM_DOC,
          "content": {"text/event-stream": {"schema": {"type": "string"}}}},
    204: {"description": "Resumed after the execution's last event and the execution has "
                         "ended: nothing more will come (EventSource stops reconnecting)."},
}}

T = TypeVar("T")


@router.get("/executions/{execution_id}/events", auth=ApiAuth(EXECUTIONS_READ),
            response={200: None, 204: None, 404: ErrorOut, **COMMON_ERRORS},
            openapi_extra=_OPENAPI, summary="Live events of an execution (Server-Sent Events)")
def events(request: HttpRequest, execution_id: str,
           last_event_id: int | None = param.Header(None, alias="Last-Event-ID", ge=0, le=MAX_SEQ),
           resume_after: int | None = param.Query(None, alias="lastEventId", ge=0, le=MAX_SEQ,
                                            description="Last-Event-ID for clients that "
                                                        "cannot set headers"),
           ) -> HttpResponse | StreamingHttpResponse:
    caller = caller_of(request)
    execution = selectors.execution_get_for_user(caller.user, execution_id,
                                                 team=caller.lookup_team)
    after = last_event_id if last_event_id is not None else resume_after
    if after is not None and _nothing_more(execution, after):
        return HttpResponse(status=204)
    response = StreamingHttpResponse(stream(str(execution.pk), after),
                                     content_type="text/event-stream")
    for name, value in SSE_HEADERS.items():
        response[name] = value
    return response


def _nothing_more(execution: Execution, after: int) -> bool:
    # An EventSource reconnects whenever a stream closes; a 204 is how it is told to stop.
    return execution.status in TERMINAL and after >= execution.last_seq


def frame(kind: str, seq: int, data: Any) -> bytes:
    payload = json.dumps(data, cls=DjangoJSONEncoder, separators=(",", ":"))
    return f"event: {kind}\nid: {seq}\ndata: {payload}\n\n".encode()


PING = b": ping\n\n"


def is_terminal(message: dict[str, Any]) -> bool:
    return message["type"] == "execution" and message["data"].get("status") in TERMINAL


async def stream(execution_id: str, after: int | None) -> AsyncIterator[bytes]:
    """The frames of one SSE response; runs until the terminal event or the client leaves
    (under ASGI a disconnect cancels this generator, and `finally` leaves the group)."""
    doorbell = Doorbell(execution_id)
    await doorbell.join()  # before reading anything, so no broadcast falls in between
    try:
        if after is None:
            seq, snapshot = await _read(selectors.execution_snapshot, execution_id)
            if snapshot is None:
                return  # deleted since the request was let in
            yield frame("snapshot", seq, snapshot)
            if snapshot["status"] in TERMINAL:
                return
            after = seq
        async for chunk in _follow(doorbell, execution_id, after):
            yield chunk
    finally:
        await doorbell.leave()


async def _follow(doorbell: "Doorbell", execution_id: str, last: int) -> AsyncIterator[bytes]:
    broadcast: list[dict[str, Any]] = []
    written = time.monotonic()
    while True:
        batch = continuing(broadcast, last) or []
        if not batch:  # nothing new, or a gap: the stored events say
            batch, still_open = await _read(_stored_after, execution_id, last)
            if not still_open:
                return
        for message in batch:
            yield frame(message["type"], message["seq"], message["data"])
            last, written = message["seq"], time.monotonic()
            if is_terminal(message):
                return
        if len(batch) >= PAGE:
            continue  # a full page from the database may have more behind it
        broadcast = await doorbell.next()
        if time.monotonic() - written >= PING_SECONDS:
            yield PING
            written = time.monotonic()


class Doorbell:
    """The execution's Channels group, best effort: when the channel layer is missing or
    fails, the stream falls back to reading the database every POLL_SECONDS."""

    def __init__(self, execution_id: str) -> None:
        self.group = group_name(execution_id)
        self.layer: BaseChannelLayer | None = get_channel_layer()
        self.channel = ""
        # One receive stays pending across quiet spells: cancelling it there would leave the
        # channel unread until the next one started (a pub/sub layer drops what comes between).
        self._receiving: asyncio.Future[dict[str, Any]] | None = None

    async def join(self) -> None:
        remember_web_loop()
        if self.layer is None:
            return
        try:
            self.channel = await self.layer.new_channel()
            await self.layer.group_add(self.group, self.channel)
        except Exception:
            self._give_up()

    async def leave(self) -> None:
        receiving, self._receiving = self._receiving, None
        if receiving is not None:
            receiving.cancel()
            await asyncio.wait({receiving}, timeout=LEAVE_SECONDS)
        if self.layer is None or not self.channel:
            return
        try:
            await self.layer.group_discard(self.group, self.channel)
        except Exception:
            logger.warning("could not leave %s", self.group, exc_info=True)

    async def next(self) -> list[dict[str, Any]]:
        """The events of the next broadcast, or [] after a quiet RECHECK_SECONDS."""
        if self.layer is None:
            await asyncio.sleep(POLL_SECONDS)
            return []
        if self._receiving is None:
            self._receiving = asyncio.ensure_future(self.layer.receive(self.channel))
        done, _ = await asyncio.wait({self._receiving}, timeout=RECHECK_SECONDS)
        if not done:
            return []
        receiving, self._receiving = self._receiving, None
        try:
            message = receiving.result()
        except Exception:
            self._give_up()
            return []
        return list(message.get("events") or [])

    def _give_up(self) -> None:
        logger.warning("channel layer unavailable for %s; polling the database", self.group,
                       exc_info=True)
        self.layer = None


async def _read(function: Callable[..., T], *args: Any) -> T:
    return await sync_to_async(_closing(function))(*args)


def _closing(function: Callable[..., T]) -> Callable[..., T]:
    # A stream can stay open for minutes: it must not hold a database connection meanwhile.
    def run(*args: Any) -> T:
        try:
            return function(*args)
        finally:
            connection.close()

    return run


def _stored_after(execution_id: str, seq: int) -> tuple[list[dict[str, Any]], bool]:
    """The stored events after `seq` (a page), and whether more can still come: not when the
    execution is gone, or has ended with its last event behind us (a resume past the end)."""
    events = [as_message(event) for event in selectors.events_after(execution_id, seq, PAGE)]
    if events:
        return events, True
    state = selectors.execution_progress(execution_id)
    if state is None:
        return [], False
    status, last_seq = state
    return [], not (status in TERMINAL and seq >= last_seq)

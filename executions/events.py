"""The one event publisher. State changes are buffered by the engine and flushed together with
the transaction that made them: events get gap-free sequence numbers, are stored, and after
commit are sent to the execution's Channels group. WebSocket and SSE consumers read the same
events, so a reconnect resumes by sequence number."""

import asyncio
import concurrent.futures
import functools
import json
import logging
import threading
import time
from functools import partial
from typing import Any

from channels.layers import get_channel_layer
from django.db import connection, transaction
from django.db.models import F

from wireflow_site.perprocess import PerProcess, daemon_loop

from .models import Execution, ExecutionEvent

logger = logging.getLogger("wireflow.events")


class LeaseLost(Exception):
    """Another worker wrote events for this execution: this one is stale and must stop."""


def group_name(execution_id: str) -> str:
    return f"execution.{execution_id}"


class EventBuffer:
    def __init__(self, execution: Execution) -> None:
        self.execution = execution
        self.pending: list[tuple[str, dict[str, Any]]] = []

    def add(self, kind: str, data: dict[str, Any]) -> None:
        self.pending.append((kind, data))

    def flush(self) -> None:
        """Store the buffered events; call inside the transaction that made the changes.
        Sequence numbers are taken by an increment of the execution's counter, whose row lock
        is held until that transaction ends: gap-free and in commit order, also when a runner
        that lost its lease still records the node it had claimed."""
        if not self.pending:
            return
        rows = self.pending_rows()
        with transaction.atomic(savepoint=False):  # the caller's transaction holds it all
            if connection.vendor == "postgresql":
                top = _store_numbered(self.execution.pk, rows)
            else:
                top = _take_seqs(self.execution.pk, len(rows))
                if top is not None:
                    _number(rows, top)
                    ExecutionEvent.objects.bulk_create(rows)
            if top is None:
                raise LeaseLost(str(self.execution.pk))  # the execution is gone
        self.stored(rows, top)

    def pending_rows(self) -> list[ExecutionEvent]:
        """The buffered events as rows to store (numbered by `stored`)."""
        return [ExecutionEvent(execution_id=self.execution.pk, type=kind, payload=data)
                for kind, data in self.pending]

    def stored(self, rows: list[ExecutionEvent], top: int) -> None:
        """The pending events were stored as `rows`, numbered up to `top` (in the transaction
        under way, or committed already): they go to the listeners once it commits."""
        _number(rows, top)
        self.execution.last_seq = top
        self.pending = []
        messages = [as_message(row) for row in rows]
        transaction.on_commit(lambda: broadcast(str(self.execution.pk), messages))


def _number(rows: list[ExecutionEvent], top: int) -> None:
    base = top - len(rows)
    for i, row in enumerate(rows):
        row.seq = base + i + 1


def _store_numbered(execution_id: Any, rows: list[ExecutionEvent]) -> int | None:
    """PostgreSQL: take the sequence numbers and insert the events in one statement, a
    data-modifying WITH; the counter's new value (None: no such execution, nothing stored)."""
    with connection.cursor() as cursor:
        cursor.execute(_store_numbered_sql(), numbered_params(execution_id, rows))
        stored = [int(seq) for seq, in cursor.fetchall()]
    return max(stored) if stored else None


def numbered_params(execution_id: Any, rows: list[ExecutionEvent]) -> list[Any]:
    """The parameters of `numbered_events_sql`'s two parts, in order."""
    pk = Execution._meta.pk.get_db_prep_value(execution_id, connection)
    encoder = ExecutionEvent._meta.get_field("payload").encoder
    count = len(rows)
    # The events go as one JSON parameter: bound as arrays, each payload's JSON text was
    # escaped in Python, which cost more than storing it.
    records = [{"n": n, "type": row.type, "payload": row.payload,
                "created_at": row.created_at.isoformat()} for n, row in enumerate(rows, 1)]
    return [count, pk, pk, count, json.dumps(records, cls=encoder)]


@functools.cache
def _store_numbered_sql() -> str:
    """_store_numbered's statement, written once (a pass flushes events several times)."""
    counter, stored = numbered_events_sql()
    return f"WITH counter AS ({counter}) {stored}"


@functools.cache
def numbered_events_sql(condition: str = "", *, also_set: str = "", also_from: str = "",
                        also_return: str = "") -> tuple[str, str]:
    """PostgreSQL: the UPDATE that adds the events' count to the execution's counter (where
    `condition` holds too, when given) returning its new value as `top`, and the INSERT of the
    events numbered up to it that reads it from a WITH named `counter`, returning their `seq`.
    The caller's own `also_set` assignments, `also_from` relation and `also_return` columns
    join the UPDATE's (one statement may update the execution's row only once)."""
    execution, event = Execution._meta, ExecutionEvent._meta

    def col(meta: Any, name: str) -> str:
        return _qn(meta.get_field(name).column)

    last_seq = col(execution, "last_seq")
    # Only our own table and column names (and the caller's own condition) are interpolated;
    # every value is a parameter.
    counter = (f"UPDATE {_qn(execution.db_table)} SET {last_seq} = {last_seq} + %s"  # noqa: S608
               + (f", {also_set}" if also_set else "")
               + (f" FROM {also_from}" if also_from else "")
               + f" WHERE {col(execution, 'id')} = %s" + (f" AND {condition}" if condition else "")
               + f" RETURNING {last_seq} AS top" + (f", {also_return}" if also_return else ""))
    stored = (f"INSERT INTO {_qn(event.db_table)} ({col(event, 'execution')}, "  # noqa: S608
              f"{col(event, 'seq')}, {col(event, 'type')}, {col(event, 'payload')}, "
              f"{col(event, 'created_at')}) "
              "SELECT %s, counter.top - %s + e.n, e.type, e.payload, e.created_at "
              "FROM counter, jsonb_to_recordset(%s::jsonb) "
              "AS e(n bigint, type text, payload jsonb, created_at timestamptz) "
              f"RETURNING {col(event, 'seq')} AS seq")
    return counter, stored


def _take_seqs(execution_id: Any, count: int) -> int | None:
    """Add `count` to the execution's event counter; its new value (None: no such execution).
    One round trip where the database returns rows from an UPDATE (PostgreSQL, SQLite 3.35+)."""
    if connection.features.can_return_columns_from_insert:
        return _add_returning(execution_id, count)
    return _add_then_read(execution_id, count)


def _add_returning(execution_id: Any, count: int) -> int | None:
    meta = Execution._meta
    table, column = _qn(meta.db_table), _qn(meta.get_field("last_seq").column)
    # Only our own table and column names are interpolated; every value is a parameter.
    sql = f"UPDATE {table} SET {column} = {column} + %s WHERE {_qn(meta.pk.column)} = %s RETURNING {column}"  # noqa: S608, E501
    with connection.cursor() as cursor:
        cursor.execute(sql, [count, meta.pk.get_db_prep_value(execution_id, connection)])
        row = cursor.fetchone()
    return int(row[0]) if row else None


def _add_then_read(execution_id: Any, count: int) -> int | None:
    executions = Execution.objects.filter(pk=execution_id)
    if not executions.update(last_seq=F("last_seq") + count):
        return None
    return int(executions.values_list("last_seq", flat=True).get())


def _qn(name: str) -> str:
    return connection.ops.quote_name(name)


def as_message(event: ExecutionEvent) -> dict[str, Any]:
    return {"type": event.type, "seq": event.seq, "data": event.payload}


def continuing(broadcast: list[dict[str, Any]], last: int) -> list[dict[str, Any]] | None:
    """What a listener that has sent up to event `last` sends of a broadcast: the events after
    `last` when they carry straight on from it ([] when there are none), or None when some are
    missing in between (sent before it joined the group, or lost): it then sends the stored
    events after `last` instead. The WebSocket consumer and the SSE stream both follow this."""
    fresh = [message for message in broadcast if message["seq"] > last]
    if not fresh:
        return []
    return fresh if fresh[0]["seq"] == last + 1 else None


def broadcast(execution_id: str, messages: list[dict[str, Any]]) -> None:
    """Send the events to the execution's listeners. Live delivery is best effort: a send that
    fails or comes after a later one shows a listener a gap, and it reads the stored events.

    On Redis's layer the send is made on the caller's thread (`_sent_now`). Otherwise, or
    while that path is paused, the engine's pass does not wait for it: it goes to an event
    loop's thread. At most SENDS_IN_FLIGHT of those are pending per process; past that a
    broadcast waits for one to end (a stalled layer cannot pile up sends), and after
    SLOT_WAIT_SECONDS it is dropped; such a send is bounded by SEND_SECONDS."""
    layer = get_channel_layer()
    if layer is None:
        return
    message = {"type": "execution.events", "events": messages}
    if _sent_now(layer, execution_id, message):
        return
    slots = _send_slots.get()
    if not slots.acquire(timeout=SLOT_WAIT_SECONDS):
        logger.warning("could not broadcast events for %s: the channel layer is behind",
                       execution_id)
        return
    send = _send_bounded(layer, group_name(execution_id), message)
    try:
        future = asyncio.run_coroutine_threadsafe(send, _event_loop())
    except BaseException:
        slots.release()
        send.close()
        raise
    future.add_done_callback(partial(_sent, execution_id, slots))


def _sent_now(layer: Any, execution_id: str, message: dict[str, Any]) -> bool:
    """Whether the send was dealt with on this thread: made by a layer that can
    (`group_send_now`, wireflow_site/channel_layer.py: one PUBLISH, bounded in time, with
    neither a hop to an event loop's thread nor an asyncio client, which cost a submit pass
    about a sixth of its CPU), or given up there. Not on an event loop's own thread, which it
    would hold up. A send that fails is dropped and logged, and the sends of the next
    NOW_PAUSE_SECONDS take the loop's path: none of them waits on a Redis that has just
    failed to answer."""
    send_now = getattr(layer, "group_send_now", None)
    if send_now is None or asyncio._get_running_loop() is not None \
            or time.monotonic() < _now_paused_until:
        return False
    try:
        return bool(send_now(group_name(execution_id), message))
    except Exception:
        _pause_now()
        logger.warning("could not broadcast events for %s", execution_id, exc_info=True)
        return True


def _pause_now() -> None:
    global _now_paused_until
    _now_paused_until = time.monotonic() + NOW_PAUSE_SECONDS


async def _send_bounded(layer: Any, group: str, message: dict[str, Any]) -> None:
    """The group send, given up after SEND_SECONDS (a timeout scope rather than wait_for,
    which wraps the send in a task of its own: one more per event sent)."""
    async with asyncio.timeout(SEND_SECONDS):
        await layer.group_send(group, message)


def _sent(execution_id: str, slots: threading.BoundedSemaphore,
          future: "concurrent.futures.Future[Any]") -> None:
    slots.release()
    if not future.cancelled() and future.exception() is not None:
        logger.warning("could not broadcast events for %s", execution_id,
                       exc_info=future.exception())


SEND_SECONDS = 5.0
SLOT_WAIT_SECONDS = 5.0
NOW_PAUSE_SECONDS = 5.0
_now_paused_until = 0.0  # time.monotonic() before which sends take the loop's path
SENDS_IN_FLIGHT = 256
_send_slots = PerProcess(lambda: threading.BoundedSemaphore(SENDS_IN_FLIGHT))


def broadcast_live(execution_id: str, data: dict[str, Any]) -> Any:
    """Sends a node's streamed text to the execution's live viewers, without storing it (the
    node's output holds the whole text once it completes). Returns the send's future (the
    caller skips a send while the previous one is under way), or None without a layer."""
    layer = get_channel_layer()
    if layer is None:
        return None
    return asyncio.run_coroutine_threadsafe(
        layer.group_send(group_name(execution_id), {"type": "execution.stream", "data": data}),
        _event_loop())


# Sending needs an event loop. A new loop per send (async_to_sync) costs a fresh Redis
# connection each time, so each process keeps one loop: the web server's own when this
# process serves WebSockets (the in-memory layer of the embedded mode lives there), else a
# private one on a daemon thread.
_web_loop: asyncio.AbstractEventLoop | None = None


_private = PerProcess(partial(daemon_loop, "events"))  # a forked worker starts its own


def remember_web_loop() -> None:
    """Called from the web server's loop (by the WebSocket consumer)."""
    global _web_loop
    _web_loop = asyncio.get_running_loop()


def _event_loop() -> asyncio.AbstractEventLoop:
    if _web_loop is not None and _web_loop.is_running():
        return _web_loop
    return _private.get()

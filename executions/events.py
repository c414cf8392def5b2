"""The one event publisher. State changes are buffered by the engine and flushed together with
the transaction that made them: events get gap-free sequence numbers, are stored, and after
commit are sent to the execution's Channels group. WebSocket and SSE consumers read the same
events, so a reconnect resumes by sequence number."""

import logging
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction

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
        """Store the buffered events; call inside the transaction that made the changes."""
        if not self.pending:
            return
        base = self.execution.last_seq
        top = base + len(self.pending)
        if not Execution.objects.filter(pk=self.execution.pk, last_seq=base).update(last_seq=top):
            raise LeaseLost(str(self.execution.pk))
        rows = [ExecutionEvent(execution_id=self.execution.pk, seq=base + i + 1, type=kind,
                               payload=data) for i, (kind, data) in enumerate(self.pending)]
        ExecutionEvent.objects.bulk_create(rows)
        self.execution.last_seq = top
        self.pending = []
        messages = [as_message(row) for row in rows]
        transaction.on_commit(lambda: broadcast(str(self.execution.pk), messages))


def as_message(event: ExecutionEvent) -> dict[str, Any]:
    return {"type": event.type, "seq": event.seq, "data": event.payload}


def broadcast(execution_id: str, messages: list[dict[str, Any]]) -> None:
    layer = get_channel_layer()
    if layer is None:
        return
    try:
        async_to_sync(layer.group_send)(group_name(execution_id),
                                        {"type": "execution.events", "events": messages})
    except Exception:  # live delivery is best effort; consumers catch up from the stored events
        logger.warning("could not broadcast events for %s", execution_id, exc_info=True)

"""Live execution status over WebSocket: `/ws/executions/<id>/` (session-authenticated, scoped
to the user's teams). First a snapshot, then events in sequence order; `?after=N` resumes after
event N instead of sending a snapshot. Between them, `node.stream` messages carry an LLM node's
text so far while it streams; they have no sequence number and are not replayed."""

from typing import Any
from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from wireflow_site.errors import NotFound

from . import selectors
from .events import as_message, continuing, group_name, remember_web_loop

CLOSE_UNAUTHENTICATED = 4401
CLOSE_NOT_FOUND = 4404


class ExecutionConsumer(AsyncJsonWebsocketConsumer):  # type: ignore[misc]
    execution_id = ""
    last_seq = 0

    async def connect(self) -> None:
        remember_web_loop()
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        execution_id = self.scope["url_route"]["kwargs"]["execution_id"]
        try:
            execution = await database_sync_to_async(selectors.execution_get_for_user)(
                user, execution_id)
        except NotFound:
            await self.close(code=CLOSE_NOT_FOUND)
            return
        self.execution_id = str(execution.pk)
        await self.channel_layer.group_add(group_name(self.execution_id), self.channel_name)
        await self.accept()
        after = _after(self.scope.get("query_string", b""))
        if after is None:
            await self._send_snapshot()
        else:
            self.last_seq = after
            await self._catch_up()

    async def disconnect(self, code: int) -> None:
        if self.execution_id:
            await self.channel_layer.group_discard(group_name(self.execution_id),
                                                   self.channel_name)

    async def receive_json(self, content: Any, **kwargs: Any) -> None:
        """Clients only listen; a ping gets a pong so they can check the line."""
        if isinstance(content, dict) and content.get("type") == "ping":
            await self.send_json({"type": "pong", "seq": self.last_seq})

    async def execution_events(self, message: dict[str, Any]) -> None:
        events = message.get("events") or []
        fresh = continuing(events, self.last_seq)
        if fresh is None:  # we missed some (e.g. sent before we joined the group)
            await self._catch_up()
            fresh = continuing(events, self.last_seq) or []
        for event in fresh:
            await self.send_json(event)
            self.last_seq = event["seq"]

    async def execution_stream(self, message: dict[str, Any]) -> None:
        """A node's text so far, while it streams (not stored, so no sequence number)."""
        await self.send_json({"type": "node.stream", "data": message.get("data") or {}})

    async def _send_snapshot(self) -> None:
        seq, data = await database_sync_to_async(selectors.execution_snapshot)(
            self.execution_id)
        if data is None:
            await self.close(code=CLOSE_NOT_FOUND)
            return
        self.last_seq = seq
        await self.send_json({"type": "snapshot", "seq": seq, "data": data})

    async def _catch_up(self) -> None:
        events = await database_sync_to_async(selectors.events_after)(self.execution_id,
                                                                      self.last_seq)
        for event in events:
            await self.send_json(as_message(event))
            self.last_seq = event.seq


def _after(query_string: bytes) -> int | None:
    values = parse_qs(query_string.decode(errors="replace")).get("after")
    if not values:
        return None
    try:
        return max(0, int(values[0]))
    except ValueError:
        return None

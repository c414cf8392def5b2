"""The channel layer behind live status (WebSocket consumers, SSE streams) with Redis:
channels-redis's pub/sub layer, with each listener's inbox bounded.

Why pub/sub, not channels-redis's list-based RedisChannelLayer: every consumer waits on the
layer for messages, and when its client goes Channels cancels that wait and waits for it to
end. The list-based layer waits in a blocking pop (BRPOP) that, on redis-py 8's asyncio client,
can swallow the cancellation: the consumer's task then never ends (a task and a Redis
connection kept for good, a graceful shutdown held up). The pub/sub layer waits on an
in-process queue fed by one subscriber connection per process and event loop, which a
cancellation ends at once. It suits what live status sends, too: a broadcast is only a fast
path (the stored events are the truth, and a listener that misses one catches up from them),
so a message for nobody listening is better dropped than queued in Redis.

What the pub/sub layer leaves unbounded is the inbox: a listener that stops reading (a client
that reads its socket slowly) would collect every message of its execution in memory. Here an
inbox holds `capacity` messages and drops the oldest past that, as the list-based layer's
`capacity` does; the listener sees the gap in the sequence numbers and reads the stored events.
"""

import asyncio
from typing import Any

from channels_redis.pubsub import RedisPubSubChannelLayer, RedisPubSubLoopLayer
from channels_redis.utils import _wrap_close

CAPACITY = 100  # messages an inbox holds; a listener further behind reads the stored events


class Inbox(asyncio.Queue[Any]):
    """A queue that, full, drops its oldest message to take a new one (never raises)."""

    def put_nowait(self, item: Any) -> None:
        if self.full():
            self.get_nowait()
        super().put_nowait(item)


class _LoopLayer(RedisPubSubLoopLayer):  # type: ignore[misc]
    def __init__(self, *args: Any, capacity: int, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.capacity = capacity

    async def _subscribe_to_channel(self, channel: str) -> None:
        self.channels[channel] = Inbox(self.capacity)
        await self._get_shard(channel).subscribe(channel)


class ChannelLayer(RedisPubSubChannelLayer):  # type: ignore[misc]
    def __init__(self, *args: Any, capacity: int = CAPACITY, **kwargs: Any) -> None:
        if capacity < 1:
            raise ValueError(f"capacity must be at least 1, not {capacity}")
        super().__init__(*args, **kwargs)
        self.capacity = capacity

    def _get_layer(self) -> _LoopLayer:
        # As RedisPubSubChannelLayer's own: one layer per event loop, flushed when it closes.
        loop = asyncio.get_running_loop()
        layer: _LoopLayer | None = self._layers.get(loop)
        if layer is None:
            layer = _LoopLayer(*self._args, capacity=self.capacity, channel_layer=self,
                               **self._kwargs)
            self._layers[loop] = layer
            _wrap_close(self, loop)
        return layer

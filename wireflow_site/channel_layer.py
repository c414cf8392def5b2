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
from dataclasses import dataclass
from functools import partial
from typing import Any

import redis
from channels_redis.pubsub import RedisPubSubChannelLayer, RedisPubSubLoopLayer
from channels_redis.utils import _wrap_close
from redis.backoff import NoBackoff
from redis.retry import Retry

from .perprocess import PerProcess

CAPACITY = 100  # messages an inbox holds; a listener further behind reads the stored events
# How long a send from synchronous code may hold its caller (a pass of the engine) for Redis,
# to connect or to answer; past that it fails, and the caller drops or defers its send.
NOW_SECONDS = 0.5


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
        self._now = PerProcess(partial(_Publishing.build, self))

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

    def group_send_now(self, group: str, message: dict[str, Any]) -> bool:
        """`group_send` from synchronous code, on the caller's thread: one PUBLISH through a
        plain Redis client, instead of a hop to an event loop's thread and redis-py's asyncio
        client (about 0.25 ms less CPU a send in the engine's passes; docs/benchmarks.md).
        The group's Redis channel, its shard and the message's bytes are the layer's own, so
        listeners on `receive` cannot tell the two apart. Waits at most NOW_SECONDS for Redis
        and raises redis-py's error past that. False, with nothing sent, for hosts it has no
        plain client for (Redis Sentinel): `group_send` it is, then."""
        publishing = self._now.get()
        if publishing is None:
            return False
        name = publishing.names._get_group_channel_name(group)
        shard = publishing.names._shards.index(publishing.names._get_shard(name))
        publishing.clients[shard].publish(name, self.serialize(message))
        return True


@dataclass(frozen=True)
class _Publishing:
    """What `group_send_now` publishes with in a process: a layer of the library's, never run,
    that names the groups' channels and picks their shards as the listening side does, and a
    plain client (a thread-safe pool) for each of its shards."""

    names: RedisPubSubLoopLayer
    clients: list[redis.Redis]

    @classmethod
    def build(cls, layer: ChannelLayer) -> "_Publishing | None":
        names = RedisPubSubLoopLayer(*layer._args, channel_layer=layer, **layer._kwargs)
        hosts = [shard.host for shard in names._shards]
        if any("master_name" in host for host in hosts):
            return None
        return cls(names, [_client(host) for host in hosts])


def _client(host: dict[str, Any]) -> redis.Redis:
    """A client for one of the layer's hosts, built from it as channels-redis builds its
    asyncio pool (`create_pool`), with its waits bounded by NOW_SECONDS and no retries: a send
    is a fast path that the stored events back up, not worth holding a pass for."""
    options = {**host, "retry": Retry(NoBackoff(), 0)}
    for timeout in ("socket_timeout", "socket_connect_timeout"):
        options[timeout] = min(float(options.get(timeout) or NOW_SECONDS), NOW_SECONDS)
    if "address" in options:
        return redis.Redis.from_url(options.pop("address"), **options)
    return redis.Redis(**options)

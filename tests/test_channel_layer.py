"""The live status's channel layer against real Redis: a viewer's consumer waits in a blocking
pop (channels-redis's brpop_timeout), which must never outlast the connection's read timeout,
or an idle WebSocket ends with "Timeout reading from Redis" (redis-py 8 reads within 5 s by
default, the pop's own length)."""

import asyncio
from typing import Any

from channels.layers import channel_layers


def fresh_layer() -> Any:
    """A layer of its own, built from the settings: the process's shared one may hold
    connections made on other tests' event loops."""
    return channel_layers.make_backend("default")


def test_the_layer_s_reads_wait_longer_than_its_blocking_pop() -> None:
    layer = fresh_layer()
    pool = layer.create_pool(0)
    # What a connection of the pool reads with (redis-py's own default when none is set).
    read_timeout = pool.connection_class(**pool.connection_kwargs).socket_timeout
    assert read_timeout is None or read_timeout > layer.brpop_timeout, (
        read_timeout, layer.brpop_timeout)


def test_a_message_sent_after_an_idle_pop_still_arrives() -> None:
    async def idle_then_receive() -> dict[str, str]:
        layer = fresh_layer()
        layer.brpop_timeout = 1  # a pop that comes back empty, then another one
        channel = await layer.new_channel()
        receiving = asyncio.ensure_future(layer.receive(channel))
        done, _ = await asyncio.wait({receiving}, timeout=1.5)  # one empty pop has ended
        assert not done, "the receive ended without a message"
        await layer.send(channel, {"type": "live.status", "text": "done"})
        try:
            message: dict[str, str] = await asyncio.wait_for(receiving, 30)
        finally:
            await layer.close_pools()
        return message

    assert asyncio.run(idle_then_receive()) == {"type": "live.status", "text": "done"}

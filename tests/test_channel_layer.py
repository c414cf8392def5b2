"""The live status's channel layer against real Redis (wireflow_site/channel_layer.py): a
broadcast from another process reaches the group's listeners, a listener's wait ends the moment
it is cancelled, and a listener that stops reading holds only the newest messages."""

import asyncio
import socket
import threading
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
import redis
from channels.layers import channel_layers
from django.conf import settings

from wireflow_site.channel_layer import CAPACITY, NOW_SECONDS, ChannelLayer, Inbox

RECEIVE_TIMEOUT = 30  # bounds a hang


def fresh_layer(**config: Any) -> Any:
    """A layer of its own, as the settings build it: the process's shared one may hold
    connections made on other tests' event loops."""
    if not config:
        return channel_layers.make_backend("default")
    config_of_default: Any = settings.CHANNEL_LAYERS["default"]["CONFIG"]
    hosts = [dict(host) for host in config_of_default["hosts"]]
    return ChannelLayer(hosts=hosts, **config)


async def _until(condition: Callable[[], bool]) -> None:
    async def poll() -> None:
        while not condition():
            await asyncio.sleep(0.01)
    await asyncio.wait_for(poll(), RECEIVE_TIMEOUT)


def run(test: Callable[..., Awaitable[Any]], *layers: Any) -> Any:
    async def with_layers() -> Any:
        try:
            return await test(*layers)
        finally:
            for layer in layers:
                await layer.flush()
    return asyncio.run(with_layers())


def test_the_settings_use_the_bounded_pub_sub_layer() -> None:
    layer = fresh_layer()
    assert isinstance(layer, ChannelLayer) and layer.capacity == CAPACITY


def test_a_group_broadcast_from_another_process_reaches_every_listener() -> None:
    async def test(listening: Any, sending: Any) -> list[dict[str, Any]]:
        group = f"execution-{uuid.uuid4().hex}"  # Redis's pub/sub spans its databases
        first, second = await listening.new_channel(), await listening.new_channel()
        for channel in (first, second):
            await listening.group_add(group, channel)
        await sending.group_send(group, {"type": "execution.events", "events": [1]})
        return [await asyncio.wait_for(listening.receive(channel), RECEIVE_TIMEOUT)
                for channel in (first, second)]

    got = run(test, fresh_layer(), fresh_layer())
    assert got == [{"type": "execution.events", "events": [1]}] * 2


def test_a_message_sent_after_a_quiet_spell_still_arrives() -> None:
    async def test(layer: Any) -> dict[str, str]:
        channel = await layer.new_channel()
        receiving = asyncio.ensure_future(layer.receive(channel))
        done, _ = await asyncio.wait({receiving}, timeout=1.5)
        assert not done, "the receive ended without a message"
        await layer.send(channel, {"type": "live.status", "text": "done"})
        message: dict[str, str] = await asyncio.wait_for(receiving, RECEIVE_TIMEOUT)
        return message

    assert run(test, fresh_layer()) == {"type": "live.status", "text": "done"}


def test_a_cancelled_receive_ends_at_once() -> None:
    # What Channels does when a WebSocket's client goes: cancel the consumer's wait on the
    # layer, then wait for it to end. A wait that swallowed the cancellation would hang here.
    async def test(layer: Any) -> bool:
        channel = await layer.new_channel()
        await layer.group_add(f"execution-{uuid.uuid4().hex}", channel)
        receiving = asyncio.ensure_future(layer.receive(channel))
        inbox = layer._get_layer().channels[channel]
        await _until(lambda: bool(inbox._getters))  # it is waiting for a message
        receiving.cancel()
        done, _ = await asyncio.wait({receiving}, timeout=RECEIVE_TIMEOUT)
        return receiving in done and receiving.cancelled()

    assert run(test, fresh_layer())


def test_a_listener_that_stops_reading_keeps_only_the_newest_messages() -> None:
    async def test(layer: Any) -> list[int]:
        channel = await layer.new_channel()
        inbox = layer._get_layer().channels[channel]
        for n in range(1, 8):
            await layer.send(channel, {"type": "x", "n": n})
        await _until(lambda: bool(inbox._queue) and layer.deserialize(inbox._queue[-1])["n"] == 7)
        return [(await layer.receive(channel))["n"] for _ in range(inbox.qsize())]

    assert run(test, fresh_layer(capacity=3)) == [5, 6, 7]


def test_an_inbox_drops_its_oldest_message_when_full() -> None:
    async def test() -> list[int]:
        inbox = Inbox(2)
        for n in range(5):
            inbox.put_nowait(n)
        return [inbox.get_nowait() for _ in range(inbox.qsize())]

    assert asyncio.run(test()) == [3, 4]


@pytest.mark.parametrize("capacity", [0, -1])
def test_a_capacity_below_one_is_refused(capacity: int) -> None:
    with pytest.raises(ValueError, match="capacity must be at least 1"):
        fresh_layer(capacity=capacity)


def test_a_send_from_synchronous_code_reaches_the_groups_listeners() -> None:
    # What the engine's passes do (executions/events.broadcast): the same channel, shard and
    # bytes as the layer's own group_send, or the listeners would never see it.
    group = f"execution-{uuid.uuid4().hex}"
    sending = fresh_layer()

    async def test(listening: Any) -> list[dict[str, Any]]:
        first, second = await listening.new_channel(), await listening.new_channel()
        for channel in (first, second):
            await listening.group_add(group, channel)
        sent = await asyncio.to_thread(
            sending.group_send_now, group, {"type": "execution.events", "events": [1]})
        assert sent is True
        return [await asyncio.wait_for(listening.receive(channel), RECEIVE_TIMEOUT)
                for channel in (first, second)]

    got = run(test, fresh_layer())
    assert got == [{"type": "execution.events", "events": [1]}] * 2


def test_a_send_from_synchronous_code_to_a_silent_redis_gives_up_after_its_bound() -> None:
    # A server that takes the connection and never answers: the send must fail within
    # NOW_SECONDS, not wait out the host's own socket timeout (15 s in the settings).
    silent = socket.create_server(("127.0.0.1", 0))
    port = silent.getsockname()[1]
    layer = ChannelLayer(hosts=[{"address": f"redis://127.0.0.1:{port}/0",
                                 "socket_timeout": 15, "socket_connect_timeout": 15}])
    outcome: list[BaseException] = []

    def send() -> None:
        try:
            layer.group_send_now("g", {"type": "x"})
        except BaseException as exc:  # noqa: BLE001 - what it raised is the test's answer
            outcome.append(exc)

    sender = threading.Thread(target=send, daemon=True)
    try:
        sender.start()
        sender.join(timeout=NOW_SECONDS * 10)
        assert not sender.is_alive(), "the send was still waiting on the silent server"
    finally:
        silent.close()
    assert len(outcome) == 1 and isinstance(outcome[0], redis.TimeoutError), outcome


def test_sentinel_hosts_send_through_the_loop_instead() -> None:
    layer = ChannelLayer(hosts=[{"master_name": "main", "sentinels": [("127.0.0.1", 26379)]}])
    assert layer.group_send_now("g", {"type": "x"}) is False

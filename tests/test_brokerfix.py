"""A broker connection lost with deliveries unacknowledged does not crash the worker: kombu's
restore, acknowledgement and rejection on a channel whose transport has let go of the
connection are skipped (kombu 5.7 raised AttributeError there and ended the worker's main
process). The channels here are real ones on the test Redis, brought to the state Celery
leaves them in after a lost connection."""

import uuid
from collections.abc import Iterator
from typing import Any

import kombu
import pytest
from django.conf import settings
from kombu.transport import redis as kombu_redis

import wireflow_site.celery  # noqa: F401  - installs the fix, as the worker does
from wireflow_site import brokerfix


@pytest.fixture
def delivered() -> Iterator[tuple[Any, Any]]:
    """A channel and a message delivered on it, not acknowledged."""
    with kombu.Connection(settings.CELERY_BROKER_URL) as connection:
        channel = connection.channel()
        queue = kombu.Queue(f"brokerfix-{uuid.uuid4().hex}", channel=channel)
        queue.declare()
        kombu.Producer(channel).publish({"task": "x"}, routing_key=queue.name, declare=[queue])
        message = queue.get(no_ack=False)
        assert message is not None
        yield channel, message
        with kombu.Connection(settings.CELERY_BROKER_URL) as cleanup:
            other: Any = cleanup.default_channel
            other.queue_delete(queue.name)
            other.client.hdel(other.unacked_key, message.delivery_tag)  # only this delivery
            other.client.zrem(other.unacked_index_key, message.delivery_tag)


def _lose_the_connection(channel: Any) -> None:
    """What a lost connection leaves: the transport let go first, then the channel closed."""
    channel.connection.client = None
    channel.close()


def test_the_worker_s_kombu_goes_through_the_fix() -> None:
    assert kombu_redis.QoS.restore_unacked is brokerfix.restore_unacked_while_connected
    assert kombu_redis.QoS.ack is brokerfix.ack_while_connected
    assert kombu_redis.QoS.reject is brokerfix.reject_while_connected


def test_closing_after_the_connection_is_gone_skips_the_restore(delivered: Any) -> None:
    channel, _ = delivered
    _lose_the_connection(channel)  # closing restores the unacknowledged delivery: skipped
    assert channel.closed and channel.qos._delivered == {}


@pytest.mark.parametrize("settle", [lambda m: m.ack(), lambda m: m.reject(),
                                    lambda m: m.reject(requeue=True)],
                         ids=["ack", "reject", "requeue"])
def test_settling_a_delivery_after_the_connection_is_gone_is_skipped(delivered: Any,
                                                                     settle: Any) -> None:
    channel, message = delivered
    _lose_the_connection(channel)
    settle(message)  # a task that finished after the connection dropped
    assert message.acknowledged
    assert message.delivery_tag in channel.qos._dirty or not channel.qos._delivered


@pytest.mark.parametrize("stock", [lambda qos, tag: brokerfix._ack(qos, tag),
                                   lambda qos, tag: brokerfix._reject(qos, tag),
                                   lambda qos, tag: brokerfix._restore_unacked(qos)],
                         ids=["ack", "reject", "restore"])
def test_kombu_s_own_operations_raise_in_that_state(delivered: Any, stock: Any) -> None:
    # The crash the fix prevents: kombu builds a Redis pool from the transport's client.
    channel, message = delivered
    qos = channel.qos
    _lose_the_connection(channel)
    qos._delivered[message.delivery_tag] = message
    with pytest.raises(AttributeError):
        stock(qos, message.delivery_tag)


def test_while_connected_an_ack_is_kombu_s_own(delivered: Any) -> None:
    channel, message = delivered
    assert channel.client.hexists(channel.unacked_key, message.delivery_tag)
    message.ack()
    assert not channel.client.hexists(channel.unacked_key, message.delivery_tag)


def test_while_connected_a_requeue_puts_the_delivery_back(delivered: Any) -> None:
    channel, message = delivered
    queue = message.delivery_info["routing_key"]
    message.reject(requeue=True)
    assert channel.client.llen(queue) == 1

"""A Redis broker connection lost with deliveries unacknowledged must not end the worker.

When the broker connection drops (a Redis restart, a network blip), Celery closes the channel
and kombu's Redis QoS restores the deliveries not yet acknowledged (our tasks are acks_late, so
every advance in progress is one). kombu 5.7 does that after the transport has already let go
of its connection: it builds a new Redis pool from `transport.client`, which is None, and the
AttributeError ends the worker's main process ("Unrecoverable error"), leaving the executions
it was advancing to nobody until something restarts it. An advance that was running in a pool
process when the connection dropped meets the same end a moment later: it finishes, Celery
acknowledges its delivery on the closed channel (whose connection is now None), and the
acknowledgement's pool is built from nothing. So is a rejection.

There is no broker to talk to at those moments. Every QoS operation that needs one (restore,
acknowledge, reject) is skipped with a warning once the channel's connection is gone, and the
delivery is forgotten locally. The delivery stays in Redis's unacked index if Redis kept it
(kombu restores those after the visibility timeout; an advance run twice finds its work done),
and if Redis lost it the engine's sweeper re-advances its execution (lease expired, wake-up
overdue). Celery reconnects as it does for any lost connection.
"""

import logging
from typing import Any

from kombu.transport import redis as kombu_redis
from kombu.transport import virtual

logger = logging.getLogger("wireflow.broker")
_restore_unacked = kombu_redis.QoS.restore_unacked
_ack = kombu_redis.QoS.ack
_reject = kombu_redis.QoS.reject


def connected(qos: Any) -> bool:
    """Whether the QoS's channel still has a transport with a client to build a pool from."""
    return getattr(getattr(qos.channel, "connection", None), "client", None) is not None


def restore_unacked_while_connected(qos: Any, client: Any = None) -> Any:
    if client is None and not connected(qos):
        logger.warning("broker connection gone: %d unacknowledged deliveries left to Redis's "
                       "unacked index and the sweeper", len(qos._delivered))
        qos._delivered.clear()
        return None
    return _restore_unacked(qos, client)


def ack_while_connected(qos: Any, delivery_tag: str) -> None:
    if not connected(qos):
        _forget(qos, delivery_tag, "acknowledged")
        return
    _ack(qos, delivery_tag)


def reject_while_connected(qos: Any, delivery_tag: str, requeue: bool = False) -> None:
    if not connected(qos):
        _forget(qos, delivery_tag, "rejected")
        return
    _reject(qos, delivery_tag, requeue=requeue)


def _forget(qos: Any, delivery_tag: str, what: str) -> None:
    logger.warning("broker connection gone: delivery %s not %s; it is left to Redis's unacked "
                   "index and the sweeper", delivery_tag, what)
    virtual.QoS.ack(qos, delivery_tag)  # drops it from this channel's bookkeeping only


def install() -> None:
    for name, replacement in (("restore_unacked", restore_unacked_while_connected),
                              ("ack", ack_while_connected),
                              ("reject", reject_while_connected)):
        setattr(kombu_redis.QoS, name, replacement)

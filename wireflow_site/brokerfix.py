"""A Redis broker connection lost with deliveries unacknowledged must not end the worker.

When the broker connection drops (a Redis restart, a network blip), Celery closes the channel
and kombu's Redis QoS restores the deliveries not yet acknowledged (our tasks are acks_late, so
every advance in progress is one). kombu 5.7 does that after the transport has already let go
of its connection: it builds a new Redis pool from `transport.client`, which is None, and the
AttributeError ends the worker's main process ("Unrecoverable error"), leaving the executions
it was advancing to nobody until something restarts it.

There is no broker to restore to at that moment. The deliveries stay in Redis's unacked index
if Redis kept them (kombu restores those after the visibility timeout), and if Redis lost them
the engine's sweeper re-advances their executions (lease expired, wake-up overdue). So the
restore is skipped with a warning, and Celery reconnects as it does for any lost connection.
"""

import logging
from typing import Any

from kombu.transport import redis as kombu_redis

logger = logging.getLogger("wireflow.broker")
_restore_unacked = kombu_redis.QoS.restore_unacked


def restore_unacked_while_connected(qos: Any, client: Any = None) -> Any:
    if client is None and getattr(qos.channel.connection, "client", None) is None:
        logger.warning("broker connection gone: %d unacknowledged deliveries left to Redis's "
                       "unacked index and the sweeper", len(qos._delivered))
        qos._delivered.clear()
        return None
    return _restore_unacked(qos, client)


def install() -> None:
    setattr(kombu_redis.QoS, "restore_unacked", restore_unacked_while_connected)  # noqa: B010

"""Thin Celery tasks: ids in, one service call.

Every task runs under CELERY_TASK_SOFT_TIME_LIMIT and CELERY_TASK_TIME_LIMIT (settings.py).
"""

import logging
import time
from functools import cache
from typing import Any

from celery import shared_task
from celery.exceptions import SoftTimeLimitExceeded

from wireflow_site.idempotency import idempotency_purge

from . import dispatch
from .batches import batch_sweep
from .engine.backlog import note_start
from .engine.runner import advance
from .schedules import schedules_fire_due
from .services import sweep_stalled

logger = logging.getLogger("wireflow.engine")


@shared_task(name="executions.advance", acks_late=True, reject_on_worker_lost=True,
             ignore_result=True)
def advance_task(execution_id: str, _unused: object = None, due: object = None,
                 *_: object) -> None:
    # `_unused`: a message queued by an earlier release carries a second argument, now unused.
    # `due`: when this task was meant to start (epoch seconds); how late it did measures a
    # backlog. Positional, so that a worker of the release before (which takes any extra
    # positional arguments) still runs it during a rolling upgrade.
    if isinstance(due, int | float) and not isinstance(due, bool):
        note_start(time.time() - due)
    try:
        advance(execution_id)
    except SoftTimeLimitExceeded:
        # The pass ran out of time. What it recorded is committed and advance() let go of the
        # lease on the way out; a fresh task carries on from there (the execution's deadline
        # bounds a run whose every pass would time out).
        logger.warning("advance of %s hit the task's soft time limit; continuing in a new task",
                       execution_id)
        dispatch.advance_later(execution_id)


def send_advance(execution_id: str, delay: float) -> None:
    """dispatch's sender in production: the task, through the broker. Its arguments' repr
    (what monitoring and the worker's log show) is given, not left to Celery's safe repr,
    which cost about 15 % of a send: one per execute and one per provider webhook."""
    args = (execution_id, None, time.time() + max(0.0, delay))
    shown: dict[str, Any] = {"argsrepr": repr(args), "kwargsrepr": "{}",  # Celery's options
                             **_publish_options()}
    if delay > 0:
        advance_task.apply_async(args, countdown=delay, **shown)
    else:
        advance_task.apply_async(args, **shown)


@cache
def _publish_options() -> dict[str, Any]:
    """On Redis, `declare=[]`: kombu otherwise checks on every send that the task's queue was
    declared on this connection, copying and binding the queue's entity each time (an eighth
    of a send's CPU). A task reaches its queue by name through the default exchange, a Redis
    list that its first push creates, so nothing needs declaring. On an AMQP broker a message
    for a queue not yet declared would be dropped: there kombu declares it, as by default.
    Which transport the broker URL names is kombu's to say (redis, rediss, sentinel...)."""
    with advance_task.app.connection_for_write() as broker:  # not connected: nothing is sent
        on_redis = broker.transport.driver_type == "redis"
    return {"declare": []} if on_redis else {}


@shared_task(name="executions.ping", ignore_result=True)
def ping_task(reply_key: str) -> None:
    """A no-op round trip through the broker: replies by pushing to a Redis list. The
    benchmarks use it as the raw Celery baseline; operators can use it to see a worker answer."""
    client = _redis()
    client.lpush(reply_key, "pong")
    client.expire(reply_key, 60)


@cache
def _redis() -> Any:
    """One Redis client per worker process (its pool reconnects as needed): a new client per
    ping would make the raw Celery baseline slower than Celery is."""
    import redis
    from django.conf import settings

    return redis.Redis.from_url(settings.REDIS_URL)


@shared_task(name="executions.sweep", ignore_result=True)
def sweep_task() -> None:
    sweep_stalled()
    batch_sweep()  # batches whose row-finished hook was lost (executions/batches.py)


@shared_task(name="executions.fire_schedules", ignore_result=True)
def fire_schedules_task() -> None:
    schedules_fire_due()


@shared_task(name="executions.purge_idempotency", ignore_result=True)
def purge_idempotency_task() -> None:
    idempotency_purge()

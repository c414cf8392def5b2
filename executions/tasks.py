"""Thin Celery tasks: ids in, one service call."""

from celery import shared_task

from wireflow_site.idempotency import idempotency_purge

from .engine.runner import advance
from .services import sweep_stalled


@shared_task(name="executions.advance", acks_late=True, reject_on_worker_lost=True,
             ignore_result=True)
def advance_task(execution_id: str, contention: int = 0) -> None:
    advance(execution_id, contention)


@shared_task(name="executions.ping", ignore_result=True)
def ping_task(reply_key: str) -> None:
    """A no-op round trip through the broker: replies by pushing to a Redis list. The
    benchmarks use it as the raw Celery baseline; operators can use it to see a worker answer."""
    import redis
    from django.conf import settings

    client = redis.Redis.from_url(settings.REDIS_URL)
    client.lpush(reply_key, "pong")
    client.expire(reply_key, 60)


@shared_task(name="executions.sweep", ignore_result=True)
def sweep_task() -> None:
    sweep_stalled()


@shared_task(name="executions.purge_idempotency", ignore_result=True)
def purge_idempotency_task() -> None:
    idempotency_purge()

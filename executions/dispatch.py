"""The one dispatcher seam: `advance_later` sends the Celery task in production and schedules
the same `advance` on the in-process scheduler in the embedded mode. Always after commit."""

from functools import partial

from django.conf import settings
from django.db import transaction


def advance_later(execution_id: str, delay: float = 0.0, contention: int = 0) -> None:
    transaction.on_commit(partial(_send, str(execution_id), delay, contention))


def _send(execution_id: str, delay: float, contention: int) -> None:
    if settings.EMBEDDED:
        from .inprocess import scheduler

        scheduler().schedule(delay, execution_id, contention)
        return
    from .tasks import advance_task

    advance_task.apply_async((execution_id, contention), countdown=delay if delay > 0 else None)

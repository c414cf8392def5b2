"""Thin Celery tasks: ids in, one service call."""

from celery import shared_task

from .engine.runner import advance
from .services import sweep_stalled


@shared_task(name="executions.advance", acks_late=True, reject_on_worker_lost=True,
             ignore_result=True)
def advance_task(execution_id: str, contention: int = 0) -> None:
    advance(execution_id, contention)


@shared_task(name="executions.sweep", ignore_result=True)
def sweep_task() -> None:
    sweep_stalled()

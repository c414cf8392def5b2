"""Every Celery task's time limits, on a pool that does not enforce them.

Celery's prefork pool enforces `CELERY_TASK_SOFT_TIME_LIMIT` (SoftTimeLimitExceeded raised in
the task) and `CELERY_TASK_TIME_LIMIT` (the child process killed and replaced). Its threads pool
(`--pool threads`: one process whose tasks overlap their waits on the database and on
providers) and its solo pool enforce neither, so here, for those two, a watchdog thread does:

- past a task's soft limit it raises SoftTimeLimitExceeded in the thread running it, as
  prefork's signal handler does (at that thread's next Python instruction: a call blocked in C
  returns first, at its own bound; every call the engine makes has one);
- past its hard limit the thread cannot be stopped, so the worker process exits
  (EXIT_HARD_LIMIT). Its supervisor starts a new one and, as when prefork kills a child, the
  executions it was advancing are carried on once their leases expire (the sweeper), a job it
  was submitting is never submitted twice (engine.md).

A pool of green threads (gevent, eventlet) is refused: nothing here could interrupt its tasks.
"""

from __future__ import annotations

import ctypes
import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from celery import concurrency, signals
from celery.exceptions import SoftTimeLimitExceeded

logger = logging.getLogger("wireflow.worker")
EXIT_HARD_LIMIT = 70  # the worker's exit status when a task outlived its hard time limit
ENFORCED_HERE = ("threads", "solo")  # the pools whose limits this module enforces


@dataclass
class _Running:
    task_id: str
    name: str
    soft_at: float | None
    hard_at: float | None
    interrupted: bool = False


class Watchdog:
    """The running tasks' deadlines, by the thread running each; `run` enforces them."""

    def __init__(self, exit_process: Callable[[int], Any] = os._exit,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._exit, self._clock = exit_process, clock
        self._running: dict[int, _Running] = {}
        self._changed = threading.Condition()
        self._stopped = False
        # When `run` looks again (the clock's time), as the last `check` planned it. A task is
        # started on every delivery: one that is not due before then does not wake the
        # watchdog's thread (which would take the GIL from the tasks' threads for nothing).
        self._next_check = 0.0

    def started(self, task_id: str, name: str, soft: float | None, hard: float | None,
                thread: int | None = None) -> None:
        now = self._clock()
        running = _Running(task_id, name, None if soft is None else now + soft,
                           None if hard is None else now + hard)
        due = [at for at in (running.soft_at, running.hard_at) if at is not None]
        with self._changed:
            self._running[thread or threading.get_ident()] = running
            if due and min(due) < self._next_check:
                self._changed.notify()

    def finished(self, thread: int | None = None) -> None:
        with self._changed:
            self._running.pop(thread or threading.get_ident(), None)

    def stop(self) -> None:
        with self._changed:
            self._stopped = True
            self._changed.notify()

    def run(self) -> None:
        with self._changed:  # a reentrant lock: check() takes it again
            while not self._stopped:
                self._changed.wait(self.check())

    def check(self) -> float:
        """Enforce what is due; the seconds until the next deadline (at most one)."""
        with self._changed:
            now = self._clock()
            wait = 1.0
            for thread, task in list(self._running.items()):
                if task.hard_at is not None and now >= task.hard_at:
                    del self._running[thread]
                    self._hard_limit(task)
                    continue
                if task.soft_at is not None and not task.interrupted:
                    if now >= task.soft_at:
                        task.interrupted = True
                        self._soft_limit(thread, task)
                    else:
                        wait = min(wait, task.soft_at - now)
                if task.hard_at is not None:
                    wait = min(wait, task.hard_at - now)
            wait = max(wait, 0.01)
            self._next_check = now + wait
            return wait

    def _soft_limit(self, thread: int, task: _Running) -> None:
        logger.warning("task %s[%s] passed its soft time limit; interrupting it", task.name,
                       task.task_id)
        raise_in_thread(thread, SoftTimeLimitExceeded)

    def _hard_limit(self, task: _Running) -> None:
        logger.critical("task %s[%s] passed its hard time limit and cannot be stopped; the "
                        "worker process exits (status %d) so that a new one replaces it",
                        task.name, task.task_id, EXIT_HARD_LIMIT)
        for handler in logging.getLogger().handlers:
            handler.flush()
        self._exit(EXIT_HARD_LIMIT)


def raise_in_thread(thread: int, exc_type: type[BaseException]) -> bool:
    """Raise `exc_type` in the thread `thread` (threading.get_ident) at its next Python
    instruction; whether that thread was found."""
    found: int = ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(thread),
                                                            ctypes.py_object(exc_type))
    return found == 1


def pool_name(pool_cls: Any) -> str:
    """The alias Celery knows a pool by (prefork, threads, solo, ...), or its class's path."""
    cls = concurrency.get_implementation(pool_cls)
    path = f"{cls.__module__}:{cls.__qualname__}"
    aliases: dict[str, str] = getattr(concurrency, "ALIASES")  # noqa: B009 (not in its stubs)
    return next((alias for alias, target in aliases.items() if target == path), path)


def limits_of(task: Any) -> tuple[float | None, float | None]:
    """(soft, hard) seconds for this run of `task`: the message's own, else the task's, else
    the app's defaults (CELERY_TASK_SOFT_TIME_LIMIT, CELERY_TASK_TIME_LIMIT)."""
    hard, soft = getattr(task.request, "timelimit", None) or (None, None)
    conf = task.app.conf
    return (soft or task.soft_time_limit or conf.task_soft_time_limit,
            hard or task.time_limit or conf.task_time_limit)


_watchdog: Watchdog | None = None


def _started(task_id: str, task: Any, **_: Any) -> None:
    if _watchdog is not None:
        soft, hard = limits_of(task)
        _watchdog.started(task_id, task.name, soft, hard)


def _finished(**_: Any) -> None:
    if _watchdog is not None:
        _watchdog.finished()


def install(sender: Any, **_: Any) -> None:
    """On worker_init: enforce the limits if the worker's pool does not."""
    global _watchdog
    name = pool_name(sender.pool_cls)
    if name == "prefork":
        return
    if name not in ENFORCED_HERE:
        raise RuntimeError(f"The Celery pool {name!r} cannot enforce task time limits; run "
                           f"the worker with --pool prefork or --pool threads")
    if _watchdog is None:
        _watchdog = Watchdog()
        threading.Thread(target=_watchdog.run, name="task-time-limits", daemon=True).start()
        signals.task_prerun.connect(_started, weak=False)
        signals.task_postrun.connect(_finished, weak=False)

"""The embedded mode's executor: `advance` on a small in-process thread pool, with a timer
heap for delayed wake-ups and the same periodic sweep and schedule firing that Celery beat runs
in production."""

import heapq
import itertools
import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from django.conf import settings
from django.db import close_old_connections

from wireflow_site.idempotency import idempotency_purge

from .batches import batch_sweep
from .engine.backlog import note_start
from .engine.runner import advance
from .schedules import schedules_fire_due
from .services import sweep_stalled

logger = logging.getLogger("wireflow.inprocess")


class Scheduler:
    def __init__(self, workers: int = 4) -> None:
        self._heap: list[tuple[float, int, str]] = []
        self._counter = itertools.count()
        self._cv = threading.Condition()
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="advance")
        self._next_sweep = time.monotonic()
        self._next_fire = time.monotonic()
        self._stopped = False
        self._thread = threading.Thread(target=self._loop, name="scheduler", daemon=True)
        self._thread.start()

    def schedule(self, delay: float, execution_id: str) -> None:
        with self._cv:
            heapq.heappush(self._heap, (time.monotonic() + max(0.0, delay),
                                        next(self._counter), execution_id))
            self._cv.notify()

    def stop(self) -> None:
        """Drop pending wake-ups, stop sweeping, and wait for the work already running."""
        with self._cv:
            self._stopped = True
            self._cv.notify()
        self._thread.join()
        self._pool.shutdown(wait=True)

    def _loop(self) -> None:
        while not self._stopped:
            with self._cv:
                now = time.monotonic()
                timeout = min(self._next_sweep, self._next_fire,
                              self._heap[0][0] if self._heap else now + 60) - now
                if timeout > 0:
                    self._cv.wait(timeout)
                    continue
                due = []
                while self._heap and self._heap[0][0] <= now:
                    due.append(heapq.heappop(self._heap))
            for due_at, _, execution_id in due:
                self._pool.submit(_run_advance, execution_id, due_at)
            if time.monotonic() >= self._next_sweep:
                self._next_sweep = time.monotonic() + settings.SWEEP_SECONDS
                self._pool.submit(_run_sweep)
            if time.monotonic() >= self._next_fire:
                self._next_fire = time.monotonic() + settings.SCHEDULE_TICK_SECONDS
                self._pool.submit(_run_fire_schedules)


def _run_advance(execution_id: str, due_at: float) -> None:
    note_start(time.monotonic() - due_at)  # how long it waited for a thread of the pool
    close_old_connections()
    try:
        advance(execution_id)
    except Exception:
        logger.exception("advance of %s failed", execution_id)
    finally:
        close_old_connections()


def _run_sweep() -> None:
    close_old_connections()
    try:
        sweep_stalled()
        batch_sweep()
        idempotency_purge()
    except Exception:
        logger.exception("sweep failed")
    finally:
        close_old_connections()


def _run_fire_schedules() -> None:
    close_old_connections()
    try:
        schedules_fire_due()
    except Exception:
        logger.exception("firing due schedules failed")
    finally:
        close_old_connections()


_scheduler: Scheduler | None = None
_lock = threading.Lock()


def scheduler() -> Scheduler:
    global _scheduler
    with _lock:
        if _scheduler is None:
            _scheduler = Scheduler()
        return _scheduler


def schedule_advance(execution_id: str, delay: float) -> None:
    """dispatch's sender in the embedded mode."""
    scheduler().schedule(delay, execution_id)


def scheduler_stop() -> None:
    """Stop the scheduler if it was started: the test suite does, so that no thread of it
    touches the database after the embedded-mode tests (or while the test database is dropped).
    """
    global _scheduler
    with _lock:
        running, _scheduler = _scheduler, None
    if running is not None:
        running.stop()  # outside the lock: the work it waits for may call scheduler()

"""Run a function at a wall-clock time, in this process, without Celery.

One daemon thread per process waits for the next due call and hands it to a small thread pool,
so a thousand pending jobs cost a heap entry each, not a thread each. Used by the simulators
only (they must work in the single-process embedded mode, where no broker exists).
"""

import heapq
import itertools
import logging
import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

logger = logging.getLogger("wireflow.simulators")
Entry = tuple[float, int, Callable[..., Any], tuple[Any, ...]]


class Timers:
    def __init__(self, workers: int = 4) -> None:
        self._workers = workers
        self._ready = threading.Condition()
        self._order = itertools.count()
        self._heap: list[Entry] = []
        self._pid = -1
        self._pool: ThreadPoolExecutor | None = None
        self._running = 0  # calls handed to the pool and not finished

    def call_at(self, when: float, function: Callable[..., Any], *args: Any) -> None:
        with self._ready:
            self._start_once_per_process()
            entry = (when, next(self._order), function, args)
            heapq.heappush(self._heap, entry)
            # The loop sleeps until the earliest entry is due: it need only wake to wait less.
            if self._heap[0] is entry:
                self._ready.notify()

    def discard_pending(self) -> None:
        """Drops every call not yet handed to the pool: a test's simulated jobs must not call
        back into the site once the test has ended."""
        with self._ready:
            self._heap.clear()

    def busy(self) -> bool:
        """Whether a call is due now or still running."""
        with self._ready:
            return self._running > 0 or bool(self._heap and self._heap[0][0] <= time.time())

    def _start_once_per_process(self) -> None:
        # After a fork the child inherits the heap but not the thread: start afresh.
        if self._pid == os.getpid():
            return
        self._pid, self._heap, self._running = os.getpid(), [], 0
        self._pool = ThreadPoolExecutor(self._workers, thread_name_prefix="sim-work")
        threading.Thread(target=self._loop, name="sim-timers", daemon=True).start()

    def _loop(self) -> None:
        while True:
            with self._ready:
                while not self._heap or self._heap[0][0] > time.time():
                    wait = self._heap[0][0] - time.time() if self._heap else None
                    self._ready.wait(wait)
                _, _, function, args = heapq.heappop(self._heap)
                pool = self._pool
                self._running += 1
            assert pool is not None  # made before this thread started
            pool.submit(self._run, function, *args)

    def _run(self, function: Callable[..., Any], *args: Any) -> None:
        try:
            function(*args)
        except Exception:  # a background job has no caller to report to: log and carry on
            logger.exception("simulator background call %s failed", function.__name__)
        finally:
            with self._ready:
                self._running -= 1


timers = Timers()
# Drawing outputs has a thread of its own, so that a job's due-time work (its webhook) never
# waits in line behind the drawing of the jobs submitted after it.
drawing = Timers(workers=1)

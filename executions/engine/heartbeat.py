"""Keeping the lease while a pass works.

An advance holds its execution's lease (state.acquire_lease) for ENGINE_LEASE_SECONDS. Work that
may take longer (an inline node fetching an image or delivering a webhook, the remote calls of a
round) runs on a thread of its own while the advancing thread renews the lease every third of
that time, so no other runner takes the execution over while this one is alive. A lease that
could not be renewed is remembered: the work in hand is still recorded (every transition is
conditional, so that is safe), and the runner stops at its next `check`.
"""

import logging
import threading
import time
from collections.abc import Callable, Coroutine
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any, TypeVar

from django.db import connections

from executions.events import LeaseLost
from executions.providers import io as provider_io

from . import state

logger = logging.getLogger("wireflow.engine")
T = TypeVar("T")


class CallTimedOut(Exception):
    """The work did not finish in time; its thread is left to end on its own."""


class Heartbeat:
    def __init__(self, execution_id: str, owner: str) -> None:
        self.execution_id = execution_id
        self.owner = owner
        self.lost = False

    def beat(self) -> None:
        if not self.lost and not state.renew_lease(self.execution_id, self.owner):
            logger.warning("could not renew the lease on %s", self.execution_id)
            self.lost = True

    def check(self) -> None:
        """Renew the lease, or raise LeaseLost if another runner has taken it."""
        self.beat()
        if self.lost:
            raise LeaseLost(self.execution_id)

    def call(self, work: Callable[[], T], timeout: float | None) -> T:
        """`work()` on its own thread, renewing the lease meanwhile; its result or exception.
        Past `timeout` seconds raises CallTimedOut without waiting for it (a thread cannot be
        stopped: it ends when its own I/O bounds say so, and what it returns is dropped)."""
        future: Future[T] = Future()
        threading.Thread(target=_run, args=(work, future), daemon=True,
                         name=f"node-work-{self.execution_id[:8]}").start()
        return self._wait(future, timeout)

    def run(self, work: Coroutine[Any, Any, T], timeout: float | None) -> T:
        """`work` (provider calls) on the process's provider loop (executions/providers/io.py),
        renewing the lease meanwhile; its result or exception. Past `timeout` seconds, or if
        this thread is interrupted (a task's soft time limit), it is cancelled there."""
        future = provider_io.run(work)
        try:
            return self._wait(future, timeout)
        except BaseException:
            future.cancel()
            raise

    def _wait(self, future: "Future[T]", timeout: float | None) -> T:
        deadline = None if timeout is None else time.monotonic() + max(0.0, timeout)
        interval = state.lease_seconds() / 3
        while True:
            wait = interval if deadline is None else min(interval, deadline - time.monotonic())
            try:
                return future.result(timeout=max(0.0, wait))
            except FutureTimeout:
                if deadline is not None and time.monotonic() >= deadline:
                    raise CallTimedOut from None
                self.beat()


def _run(work: Callable[[], T], future: Future[T]) -> None:
    try:
        future.set_result(work())
    except BaseException as exc:  # handed to the waiting thread, which decides
        future.set_exception(exc)
    finally:
        connections.close_all()  # this thread's own connections, if the work opened any

"""The simulators' completion webhooks, POSTed from one asyncio loop per process.

A provider sends its webhooks side by side: a hundred jobs finishing together reach the
receiver together. Each delivery was a thread of the timers' small pool running a one-off event
loop (`ssrf.fetch`), so four went out at a time and every one paid for a new loop. Here they
all run on one loop on a daemon thread, at most MAX_IN_FLIGHT at once, each still through the
SSRF guard (`ssrf.afetch`: the address checked again when it is delivered). The outcome (was
the POST answered 2xx?) goes back to the timers' pool, which counts it and schedules a retry,
so nothing that touches the cache runs on the loop.
"""

import asyncio
import concurrent.futures
import logging
import threading
from collections.abc import Callable
from typing import Any

from executions import ssrf
from wireflow_site.perprocess import PerProcess

from .timers import timers

logger = logging.getLogger("wireflow.simulators")
MAX_IN_FLIGHT = 64
Done = Callable[[bool], None]


class _Loop:
    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.in_flight = asyncio.Semaphore(MAX_IN_FLIGHT)
        threading.Thread(target=self.loop.run_forever, name="sim-webhooks", daemon=True).start()


_loops = PerProcess(_Loop)  # a forked child starts its own
_posted = {"in_flight": 0}
_posted_lock = threading.Lock()


def in_flight() -> int:
    """Deliveries posted whose outcome has not been counted yet."""
    return _posted["in_flight"]


def _note(change: int) -> None:
    with _posted_lock:
        _posted["in_flight"] += change


def post(url: str, body: dict[str, Any], *, what: str, timeout: float, max_answer: int,
         done: Done) -> "concurrent.futures.Future[bool]":
    """POST `body` to `url` in the background; `done(answered 2xx)` then runs on the timers'
    pool. The returned future resolves after `done` has run (tests wait on it)."""
    finished: concurrent.futures.Future[bool] = concurrent.futures.Future()
    _note(+1)
    current = _loops.get()
    sent = asyncio.run_coroutine_threadsafe(
        _send(current.in_flight, url, body, what, timeout, max_answer), current.loop)

    def hand_over(future: "concurrent.futures.Future[bool]") -> None:
        failure = None if future.cancelled() else future.exception()
        if failure is not None:  # a bug, not a refused or unanswered POST: log it, try again
            logger.error("webhook for %s to %s crashed", what, url, exc_info=failure)
        ok = not future.cancelled() and failure is None and bool(future.result())
        timers.call_at(0.0, _finish, done, ok, finished)

    sent.add_done_callback(hand_over)
    return finished


async def _send(in_flight: asyncio.Semaphore, url: str, body: dict[str, Any], what: str,
                timeout: float, max_answer: int) -> bool:
    async with in_flight:
        try:
            response = await ssrf.afetch("POST", url, json=body, timeout=timeout,
                                         max_bytes=max_answer, max_redirects=0)
        except ssrf.FetchError as exc:
            logger.warning("webhook for %s to %s failed: %s", what, url, exc)
            return False
    if 200 <= response.status_code < 300:
        return True
    logger.warning("webhook for %s answered HTTP %s", what, response.status_code)
    return False


def _finish(done: Done, ok: bool, finished: "concurrent.futures.Future[bool]") -> None:
    try:
        done(ok)
    finally:
        _note(-1)
        finished.set_result(ok)

"""Each HTTP request runs its synchronous part (middleware, view, the response's close) on one
thread, a thread kept for later requests rather than started and joined for each one; a thread
that a cancelled request left busy is not lent again until its work is done."""

import asyncio
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from django.core.signals import request_finished, request_started

from tests.harness import wait_until
from wireflow_site.asgi_handler import OneHopASGIHandler, Threads


def _get(handler: OneHopASGIHandler, path: str) -> int:
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
             "method": "GET", "scheme": "http", "path": path, "raw_path": path.encode(),
             "query_string": b"", "root_path": "", "headers": [(b"host", b"testserver")],
             "server": ("testserver", 80), "client": ("127.0.0.1", 1234)}
    sent: list[dict[str, Any]] = []
    pending = [{"type": "http.request", "body": b"", "more_body": False}]

    async def receive() -> dict[str, Any]:
        if pending:
            return pending.pop()
        await asyncio.sleep(3600)  # the client waits for the answer
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    asyncio.run(asyncio.wait_for(handler(scope, receive, send), timeout=30))
    return int(next(m for m in sent if m["type"] == "http.response.start")["status"])


@pytest.fixture
def threads_seen() -> Iterator[list[tuple[str, int]]]:
    seen: list[tuple[str, int]] = []

    def started(**_: Any) -> None:
        seen.append(("started", threading.get_ident()))

    def finished(**_: Any) -> None:
        seen.append(("finished", threading.get_ident()))

    request_started.connect(started, dispatch_uid="test-threads-started")
    request_finished.connect(finished, dispatch_uid="test-threads-finished")
    yield seen
    request_started.disconnect(dispatch_uid="test-threads-started")
    request_finished.disconnect(dispatch_uid="test-threads-finished")


@pytest.mark.django_db(transaction=True)
def test_requests_one_after_another_run_on_one_kept_thread(
        threads_seen: list[tuple[str, int]]) -> None:
    handler = OneHopASGIHandler()
    for _ in range(3):
        assert _get(handler, "/healthz") == 200
        # The thread goes back to the idle list once the request's work is done.
        wait_until(lambda: handler.threads.idle() == 1, 30, "the request's thread was not kept")
    assert [event for event, _ in threads_seen] == ["started", "finished"] * 3
    # Started and finished (the response closed, the connection handed back) on one thread,
    # and that thread served all three requests.
    assert len({ident for _, ident in threads_seen}) == 1
    assert threads_seen[0][1] != threading.get_ident()


def test_an_idle_executor_is_lent_again() -> None:
    threads = Threads(keep=4)
    first = threads.borrow()
    threads.give_back(first)
    wait_until(lambda: threads.idle() == 1, 30, "not returned")
    assert threads.borrow() is first
    assert threads.idle() == 0


def test_a_busy_executor_is_not_lent_until_its_work_is_done() -> None:
    threads = Threads(keep=4)
    busy = threads.borrow()
    release = threading.Event()
    busy.submit(release.wait, 30)  # a view still running after its request was cancelled
    threads.give_back(busy)
    other = threads.borrow()
    assert other is not busy
    assert threads.idle() == 0
    release.set()
    wait_until(lambda: threads.idle() == 1, 30, "the busy executor never came back")
    assert threads.borrow() is busy


def test_executors_beyond_the_idle_bound_are_shut_down() -> None:
    threads = Threads(keep=1)
    lent = [threads.borrow() for _ in range(3)]
    for executor in lent:
        threads.give_back(executor)
    wait_until(lambda: sum(_shut(e) for e in lent) == 2, 30, "extra executors kept")
    assert threads.idle() == 1
    kept = threads.borrow()
    assert not _shut(kept)
    assert kept.submit(lambda: 7).result(timeout=30) == 7


def _shut(executor: Any) -> bool:
    try:
        executor.submit(lambda: None).result(timeout=30)
    except RuntimeError:  # cannot schedule new futures after shutdown
        return True
    return False

"""Each HTTP request runs its synchronous part (middleware, view, the response's close) on one
thread, a thread kept for later requests rather than started and joined for each one; a thread
that a cancelled request left busy is not lent again until its work is done. A response that is
not streamed is closed in the same hop as its view; a streamed one is closed once sent, or once
its client has gone. A client gone before the answer ends the request without waiting for the
view."""

import asyncio
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from django.core.signals import request_finished, request_started
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.urls import get_script_prefix, path, reverse

from tests.harness import wait_until
from wireflow_site.asgi_handler import OneHopASGIHandler, Threads


def _get(handler: OneHopASGIHandler, url: str, sent: list[dict[str, Any]] | None = None,
         leave_after_body: bool = False, leave_at_once: bool = False,
         root_path: str = "", loops: list[int] | None = None) -> int | None:
    """GET `url`: the status answered (None if none was); the messages sent go to `sent`.
    With `leave_after_body`, the client disconnects once a first piece of the body has reached
    it; with `leave_at_once`, right after sending its request. The id of the event loop the
    request was served on goes to `loops`."""
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
             "method": "GET", "scheme": "http", "path": root_path + url,
             "raw_path": (root_path + url).encode(), "query_string": b"",
             "root_path": root_path, "headers": [(b"host", b"testserver")],
             "server": ("testserver", 80), "client": ("127.0.0.1", 1234)}
    sent = [] if sent is None else sent
    pending = [{"type": "http.request", "body": b"", "more_body": False}]

    async def main() -> None:
        body_came = asyncio.Event()
        if loops is not None:
            loops.append(id(asyncio.get_running_loop()))

        async def receive() -> dict[str, Any]:
            if pending:
                return pending.pop()
            if leave_after_body:
                await body_came.wait()
            elif not leave_at_once:
                await asyncio.sleep(3600)  # the client waits for the answer
            return {"type": "http.disconnect"}

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)
            if message["type"] == "http.response.body" and message.get("body"):
                body_came.set()

        await asyncio.wait_for(handler(scope, receive, send), timeout=30)

    asyncio.run(main())
    start = next((m for m in sent if m["type"] == "http.response.start"), None)
    return None if start is None else int(start["status"])


_stream_ended: list[str] = []


async def _endless() -> Any:
    try:
        yield b"first\n"
        await asyncio.sleep(3600)  # a stream that waits for events
        yield b"never\n"
    finally:
        _stream_ended.append("closed")


def _streamed(request: HttpRequest) -> StreamingHttpResponse:
    return StreamingHttpResponse(_endless(), content_type="text/plain")


def _short(request: HttpRequest) -> StreamingHttpResponse:
    return StreamingHttpResponse(iter([b"a", b"b"]), content_type="text/plain")


_release = threading.Event()


def _lines() -> Iterator[bytes]:
    try:
        yield b"line\n"
    finally:
        _stream_ended.append("closed")


def _slow(request: HttpRequest) -> StreamingHttpResponse:
    _release.wait(30)  # a view that takes its time (a lock, a slow provider)
    lines = _lines()
    next(lines)  # started: closing it runs its `finally`
    return StreamingHttpResponse(lines, content_type="text/plain")


async def _on_a_loop(request: HttpRequest) -> HttpResponse:
    """An `async def` view: Django runs it from the request's thread with async_to_sync."""
    return HttpResponse(str(id(asyncio.get_running_loop())))


def _prefix(request: HttpRequest) -> HttpResponse:
    return HttpResponse(f"{get_script_prefix()} {reverse('short')}")


urlpatterns = [path("streamed", _streamed), path("short", _short, name="short"),
               path("slow", _slow), path("on-a-loop", _on_a_loop), path("prefix", _prefix)]


@pytest.fixture
def views_here(settings: Any) -> None:
    """This module's views are the site's, their state fresh."""
    settings.ROOT_URLCONF = __name__
    _stream_ended.clear()
    _release.clear()


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


class _Counted:
    """An executor that counts what it is handed (a hop to the request's thread each)."""

    def __init__(self, executor: Any, hops: list[int]) -> None:
        self._executor, self._hops = executor, hops

    def submit(self, *args: Any, **kwargs: Any) -> Any:
        self._hops.append(1)
        return self._executor.submit(*args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._executor, name)


@pytest.mark.django_db(transaction=True)
def test_a_request_makes_one_hop_and_is_closed_before_its_answer_goes_out(
        threads_seen: list[tuple[str, int]], monkeypatch: pytest.MonkeyPatch) -> None:
    handler = OneHopASGIHandler()
    hops: list[int] = []
    lend = handler.threads.borrow
    monkeypatch.setattr(handler.threads, "borrow", lambda: _Counted(lend(), hops))
    monkeypatch.setattr(handler.threads, "give_back", lambda executor: None)
    sent: list[dict[str, Any]] = []

    def answered(**_: Any) -> None:
        threads_seen.append(("answered" if sent else "not yet answered", 0))

    request_finished.connect(answered, dispatch_uid="test-threads-answered")
    try:
        assert _get(handler, "/healthz", sent) == 200
    finally:
        request_finished.disconnect(dispatch_uid="test-threads-answered")
    # The signal, the middleware and view, and the close: one hand-off to the thread.
    assert len(hops) == 1
    # Closed (its database connection handed back) before a byte of it went out.
    assert [event for event, _ in threads_seen] == ["started", "finished", "not yet answered"]


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("views_here")
def test_a_streamed_response_is_closed_once_sent(threads_seen: list[tuple[str, int]]) -> None:
    sent: list[dict[str, Any]] = []
    assert _get(OneHopASGIHandler(), "/short", sent) == 200
    assert b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body") \
        == b"ab"
    assert [event for event, _ in threads_seen] == ["started", "finished"]


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("views_here")
def test_a_streamed_response_stops_and_is_closed_when_its_client_leaves(
        threads_seen: list[tuple[str, int]]) -> None:
    sent: list[dict[str, Any]] = []
    # Returns (within wait_for's bound) although the stream would wait an hour for more.
    assert _get(OneHopASGIHandler(), "/streamed", sent, leave_after_body=True) == 200
    assert [m.get("body") for m in sent if m["type"] == "http.response.body"] == [b"first\n"]
    assert _stream_ended == ["closed"]
    assert [event for event, _ in threads_seen] == ["started", "finished"]


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("views_here")
def test_a_client_gone_before_the_answer_ends_the_request_and_the_view_is_closed_later(
        threads_seen: list[tuple[str, int]]) -> None:
    handler = OneHopASGIHandler()
    try:
        # The request ends (no answer sent) although its view is still waiting.
        assert _get(handler, "/slow", leave_at_once=True) is None
        assert not _release.is_set() and _stream_ended == []
    finally:
        _release.set()
    # The view answers on its thread afterwards: its streamed response, never sent, is
    # closed there, and the thread is lent again only then.
    wait_until(lambda: _stream_ended == ["closed"], 30, "the abandoned response was not closed")
    wait_until(lambda: handler.threads.idle() == 1, 30, "the request's thread was not kept")
    assert [event for event, _ in threads_seen] == ["started", "finished"]
    assert len({ident for _, ident in threads_seen}) == 1


def _body(sent: list[dict[str, Any]]) -> str:
    return b"".join(m.get("body", b"") for m in sent
                    if m["type"] == "http.response.body").decode()


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("views_here")
def test_an_async_view_is_awaited_on_the_loop_that_serves_its_request() -> None:
    """Not on a loop of its own in yet another thread: what it awaits (a channel layer's
    connections, a stream it returns) belongs to the server's loop."""
    sent: list[dict[str, Any]] = []
    loops: list[int] = []
    assert _get(OneHopASGIHandler(), "/on-a-loop", sent, loops=loops) == 200
    assert _body(sent) == str(loops[0])


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("views_here")
def test_a_view_sees_the_script_prefix_the_site_is_mounted_under() -> None:
    sent: list[dict[str, Any]] = []
    assert _get(OneHopASGIHandler(), "/prefix", sent, root_path="/wireflow") == 200
    assert _body(sent) == "/wireflow/ /wireflow/short"
    sent.clear()
    assert _get(OneHopASGIHandler(), "/prefix", sent) == 200  # and the next one its own
    assert _body(sent) == "/ /short"

"""Django's ASGI handler, with the whole middleware chain and the view run in one thread, a
thread kept from one request to the next.

Django runs its HTTP requests on the event loop and hops to a thread for each synchronous part.
Our middleware and views are synchronous (the ORM is), and `MiddlewareMixin` in async mode hops
to a thread and back for every hook it defines: a request to the API made about a dozen hops.
Under load those hand-offs (thread start, futures, condition waits) cost as much CPU as the view.

Here the chain is loaded in sync mode, as under WSGI, and each request makes one hop: the event
loop still reads the body, streams the response (server-sent events included) and serves the
WebSockets, and an `async def` view is still awaited on the loop (Django adapts it). Django's
handler also hops for the request_started signal and again for the response's close; here the
signal, the view and the close of a response that is not streamed share the one hop
(`_handle`). Measured in process, a GET of the API on 8 concurrent requests: 2.3-2.5 ms of CPU
each with Django's handle, 1.9-2.0 with this one (1.56 and 1.34-1.36 one at a time).

That hop goes to a thread of the request's own (every synchronous part of one request on one
thread, requests side by side on different threads). It is made with the loop's
`run_in_executor` and the request's context (`_on_request_thread`), not with asgiref's
`sync_to_async`, whose shield, executor lookup and two walks over the context's variables cost
a request about 0.3 ms of CPU in process (a GET of the API one at a time: 1.91-2.09 ms against
2.20-2.45, alternated). The request still runs inside asgiref's ThreadSensitiveContext, so that
what a streamed response hands to `sync_to_async` runs on the request's thread too.
Django's handler starts a new thread for each request and, when it ends, one more to join it;
here each request borrows a single-thread executor from `Threads` and hands it back, as a WSGI
server's thread pool does (a thread's database connection is handled per request as under WSGI:
returned to the pool, or kept for CONN_MAX_AGE and health-checked).
"""

import asyncio
import contextlib
import contextvars
import functools
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from asgiref.sync import SyncToAsync, ThreadSensitiveContext, sync_to_async
from django.core import signals
from django.core.exceptions import RequestAborted
from django.core.handlers.asgi import ASGIHandler, get_script_prefix
from django.http import FileResponse, HttpResponseBase
from django.urls import set_script_prefix

KEEP_IDLE = 16  # executors kept for the next requests; more at once are made, then let go


class Threads:
    """Single-thread executors lent to one request at a time. One goes back to the idle list
    only once everything submitted to it has run (a request cancelled mid-view leaves its view
    running there), so a request never queues behind another's work; beyond `keep` idle ones,
    a returned executor is shut down."""

    def __init__(self, keep: int = KEEP_IDLE) -> None:
        self._keep = keep
        self._idle: list[ThreadPoolExecutor] = []
        self._lock = threading.Lock()

    def borrow(self) -> ThreadPoolExecutor:
        with self._lock:
            if self._idle:
                return self._idle.pop()
        return ThreadPoolExecutor(max_workers=1, thread_name_prefix="wireflow-request")

    def give_back(self, executor: ThreadPoolExecutor) -> None:
        # The marker runs after whatever the request left queued; its callback runs on the
        # executor's own thread (or here, if it has already run).
        executor.submit(_nothing).add_done_callback(lambda _: self._idle_again(executor))

    def _idle_again(self, executor: ThreadPoolExecutor) -> None:
        with self._lock:
            if len(self._idle) < self._keep:
                self._idle.append(executor)
                return
        executor.shutdown(wait=False)

    def idle(self) -> int:
        with self._lock:
            return len(self._idle)


def _nothing() -> None:
    return None


class OneHopASGIHandler(ASGIHandler):
    def __init__(self) -> None:
        super().__init__()
        self.threads = Threads()

    def load_middleware(self, is_async: bool = False) -> None:
        super().load_middleware(is_async=False)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":  # as Django's handler: HTTP only
            raise ValueError(f"Django can only handle ASGI/HTTP connections, not {scope['type']}.")
        executor = self.threads.borrow()
        try:
            async with ThreadSensitiveContext(executor=executor):
                await self._handle(scope, receive, send, executor)
        finally:
            self.threads.give_back(executor)

    async def _handle(self, scope: Any, receive: Any, send: Any,
                      executor: ThreadPoolExecutor) -> None:
        """As Django's `handle`, with everything synchronous of a request in one hop
        (`_respond`): the request_started signal, the middleware and view, and, for a response
        that is not streamed, its close (request_finished: the database connection handed
        back) before its bytes go out. As Django's, it listens for the client's disconnect
        meanwhile: a client gone before the answer ends the request here (the view, which
        cannot be stopped, finishes on its thread, and a streamed response it returns is
        closed there), and one gone during a streamed response stops it."""
        try:
            body_file = await self.read_body(receive)
        except RequestAborted:
            return
        made: list[HttpResponseBase] = []  # what the view answered, once it has
        loop = asyncio.get_running_loop()
        responding = loop.run_in_executor(executor, functools.partial(
            _on_request_thread, loop, contextvars.copy_context(), self._respond, scope,
            body_file, made))
        listening = asyncio.ensure_future(self.listen_for_disconnect(receive))
        try:
            await asyncio.wait([responding, listening], return_when=asyncio.FIRST_COMPLETED)
            if not responding.done():  # the client has gone
                responding.add_done_callback(_unawaited)
                # Runs on the request's thread once the view has answered, before the thread
                # is lent again (the executor runs what it is handed in order).
                executor.submit(_close_streamed, made)
                return
            response = responding.result()
            if response.streaming:
                await self._stream(response, listening, send)
            else:
                await self.send_response(response, send)
        finally:
            if not listening.done():
                listening.cancel()
            with contextlib.suppress(asyncio.CancelledError, RequestAborted):
                await listening
            body_file.close()

    def _respond(self, scope: Any, body_file: Any,
                 made: list[HttpResponseBase]) -> HttpResponseBase:
        # Here, not on the loop: a value the loop's thread set in an asgiref Local (as Django's
        # script prefix is) is not seen from another thread unless asgiref moves it there.
        set_script_prefix(get_script_prefix(scope))
        signals.request_started.send(sender=self.__class__, scope=scope)
        request, error_response = self.create_request(scope, body_file)
        response = self.get_response(request) if request is not None else error_response
        assert response is not None  # create_request gives a request or its error response
        response._handler_class = self.__class__  # type: ignore[attr-defined]
        if isinstance(response, FileResponse):  # the ASGI server chunks it
            response.block_size = self.chunk_size
        if not response.streaming:
            response.close()
        made.append(response)
        return response

    async def _stream(self, response: HttpResponseBase, listening: "asyncio.Future[Any]",
                      send: Any) -> None:
        """Send a streamed response until it ends or the client goes, then close it."""
        sending = asyncio.ensure_future(self.send_response(response, send))
        try:
            await asyncio.wait([sending, listening], return_when=asyncio.FIRST_COMPLETED)
        finally:
            try:
                if not sending.done():
                    sending.cancel()
                with contextlib.suppress(asyncio.CancelledError, RequestAborted):
                    await sending
            finally:
                await sync_to_async(response.close, thread_sensitive=True)()


def _on_request_thread(loop: asyncio.AbstractEventLoop, context: contextvars.Context,
                       function: Any, *args: Any) -> Any:
    """`function` in the request's context, on its thread, as asgiref's SyncToAsync runs it
    (that thread marked as run from `loop`, so that Django's async_to_sync of an `async def`
    view or middleware awaits it on that loop) without the rest of its machinery: its shield,
    its two walks over every context variable, its executor lookup."""
    SyncToAsync.threadlocal.main_event_loop = loop
    SyncToAsync.threadlocal.main_event_loop_pid = os.getpid()
    SyncToAsync.threadlocal.task_context = []
    return context.run(function, *args)


def _close_streamed(made: list[HttpResponseBase]) -> None:
    """The end of a request whose client left before the answer: a response that is not
    streamed was closed already; a streamed one, never sent, is closed here."""
    for response in made:
        if response.streaming:
            response.close()


def _unawaited(future: "asyncio.Future[Any]") -> None:
    """Collects the outcome of a view nobody waits for any more (so that asyncio does not log
    an exception of it as never retrieved)."""
    if not future.cancelled():
        future.exception()


def get_asgi_application() -> OneHopASGIHandler:
    """As django.core.asgi.get_asgi_application, with the one-hop handler, and the URLconf
    imported now. Django imports it on a process's first request, and the site's mounts the API
    (every router's operations and their pydantic models): about a second of CPU that the first
    requests of each web worker would wait behind (a burst of provider webhooks reaching a
    worker that had served nothing yet queued for it). Here it is done before the worker
    accepts a connection."""
    import django
    from django.urls import get_resolver

    django.setup(set_prefix=False)
    get_resolver().url_patterns  # noqa: B018 - the attribute's first read imports the URLconf
    return OneHopASGIHandler()

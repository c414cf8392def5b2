"""Django's ASGI handler, with the whole middleware chain and the view run in one thread, a
thread kept from one request to the next.

Django runs its HTTP requests on the event loop and hops to a thread for each synchronous part.
Our middleware and views are synchronous (the ORM is), and `MiddlewareMixin` in async mode hops
to a thread and back for every hook it defines: a request to the API made about a dozen hops.
Under load those hand-offs (thread start, futures, condition waits) cost as much CPU as the view.

Here the chain is loaded in sync mode, as under WSGI, and each request makes one hop: the event
loop still reads the body, streams the response (server-sent events included) and serves the
WebSockets, and an `async def` view is still awaited on the loop (Django adapts it).

That hop goes to a thread of the request's own (asgiref's ThreadSensitiveContext: every
synchronous part of one request on one thread, requests side by side on different threads).
Django's handler starts a new thread for each request and, when it ends, one more to join it;
here each request borrows a single-thread executor from `Threads` and hands it back, as a WSGI
server's thread pool does (a thread's database connection is handled per request as under WSGI:
returned to the pool, or kept for CONN_MAX_AGE and health-checked).
"""

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from asgiref.sync import ThreadSensitiveContext, sync_to_async
from django.core.handlers.asgi import ASGIHandler
from django.http import HttpRequest, HttpResponseBase

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
                await self.handle(scope, receive, send)
        finally:
            self.threads.give_back(executor)

    async def get_response_async(self, request: HttpRequest) -> HttpResponseBase:
        # thread_sensitive: the request's thread (the context's executor), the one that later
        # closes the response and so hands its database connection back.
        response: Any = await sync_to_async(self.get_response, thread_sensitive=True)(request)
        return response  # type: ignore[no-any-return]


def get_asgi_application() -> OneHopASGIHandler:
    """As django.core.asgi.get_asgi_application, with the one-hop handler."""
    import django

    django.setup(set_prefix=False)
    return OneHopASGIHandler()

"""Django's ASGI handler, with the whole middleware chain and the view run in one thread.

Django runs its HTTP requests on the event loop and hops to a thread for each synchronous part.
Our middleware and views are synchronous (the ORM is), and `MiddlewareMixin` in async mode hops
to a thread and back for every hook it defines: a request to the API made about a dozen hops.
Under load those hand-offs (thread start, futures, condition waits) cost as much CPU as the view.

Here the chain is loaded in sync mode, as under WSGI, and each request makes one hop: the event
loop still reads the body, streams the response (server-sent events included) and serves the
WebSockets, and an `async def` view is still awaited on the loop (Django adapts it).
"""

from typing import Any

from asgiref.sync import sync_to_async
from django.core.handlers.asgi import ASGIHandler
from django.http import HttpRequest, HttpResponseBase


class OneHopASGIHandler(ASGIHandler):
    def load_middleware(self, is_async: bool = False) -> None:
        super().load_middleware(is_async=False)

    async def get_response_async(self, request: HttpRequest) -> HttpResponseBase:
        # thread_sensitive: the per-request thread of Django's ThreadSensitiveContext, the one
        # that later closes the response and so hands its database connection back.
        response: Any = await sync_to_async(self.get_response, thread_sensitive=True)(request)
        return response  # type: ignore[no-any-return]


def get_asgi_application() -> OneHopASGIHandler:
    """As django.core.asgi.get_asgi_application, with the one-hop handler."""
    import django

    django.setup(set_prefix=False)
    return OneHopASGIHandler()

"""A bound on every HTTP request body, before Django sees it.

Django's ASGI handler spools a whole request body to a temporary file before any view or
middleware runs, so a chunked body (no Content-Length) would fill the disk unchecked. This
wrapper refuses a declared length over the limit at once and stops reading a body that grows
past it, answering 413 with the API's error body. The limit is the largest body any endpoint
takes (an upload); each endpoint's own, smaller limit is checked later (middleware.py).
"""

import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from .errors import PayloadTooLarge

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
App = Callable[..., Awaitable[None]]  # an ASGI application (Django's handler types it its own way)

_TOO_LARGE = json.dumps(PayloadTooLarge().body()).encode()


def largest_body() -> int:
    """The largest body any endpoint takes, its multipart framing included."""
    from django.conf import settings

    from .middleware import MULTIPART_OVERHEAD_BYTES

    return max(settings.UPLOAD_MAX_BYTES, settings.BATCH_CSV_MAX_BYTES,
               settings.API_MAX_BODY_BYTES) + MULTIPART_OVERHEAD_BYTES


class BodySizeLimit:
    def __init__(self, app: App, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if _declared_length(scope) > self.limit:
            await _refuse(send)
            return
        received = 0
        exceeded = False
        started = False

        async def bounded_receive() -> Message:
            nonlocal received, exceeded
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    exceeded = True
                    # Django stops reading and answers nothing; the 413 is sent below.
                    return {"type": "http.disconnect"}
            return message

        async def tracked_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        await self.app(scope, bounded_receive, tracked_send)
        if exceeded and not started:
            await _refuse(send)


def _declared_length(scope: Scope) -> int:
    for name, value in scope.get("headers", []):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return 0
    return 0


async def _refuse(send: Send) -> None:
    await send({"type": "http.response.start", "status": 413,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(_TOO_LARGE)).encode()),
                            (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": _TOO_LARGE})

"""What the provider-client tests share: the bodies recorded from each provider's documentation
(fixtures/<provider>/), a MockTransport handler answering one body and keeping the requests it
got, a local receiver for the webhooks a provider (or its simulator) posts, and running a
coroutine to its end."""

import asyncio
import json
import queue
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any, TypeVar

import httpx
import httpx2

from tests.harness import LocalHTTPServer

FIXTURES = Path(__file__).parent / "fixtures"
Request = TypeVar("Request")
Response = TypeVar("Response")
Inbox = tuple[str, "queue.Queue[dict[str, Any]]"]


def recorder(provider: str) -> Callable[[str], dict[str, Any]]:
    """`recorded(name)`: the body recorded in fixtures/<provider>/<name>.json."""

    def recorded(name: str) -> dict[str, Any]:
        body: dict[str, Any] = json.loads((FIXTURES / provider / f"{name}.json").read_text())
        return body

    return recorded


def sync(coroutine: Any) -> Any:
    return asyncio.run(coroutine)


def recording(handler: Callable[[Request], Response],
              seen: list[Request] | None) -> Callable[[Request], Response]:
    """`handler`, keeping each request it gets in `seen` (when given) first."""

    def record(request: Request) -> Response:
        if seen is not None:
            seen.append(request)
        return handler(request)

    return record


def _answer(response: Callable[..., Response], status: int, body: Any,
            headers: dict[str, str] | None) -> Callable[[object], Response]:
    if isinstance(body, bytes):
        return lambda request: response(status, content=body, headers=headers)
    return lambda request: response(status, json=body, headers=headers)


def replying(status: int, body: Any, headers: dict[str, str] | None = None,
             seen: list[httpx.Request] | None = None) -> Callable[[httpx.Request], httpx.Response]:
    """An httpx MockTransport handler answering every request with `status` and `body` (bytes
    as they are, anything else as JSON), keeping each request in `seen` (when given)."""
    return recording(_answer(httpx.Response, status, body, headers), seen)


def replying2(status: int, body: Any, headers: dict[str, str] | None = None,
              seen: list[httpx2.Request] | None = None,
              ) -> Callable[[httpx2.Request], httpx2.Response]:
    """`replying` for httpx2, the HTTP client of the providers' own SDKs."""
    return recording(_answer(httpx2.Response, status, body, headers), seen)


class _Inbox(BaseHTTPRequestHandler):
    received: "queue.Queue[dict[str, Any]]"
    status: int

    def do_POST(self) -> None:  # noqa: N802 (the stdlib's name)
        length = int(self.headers.get("Content-Length", 0))
        self.received.put(json.loads(self.rfile.read(length)))
        self.send_response(self.status)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        return


@contextmanager
def webhook_inbox(settings: Any, path: str, status: int = 204) -> Iterator[Inbox]:
    """A receiver on this machine, standing for a public one (the SSRF guard lets it in): its
    URL (ending in `path`) and the queue of the JSON bodies posted to it. It answers `status`."""
    settings.SSRF_ALLOW_HOSTS = ["127.0.0.1"]
    received: queue.Queue[dict[str, Any]] = queue.Queue()
    handler = type("Inbox", (_Inbox,), {"received": received, "status": status})
    server = LocalHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}{path}", received
    finally:
        server.shutdown()
        server.server_close()

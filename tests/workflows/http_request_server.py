"""A small JSON API on 127.0.0.1 for the http:request node's tests: it echoes what it was sent,
answers any status, redirects, and remembers every request it received."""

import contextlib
import json
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.engine.helpers import RUN_TIMEOUT
from tests.harness import LocalHTTPServer

DOCUMENT = {"data": [{"url": "https://cdn.example/1.png", "size": 3}], "name": "fox",
            "ok": True}


class ApiServer:
    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.released = threading.Event()
        self.lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:  # noqa: N802 (the stdlib's names)
                self._route()

            def do_POST(self) -> None:  # noqa: N802
                self._route()

            def do_PUT(self) -> None:  # noqa: N802
                self._route()

            def do_PATCH(self) -> None:  # noqa: N802
                self._route()

            def do_DELETE(self) -> None:  # noqa: N802
                self._route()

            def log_message(self, *args: Any) -> None:
                pass

            def _route(self) -> None:
                url = urlsplit(self.path)
                query = {key: values[0] for key, values in parse_qs(url.query).items()}
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length).decode() if length else ""
                seen = {"method": self.command, "path": url.path, "query": query,
                        "headers": {k.lower(): v for k, v in self.headers.items()},
                        "body": _json_or_text(raw)}
                with server.lock:
                    server.requests.append(seen)
                routes: dict[str, Callable[[], None]] = {
                    "/json": lambda: self._json(200, DOCUMENT),
                    "/echo": lambda: self._json(200, seen),
                    "/status": lambda: self._send(int(query["code"]),
                                                  query.get("body", "").encode(),
                                                  "text/plain"),
                    "/text": lambda: self._send(200, b"<html><body>Hello</body></html>",
                                                "text/html; charset=utf-8"),
                    "/empty": lambda: self._send(204, b"", "text/plain"),
                    "/redirect": lambda: self._send(302, b"", "text/plain",
                                                    {"Location": query["to"]}),
                    "/secret": lambda: self._json(200, {"secret": "internal"}),
                    "/big": lambda: self._json(200, {"blob": "x" * int(query["size"])}),
                    "/hold": self._hold,
                }
                routes.get(url.path, lambda: self._send(404, b"no such route", "text/plain"))()

            def _json(self, status: int, value: Any) -> None:
                self._send(status, json.dumps(value).encode(), "application/json")

            def _send(self, status: int, body: bytes, content_type: str,
                      headers: dict[str, str] | None = None) -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def _hold(self) -> None:
                server.released.wait(RUN_TIMEOUT)
                with contextlib.suppress(OSError):  # the client gave up, as it should
                    self._json(200, {"late": True})

        self.server = LocalHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def port(self) -> int:
        return int(self.server.server_address[1])

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def hits(self, path: str) -> int:
        with self.lock:
            return sum(1 for request in self.requests if request["path"] == path)

    def last(self) -> dict[str, Any]:
        with self.lock:
            return self.requests[-1]

    def close(self) -> None:
        self.released.set()
        self.server.shutdown()
        self.server.server_close()


def _json_or_text(raw: str) -> Any:
    try:
        return json.loads(raw)
    except ValueError:
        return raw

"""Every request body is bounded before Django spools it, declared or chunked."""

import asyncio
import json
from typing import Any

import pytest
from django.core.asgi import get_asgi_application

from wireflow_site.bodylimit import BodySizeLimit, Message

LIMIT = 10_000


def _call(headers: list[tuple[bytes, bytes]], chunks: list[bytes]) -> tuple[int, bytes, int]:
    """(status, body, chunks read by the server) of one POST through the bounded Django app."""
    app = BodySizeLimit(get_asgi_application(), limit=LIMIT)
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
             "method": "POST", "scheme": "http", "path": "/api/v1/workflows/lint",
             "raw_path": b"/api/v1/workflows/lint", "query_string": b"", "root_path": "",
             "headers": [(b"host", b"testserver"), *headers], "server": ("testserver", 80),
             "client": ("127.0.0.1", 1234)}
    pending = [{"type": "http.request", "body": chunk, "more_body": i < len(chunks) - 1}
               for i, chunk in enumerate(chunks)]
    read = 0
    sent: list[Message] = []

    async def receive() -> dict[str, Any]:
        nonlocal read
        if pending:
            read += 1
            return pending.pop(0)
        await asyncio.sleep(3600)  # the client waits for the answer
        return {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        sent.append(message)

    asyncio.run(asyncio.wait_for(app(scope, receive, send), timeout=30))
    start = next(m for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return start["status"], body, read


@pytest.mark.django_db(transaction=True)
def test_a_chunked_body_past_the_limit_is_cut_off_with_413() -> None:
    chunks = [b"x" * 4096] * 100  # 400 KB, no Content-Length
    status, body, read = _call([(b"content-type", b"application/json")], chunks)
    assert status == 413
    assert json.loads(body) == {"error": "Request body too large", "code": "payload_too_large"}
    assert read <= LIMIT // 4096 + 1  # stopped reading at the limit, not at the end


@pytest.mark.django_db(transaction=True)
def test_a_declared_length_past_the_limit_is_refused_unread() -> None:
    status, body, read = _call([(b"content-length", str(LIMIT + 1).encode())], [b"{}"])
    assert (status, read) == (413, 0)
    assert json.loads(body)["code"] == "payload_too_large"


@pytest.mark.django_db(transaction=True)
def test_a_body_within_the_limit_reaches_the_api() -> None:
    status, body, _ = _call([(b"content-type", b"application/json")], [b"{", b"}"])
    assert status == 401  # the API answered it: no key
    assert json.loads(body)["code"] == "missing_authorization"

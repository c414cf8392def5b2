"""The engine's provider calls on one loop per process (executions/providers/io.py): one pooled
HTTP client whose connections outlive a pass, which keeps no cookie between requests, and calls
cancelled there when the pass stops waiting for them."""

import asyncio
import gzip
import json
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from typing import Any, cast
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from executions.engine.heartbeat import CallTimedOut, Heartbeat
from executions.providers import io as provider_io
from executions.providers.errors import ProviderError
from executions.providers.fal import FalClient
from tests.harness import LocalHTTPServer, serving, wait_until


class _Seen:
    def __init__(self) -> None:
        self.peers: list[int] = []  # the client port of each request
        self.cookies: list[str | None] = []
        self.paths: list[str] = []  # each request's target, as its request line had it


@pytest.fixture
def server() -> Iterator[tuple[str, _Seen]]:
    seen = _Seen()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as providers answer

        def _answer(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            self.rfile.read(length)
            seen.peers.append(self.client_address[1])
            seen.paths.append(self.path)
            seen.cookies.append(self.headers.get("Cookie"))
            base = f"http://127.0.0.1:{cast(LocalHTTPServer, self.server).server_port}"
            body = json.dumps({"request_id": f"r{len(seen.peers)}",
                               "status_url": f"{base}/status", "response_url": f"{base}/res",
                               "cancel_url": f"{base}/cancel"}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            # A provider's session cookie, set in answer to one team's key.
            self.send_header("Set-Cookie", f"session=team-{len(seen.peers)}; Path=/")
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = _answer

        def log_message(self, *_: Any) -> None:
            pass

    with serving(Handler) as url:
        yield url, seen


async def _pooled() -> provider_io.Client | None:
    return provider_io.pooled()


def test_the_pooled_client_is_the_provider_loop_s_only() -> None:
    first = provider_io.run(_pooled()).result(timeout=10)
    assert first is not None
    assert provider_io.run(_pooled()).result(timeout=10) is first
    assert asyncio.run(_pooled()) is None  # any other loop makes a client of its own


def test_submits_of_successive_passes_share_one_connection(server: tuple[str, _Seen]) -> None:
    url, seen = server
    for team in ("a", "b", "c"):
        fal = FalClient(url, f"key-{team}", timeout=10)
        submission = provider_io.run(fal.submit("fal-ai/flux-2", {"prompt": "fox"})) \
            .result(timeout=10)
        assert submission.request_id == f"r{len(seen.peers)}"
    assert len(seen.peers) == 3 and len(set(seen.peers)) == 1, seen.peers


def test_no_cookie_a_provider_set_goes_out_with_a_later_request(
        server: tuple[str, _Seen]) -> None:
    url, seen = server
    for team in ("a", "b"):
        fal = FalClient(url, f"key-{team}", timeout=10)
        provider_io.run(fal.submit("fal-ai/flux-2", {"prompt": "fox"})).result(timeout=10)
    assert seen.cookies == [None, None]


@pytest.mark.parametrize("variable", ["HTTP_PROXY", "http_proxy", "ALL_PROXY"])
def test_a_proxy_the_environment_names_carries_the_calls(
        server: tuple[str, _Seen], monkeypatch: pytest.MonkeyPatch, variable: str) -> None:
    # A worker whose way out is an egress proxy: the provider's host is reached through it
    # (here the local server plays the proxy; the host itself does not resolve).
    url, seen = server
    for name in ("HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "ALL_PROXY",
                 "all_proxy", "NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv(variable, url)

    async def submit() -> str:
        async with provider_io.new_client() as client:
            fal = FalClient("http://provider.invalid", "key", timeout=10, http=client)
            return (await fal.submit("fal-ai/flux-2", {"prompt": "fox"})).request_id

    assert asyncio.run(submit()) == "r1"
    assert seen.paths == ["http://provider.invalid/fal-ai/flux-2"]


def test_a_call_the_pass_stops_waiting_for_is_cancelled_on_the_loop(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("executions.engine.heartbeat.Heartbeat.beat", lambda self: None)
    cancelled = threading.Event()

    async def forever() -> None:
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            cancelled.set()
            raise

    with pytest.raises(CallTimedOut):
        Heartbeat("e" * 32, "owner").run(forever(), timeout=0.2)
    wait_until(cancelled.is_set, 10, "the call went on after the pass stopped waiting")


def test_a_call_s_error_reaches_the_pass(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("executions.engine.heartbeat.Heartbeat.beat", lambda self: None)

    async def failing() -> None:
        raise ValueError("the provider's answer made no sense")

    with pytest.raises(ValueError, match="made no sense"):
        Heartbeat("e" * 32, "owner").run(failing(), timeout=5)


# --- The pooled client: httpx's behaviour, on aiohttp ------------------------------------------

class _Exchange:
    """What a request brought: its method, target, headers and body."""

    def __init__(self, method: str, path: str, headers: dict[str, str], body: bytes) -> None:
        self.method, self.path, self.headers, self.body = method, path, headers, body


@pytest.fixture
def recorder() -> Iterator[tuple[str, list[_Exchange]]]:
    """A server that records each request. /redirect answers 302, /gzip a gzip-encoded JSON
    body, /slow answers after 3 s; anything else answers 200 with a small JSON body."""
    seen: list[_Exchange] = []

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _answer(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            seen.append(_Exchange(self.command, self.path,
                                  {k.lower(): v for k, v in self.headers.items()},
                                  self.rfile.read(length)))
            status, headers, body = 200, {"Content-Type": "application/json"}, b'{"ok": true}'
            if self.path.startswith("/redirect"):
                status, headers, body = 302, {"Location": "/elsewhere"}, b""
            elif self.path.startswith("/gzip"):
                headers["Content-Encoding"] = "gzip"
                body = gzip.compress(b'{"packed": "\\u00e9t\\u00e9"}')
            elif self.path.startswith("/slow"):
                time.sleep(3)
            self.send_response(status)
            for name, value in {**headers, "Content-Length": str(len(body))}.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = do_PUT = _answer

        def log_message(self, *_: Any) -> None:
            pass

    with serving(Handler) as url:
        yield url, seen


def _on_the_loop(method: str, url: str, **kwargs: Any) -> httpx.Response:
    async def call() -> httpx.Response:
        client = provider_io.pooled()
        assert isinstance(client, provider_io.PooledClient)
        return await client.request(method, url, **kwargs)

    return provider_io.run(call()).result(timeout=20)


async def _with_httpx(method: str, url: str, **kwargs: Any) -> httpx.Response:
    async with httpx.AsyncClient() as client:
        return await client.request(method, url, **kwargs)


@pytest.mark.parametrize("payload", [
    {"prompt": "un renard en été \u2603", "n": 1, "nested": {"list": [1.5, None, True]}},
    ["a", "b"], "text", 0])
def test_a_body_and_query_go_out_as_httpx_sends_them(
        recorder: tuple[str, list[_Exchange]], payload: Any) -> None:
    url, seen = recorder
    webhook = "http://127.0.0.1:8000/hooks/fal/a b?sig=x&y=é"
    for send in (_on_the_loop, lambda *a, **k: asyncio.run(_with_httpx(*a, **k))):
        response = send("POST", f"{url}/fal-ai/flux?already=1", json=payload,
                        params={"fal_webhook": webhook, "logs": "1"},
                        headers={"Authorization": "Key k", "Accept": "application/json"},
                        timeout=10)
        assert response.status_code == 200 and response.json() == {"ok": True}
    ours, theirs = seen
    assert ours.body == theirs.body and json.loads(ours.body) == payload
    assert ours.method == theirs.method == "POST"
    # As httpx does, the parameters replace the URL's own query.
    assert parse_qs(urlsplit(ours.path).query) == parse_qs(urlsplit(theirs.path).query) == {
        "fal_webhook": [webhook], "logs": ["1"]}
    assert urlsplit(ours.path).path == urlsplit(theirs.path).path == "/fal-ai/flux"
    for name in ("content-type", "authorization", "accept"):
        assert ours.headers[name] == theirs.headers[name], name


def test_a_body_that_is_not_json_is_refused_before_anything_is_sent(
        recorder: tuple[str, list[_Exchange]]) -> None:
    url, seen = recorder
    with pytest.raises(ValueError):
        _on_the_loop("POST", url, json={"seed": float("nan")}, timeout=10)
    assert seen == []


def test_a_redirect_is_answered_not_followed(recorder: tuple[str, list[_Exchange]]) -> None:
    url, seen = recorder
    response = _on_the_loop("GET", f"{url}/redirect", timeout=10)
    assert response.status_code == 302 and response.headers["location"] == "/elsewhere"
    assert [exchange.path for exchange in seen] == ["/redirect"]


def test_an_encoded_answer_is_decoded(recorder: tuple[str, list[_Exchange]]) -> None:
    url, seen = recorder
    response = _on_the_loop("GET", f"{url}/gzip", timeout=10)
    assert response.json() == {"packed": "été"}
    assert "gzip" in seen[0].headers["accept-encoding"]


def test_a_provider_that_does_not_answer_in_time_is_a_retryable_error(
        recorder: tuple[str, list[_Exchange]]) -> None:
    url, _ = recorder
    fal = FalClient(url, "key", timeout=0.3)
    with pytest.raises(ProviderError, match="did not answer in time") as raised:
        provider_io.run(fal.result(f"{url}/slow")).result(timeout=20)
    assert raised.value.retryable


def test_a_provider_that_cannot_be_reached_is_a_retryable_error() -> None:
    with socket.socket() as closed:  # a port nothing listens on
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    fal = FalClient(f"http://127.0.0.1:{port}", "key", timeout=5)
    with pytest.raises(ProviderError) as raised:
        provider_io.run(fal.submit("fal-ai/flux-2", {"prompt": "fox"})).result(timeout=20)
    assert raised.value.retryable

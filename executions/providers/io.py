"""One asyncio loop per process for the engine's provider calls, on a daemon thread, and one
pooled HTTP client on it.

A pass's submits, checks and fetches used to run in a fresh loop on a fresh thread, each call
with an HTTP client of its own: a thread start, a loop, a client and a TCP connection (a TLS
handshake with a real provider) every time; a submit pass against the local simulator took
20.8 ms with them and 19.9 ms on this loop. Here the calls of every pass of the process share
one client, whose connections to a provider stay open between passes (one the server has
closed is dropped, not reused).

`run(work)` is how a worker thread hands a batch of coroutines to the loop; the calls then
find the pooled client with `pooled()`. Code running on any other loop (a test's, a web
request's) gets None and makes a client of its own, as before.

The pooled client makes its calls on aiohttp, whose C parser and connection pool cost a call
about 0.5 ms of the worker's CPU where httpx's own transport cost 0.8 (GET to a local server, 8
at a time, 3,000 calls). It hands aiohttp the request itself and answers an httpx.Response
made from aiohttp's (what the provider clients read), rather than going through httpx's
request and response machinery on top of aiohttp's (httpx-aiohttp's transport): a submit's
POST to a local server, 8 at a time, cost 187-195 us of CPU that way against 395-435 us. In a
worker that submits or fetches hundreds of jobs a second on one core, that was a tenth of the
time it held the GIL.
"""

import asyncio
import atexit
import concurrent.futures
import contextlib
import json as jsonlib
from collections.abc import Coroutine, Mapping
from functools import partial
from http.cookiejar import Cookie, CookieJar
from typing import Any, TypeVar
from urllib.request import getproxies

import aiohttp
import httpx
from httpx_aiohttp.transport import map_aiohttp_exceptions

from wireflow_site.perprocess import PerProcess, daemon_loop
from wireflow_site.tls import client_context

T = TypeVar("T")
# As many connections at once as the calls in flight (as with a client per call: no call waits
# for another's connection); up to 200 stay open between passes.
LIMITS = httpx.Limits(max_connections=None, max_keepalive_connections=200, keepalive_expiry=30)


_loop = PerProcess(partial(daemon_loop, "provider-io"))  # a forked worker starts its own
_client: dict[asyncio.AbstractEventLoop, "Client"] = {}  # the pooled one, by its loop


def run(work: Coroutine[Any, Any, T]) -> "concurrent.futures.Future[T]":
    """Run `work` (made by the caller, outside any loop) on the process's provider loop.
    Cancelling the future cancels it there."""
    return asyncio.run_coroutine_threadsafe(work, _loop.get())


class _NoCookies(CookieJar):
    """A jar that keeps nothing."""

    def extract_cookies(self, response: Any, request: Any) -> None:
        pass

    def set_cookie(self, cookie: Cookie) -> None:
        pass


def pooled() -> "Client | None":
    """The pooled client, when called on the provider loop; else None."""
    own = _loop.current()
    try:
        if own is None or asyncio.get_running_loop() is not own:
            return None
    except RuntimeError:
        return None
    if own not in _client:
        _client[own] = new_client()
        atexit.register(_close, own)
    return _client[own]


def new_client() -> "Client":
    """The pooled client as `pooled` makes it. Each request passes its own timeout. No cookie
    jar (in httpx, nor in aiohttp): one client serves every team, and a cookie a provider set
    in answer to one team's key must never go out with another team's request.

    aiohttp when the environment names no proxy. httpx reads HTTP(S)_PROXY, ALL_PROXY and
    NO_PROXY for its own transport, so where a proxy is named (a worker whose way out is an
    egress proxy) the client is httpx's, which goes through it as the engine's calls always
    have. (aiohttp's own reading of the environment would also look up ~/.netrc on a thread at
    every request, and refuse a provider's Authorization header beside credentials it found
    there.)"""
    if any(getproxies().get(scheme) for scheme in ("http", "https", "all")):
        return httpx.AsyncClient(verify=client_context(), limits=LIMITS, timeout=30,
                                 cookies=_NoCookies())
    return PooledClient()


class PooledClient:
    """Requests as the provider clients make them with httpx (`request(method, url, headers=,
    timeout=, json=, params=)`), made on one aiohttp session and answered as httpx.Response,
    with httpx's behaviour where the two differ: a redirect is answered, not followed; a JSON
    body is compact, keeps non-ASCII characters and refuses NaN; `params` replace the URL's
    own query; `timeout` bounds the connection, each read and the wait for a pooled
    connection, not the whole exchange; an answer's content encoding is decoded by
    httpx.Response, from what httpx would have asked for; aiohttp's errors become httpx's,
    which the provider clients turn into their own."""

    def __init__(self) -> None:
        self._session: aiohttp.ClientSession | None = None  # made on the loop, on first use

    async def request(self, method: str, url: str, *, headers: Mapping[str, str] | None = None,
                      timeout: float = 30.0, json: Any = None,
                      params: Mapping[str, str] | None = None) -> httpx.Response:
        sent = {"Accept-Encoding": "gzip, deflate", **(headers or {})}
        body = None
        if json is not None:
            body = jsonlib.dumps(json, ensure_ascii=False, separators=(",", ":"),
                                 allow_nan=False).encode()
            sent["Content-Type"] = "application/json"
        if params is not None:
            url = url.partition("?")[0]
        if self._session is None:
            self._session = _session()
        bound = aiohttp.ClientTimeout(sock_connect=timeout, sock_read=timeout, connect=timeout)
        with map_aiohttp_exceptions():
            async with self._session.request(method, url, headers=sent, params=params,
                                             data=body, timeout=bound, allow_redirects=False,
                                             auto_decompress=False) as answer:
                content = await answer.read()
        return httpx.Response(answer.status, headers=answer.raw_headers, content=content)

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()

    async def __aenter__(self) -> "PooledClient":
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.aclose()


Client = httpx.AsyncClient | PooledClient  # what a provider client sends its requests with


def _close(loop: asyncio.AbstractEventLoop) -> None:
    """At the process's exit, while the loop's thread still runs: close its pooled client, so
    that aiohttp does not report its connections as left open."""
    client = _client.pop(loop, None)
    if client is not None and loop.is_running():
        with contextlib.suppress(Exception):  # exiting anyway: a slow close is not waited for
            asyncio.run_coroutine_threadsafe(client.aclose(), loop).result(timeout=2)


def _session() -> aiohttp.ClientSession:
    """aiohttp's side of the pooled client, made on the provider loop on its first request: no
    limit on connections at once (as many as the calls in flight), idle ones kept 30 s, no
    cookies, nothing read from the environment (`new_client` uses it only without a proxy)."""
    connector = aiohttp.TCPConnector(ssl=client_context(), limit=0,
                                     keepalive_timeout=LIMITS.keepalive_expiry)
    return aiohttp.ClientSession(connector=connector, cookie_jar=aiohttp.DummyCookieJar(),
                                 trust_env=False)

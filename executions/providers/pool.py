"""Keep-alive connections to the providers, for an event loop that lives as long as its process.

An httpx.AsyncClient keeps its connections open for the next request, but it belongs to the
event loop it first ran on and must not outlive it. A loop made for one batch of calls
(`asyncio.run`) therefore gets a client per call: a TCP connect and, to a real provider, a TLS
handshake for every submit, status and result. A process's long-lived loop (the engine's call
loop, engine/calls.py) registers a pooled client instead, and every provider client running on
that loop shares it: the second call to fal.run reuses the first one's connection.

The pool sends no cookies: a provider's cookie (a load balancer's, say) set on one team's call
must not ride along on another team's. Authentication is per request (each client's headers).
"""

import asyncio
from http.cookiejar import CookieJar, DefaultCookiePolicy

import httpx

from wireflow_site.tls import client_context

# Per host: enough for a 100-way fan-out submitting at once; idle connections close after
# KEEPALIVE_SECONDS (providers close theirs after about a minute).
MAX_CONNECTIONS = 200
MAX_IDLE_CONNECTIONS = 100
KEEPALIVE_SECONDS = 30.0

_pools: dict[asyncio.AbstractEventLoop, httpx.AsyncClient] = {}


def pooled_client(timeout: float = 30.0) -> httpx.AsyncClient:
    """A keep-alive client for the calls of the running loop's process; only for a loop that
    runs until its process ends (nothing closes it)."""
    return httpx.AsyncClient(
        timeout=timeout, verify=client_context(),
        cookies=CookieJar(policy=DefaultCookiePolicy(allowed_domains=[])),
        limits=httpx.Limits(max_connections=MAX_CONNECTIONS,
                            max_keepalive_connections=MAX_IDLE_CONNECTIONS,
                            keepalive_expiry=KEEPALIVE_SECONDS))


def share_on(loop: asyncio.AbstractEventLoop, client: httpx.AsyncClient) -> None:
    """Let the provider clients that run on `loop` use `client`."""
    _pools[loop] = client


def shared() -> httpx.AsyncClient | None:
    """The pooled client of the running loop, if it has one (else a call makes its own)."""
    try:
        return _pools.get(asyncio.get_running_loop())
    except RuntimeError:  # no running loop
        return None

"""The SSRF guard: the only way to fetch a URL that a user controls.

Every user-supplied URL (http:request, input:image by URL, output:webhook, image utilities on
arbitrary URLs) is fetched through `fetch` / `afetch` here. No other module may import an HTTP
client for user URLs. Provider base URLs set by the operator are trusted and do not come here.

The contract:
- Only http and https. URLs carrying credentials (`user:pass@host`) are refused, not stripped:
  dropping them silently would change the request, and `trusted.com@10.0.0.1` is a classic way
  to disguise the real host. Send an `Authorization` header instead.
- The host is resolved once (every address family) and refused unless every address is public
  (see `is_public_address`). The request then connects to that checked address, keeping the real
  name in the `Host` header and in TLS SNI / certificate checks, so a second DNS answer cannot
  point it elsewhere (DNS rebinding).
- Any port is allowed: the address check is what keeps internal services out, and public
  services legitimately listen on unusual ports.
- Redirects are followed by hand (at most `max_redirects`), each hop checked like the first.
  Credential headers are not forwarded to another origin.
- The decoded body is capped while streaming (`ResponseTooLarge`) and `timeout` bounds the whole
  call, redirects and DNS included (`FetchTimeout`).
- `settings.SSRF_ALLOW_HOSTS` lists exact hosts (as written in the URL, names or IPs) that skip
  the address check, for tests and trusted internal services. They are still resolved once and
  pinned.
- The site itself (SITE_URL's host and port, exactly) is reachable whatever its address, so a
  development site on 127.0.0.1 can fetch its own media and receive its own provider webhooks.
  Only that one origin: every other port of the same loopback address stays refused.

Every failure is a `FetchError` (`BlockedUrl` for refusals), so callers never see httpx errors.
Messages are shown to users: they never name the address a host resolved to or was connected
to (that would map the internal network); the log keeps it for the operator.
"""

import asyncio
import ipaddress
import logging
import socket
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import Any, TypedDict, Unpack

import httpx
from django.conf import settings

from wireflow_site.tls import client_context

logger = logging.getLogger("wireflow.ssrf")
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

DEFAULT_TIMEOUT = 10.0
DEFAULT_MAX_BYTES = 10 * 1024 * 1024
DEFAULT_MAX_REDIRECTS = 5
ALLOWED_SCHEMES = frozenset({"http", "https"})
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
# Headers that carry the caller's secrets: never forwarded to another origin on a redirect.
CREDENTIAL_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie"})

# Refused whatever the ipaddress module's tables say in a given Python version. Spelled out so a
# reader sees what is refused. NAT64 (64:ff9b::/96) falls inside reserved ::/8 and is refused too.
BLOCKED_NETWORKS = tuple(
    ipaddress.ip_network(network)
    for network in (
        "0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16",
        "172.16.0.0/12", "192.168.0.0/16", "224.0.0.0/4", "240.0.0.0/4",
        "::/128", "::1/128", "fc00::/7", "fe80::/10", "ff00::/8",
    )
)
METADATA_ADDRESSES = frozenset(
    ipaddress.ip_address(address)
    for address in ("169.254.169.254", "fd00:ec2::254", "100.100.100.200")
)
IPV4_COMPATIBLE = ipaddress.IPv6Network("::/96")

# DNS runs in this pool rather than the event loop's default executor: asyncio.run() waits for
# the default executor on exit, so a hung resolver would outlive the caller's timeout.
_resolver_pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="ssrf-dns")


class FetchError(Exception):
    """Fetching a user URL failed; the message is safe to show to the user."""


class BlockedUrl(FetchError):
    """The URL is refused: bad scheme, credentials, or a non-public address."""


class ResponseTooLarge(FetchError):
    pass


class FetchTimeout(FetchError):
    pass


class TooManyRedirects(FetchError):
    pass


@dataclass(frozen=True)
class SafeResponse:
    status_code: int
    headers: dict[str, str]  # lower-case names; repeated headers joined with ", "
    content: bytes
    url: str  # the final URL after redirects, with the host name (not the pinned IP)


@dataclass(frozen=True)
class _Hop:
    """One request in a redirect chain."""

    method: str
    url: httpx.URL
    headers: dict[str, str]
    json: Any
    content: bytes | str | None


# --- Checking ----------------------------------------------------------------------------


def is_public_address(address: IPAddress) -> bool:
    """True only for globally routable unicast addresses, including any IPv4 embedded in v6."""
    if address in METADATA_ADDRESSES or any(address in net for net in BLOCKED_NETWORKS):
        return False
    special = (
        address.is_loopback, address.is_private, address.is_link_local, address.is_multicast,
        address.is_reserved, address.is_unspecified,
    )
    if any(special) or not address.is_global:
        return False
    return all(is_public_address(embedded) for embedded in _embedded_ipv4(address))


def _embedded_ipv4(address: IPAddress) -> list[ipaddress.IPv4Address]:
    """IPv4 addresses a v6 address tunnels to (mapped, compatible, 6to4, Teredo)."""
    if isinstance(address, ipaddress.IPv4Address):
        return []
    embedded = [address.ipv4_mapped, address.sixtofour, *(address.teredo or ())]
    if address in IPV4_COMPATIBLE:
        embedded.append(ipaddress.IPv4Address(int(address) & 0xFFFFFFFF))
    return [ip for ip in embedded if ip is not None]


def check_url(url: str) -> list[IPAddress]:
    """Resolve the URL's host and return its addresses, or raise `BlockedUrl` / `FetchError`."""
    return _checked_addresses(_parse(url))


def _parse(url: str) -> httpx.URL:
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError) as exc:
        raise BlockedUrl(f"URL is not valid: {exc}") from exc
    if parsed.scheme not in ALLOWED_SCHEMES:
        raise BlockedUrl(f"URL scheme must be http or https, not {parsed.scheme or 'missing'!r}")
    if not parsed.host:
        raise BlockedUrl("URL has no host")
    if parsed.port is not None and not 0 < parsed.port < 65536:
        raise BlockedUrl(f"URL port {parsed.port} is out of range")
    if parsed.userinfo:
        raise BlockedUrl("URL must not contain credentials; send an Authorization header")
    return parsed


NOT_PUBLIC = "URL refused: its host is not a public address"


def _checked_addresses(url: httpx.URL) -> list[IPAddress]:
    addresses = _resolve(url)
    if _is_allowed_host(url.host) or _is_the_site(url):
        return addresses
    for address in addresses:
        if not is_public_address(address):
            logger.info("refused %s: %s resolves to %s", url, url.host, address)
            raise BlockedUrl(NOT_PUBLIC)
    return addresses


def _resolve(url: httpx.URL) -> list[IPAddress]:
    # getaddrinfo reads the host the way the OS does: 2130706433, 0x7f.1 and 127.1 all give
    # 127.0.0.1, so odd IPv4 spellings are checked as what they really are.
    host = url.raw_host.decode("ascii")
    try:
        infos = socket.getaddrinfo(host, _port(url), proto=socket.IPPROTO_TCP)
    except (OSError, UnicodeError) as exc:
        raise FetchError(f"URL host could not be resolved ({url.host})") from exc
    addresses = [ipaddress.ip_address(info[4][0]) for info in infos]
    return list(dict.fromkeys(addresses))


def _port(url: httpx.URL) -> int:
    return url.port or (443 if url.scheme == "https" else 80)


def _is_allowed_host(host: str) -> bool:
    allowed = getattr(settings, "SSRF_ALLOW_HOSTS", [])
    return host.lower() in {entry.strip("[]").lower() for entry in allowed}


def _is_the_site(url: httpx.URL) -> bool:
    """The URL is on SITE_URL's host and port (the site may always call itself)."""
    try:
        site = httpx.URL(settings.SITE_URL)
    except (httpx.InvalidURL, TypeError):
        return False
    if not site.host or site.scheme not in ALLOWED_SCHEMES:
        return False
    return (url.host.lower(), _port(url)) == (site.host.lower(), _port(site))


# --- Fetching ----------------------------------------------------------------------------


class FetchOptions(TypedDict, total=False):
    """`afetch`'s keyword arguments, which `fetch` hands on as they are (the defaults are
    afetch's)."""

    headers: Mapping[str, str] | None
    json: Any
    content: bytes | str | None
    timeout: float
    max_bytes: int
    max_redirects: int


def fetch(method: str, url: str, **options: Unpack[FetchOptions]) -> SafeResponse:
    """Synchronous `afetch`. Must not be called from a running event loop."""
    # One implementation for both: asyncio.timeout bounds the whole call exactly, which httpx's
    # per-read timeouts cannot do in sync code (a server dripping bytes would never trip them).
    return asyncio.run(afetch(method, url, **options))


async def afetch(
    method: str,
    url: str,
    *,
    headers: Mapping[str, str] | None = None,
    json: Any = None,
    content: bytes | str | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    max_bytes: int = DEFAULT_MAX_BYTES,
    max_redirects: int = DEFAULT_MAX_REDIRECTS,
) -> SafeResponse:
    """Fetch a user URL through the guard; see the module docstring for the contract."""
    hop = _Hop(method.upper(), _parse(url), dict(headers or {}), json, content)
    try:
        async with asyncio.timeout(timeout):
            return await _follow(hop, timeout, max_bytes, max_redirects)
    except (TimeoutError, httpx.TimeoutException) as exc:
        raise FetchTimeout(f"Fetching the URL took longer than {timeout:g}s") from exc


async def _follow(hop: _Hop, timeout: float, max_bytes: int, max_redirects: int) -> SafeResponse:
    loop = asyncio.get_running_loop()
    for _ in range(max_redirects + 1):
        addresses = await loop.run_in_executor(_resolver_pool, _checked_addresses, hop.url)
        response = await _send(hop, addresses, timeout, max_bytes)
        next_hop = _redirect(hop, response)
        if next_hop is None:
            return response
        hop = next_hop
    raise TooManyRedirects(f"The URL redirected more than {max_redirects} times")


async def _send(
    hop: _Hop, addresses: list[IPAddress], timeout: float, max_bytes: int
) -> SafeResponse:
    """Try the checked addresses in resolver order until one accepts the connection."""
    failure: Exception | None = None
    for address in addresses:
        try:
            return await _send_to(hop, address, timeout, max_bytes)
        except httpx.ConnectError as exc:
            failure = exc
        except httpx.TimeoutException:
            raise  # afetch turns it into FetchTimeout, like the overall deadline
        except httpx.HTTPError as exc:
            # httpx's own text may name the pinned address: say only what kind of failure.
            logger.info("fetching %s failed: %r", hop.url, exc)
            raise FetchError(f"Fetching the URL failed ({type(exc).__name__})") from exc
    logger.info("could not connect to %s: %r", hop.url, failure)
    raise FetchError(f"Could not connect to {hop.url.host}") from failure


async def _send_to(
    hop: _Hop, address: IPAddress, timeout: float, max_bytes: int
) -> SafeResponse:
    # A fresh client per hop: its pool is keyed by IP, so a kept-alive TLS connection verified
    # for one host name must never be reused for another.
    async with httpx.AsyncClient(trust_env=False, timeout=timeout,
                                 verify=client_context()) as client:
        response = await client.send(_pinned_request(client, hop, address), stream=True)
        try:
            body = await _read_capped(response, max_bytes)
        finally:
            await response.aclose()
    return SafeResponse(response.status_code, dict(response.headers), body, str(hop.url))


def _pinned_request(client: httpx.AsyncClient, hop: _Hop, address: IPAddress) -> httpx.Request:
    """The hop's request aimed at the checked IP, with the real name for Host and TLS."""
    headers = {name: value for name, value in hop.headers.items() if name.lower() != "host"}
    headers["Host"] = hop.url.netloc.decode("ascii")
    extensions: dict[str, Any] = {}
    if hop.url.scheme == "https":
        extensions["sni_hostname"] = hop.url.raw_host.decode("ascii")
    return client.build_request(
        hop.method, hop.url.copy_with(host=str(address)), headers=headers, json=hop.json,
        content=hop.content, extensions=extensions,
    )


async def _read_capped(response: httpx.Response, max_bytes: int) -> bytes:
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        raise ResponseTooLarge(f"The response is larger than {max_bytes} bytes")
    body = bytearray()
    async for chunk in response.aiter_bytes():  # decoded, so a gzip bomb is capped too
        body += chunk
        if len(body) > max_bytes:
            raise ResponseTooLarge(f"The response is larger than {max_bytes} bytes")
    return bytes(body)


def _redirect(hop: _Hop, response: SafeResponse) -> _Hop | None:
    """The next hop if the response is a redirect, else None. The caller re-checks it."""
    location = response.headers.get("location")
    if response.status_code not in REDIRECT_STATUSES or not location:
        return None
    try:
        target = _parse(str(hop.url.join(location)))
    except httpx.InvalidURL as exc:
        raise BlockedUrl(f"Redirect location is not valid: {exc}") from exc
    next_hop = replace(hop, url=target)
    if _switches_to_get(hop.method, response.status_code):
        next_hop = replace(next_hop, method="GET", json=None, content=None)
    if _origin(target) != _origin(hop.url):
        kept = {k: v for k, v in hop.headers.items() if k.lower() not in CREDENTIAL_HEADERS}
        next_hop = replace(next_hop, headers=kept)
    return next_hop


def _switches_to_get(method: str, status_code: int) -> bool:
    # What browsers (and httpx) do: 303 always becomes GET, 301/302 turn a POST into a GET.
    if status_code == 303:
        return method != "HEAD"
    return status_code in (301, 302) and method == "POST"


def _origin(url: httpx.URL) -> tuple[str, str, int]:
    return url.scheme, url.host, _port(url)

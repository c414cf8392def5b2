"""The SSRF guard: refusals, pinning to the checked address, redirects, size and time caps.

Nothing here reaches the internet: refused URLs are refused before any connection, public
answers come from a faked resolver, and real fetches go to a small HTTP server on 127.0.0.1
that the tests put on SSRF_ALLOW_HOSTS.
"""

import asyncio
import ipaddress
import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from executions.ssrf import (
    BlockedUrl,
    FetchError,
    FetchTimeout,
    ResponseTooLarge,
    TooManyRedirects,
    afetch,
    check_url,
    fetch,
)
from tests.harness import LocalHTTPServer

REAL_GETADDRINFO = socket.getaddrinfo


# --- A local server to fetch from ---------------------------------------------------------


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        self._route()

    def do_POST(self) -> None:
        self._route()

    def log_message(self, *args: Any) -> None:
        pass  # keep the test output clean

    def _route(self) -> None:
        url = urlsplit(self.path)
        query = {key: values[0] for key, values in parse_qs(url.query).items()}
        routes: dict[str, Callable[[dict[str, str]], None]] = {
            "/hello": lambda q: self._send(200, b"hello"),
            "/echo": lambda q: self._echo(),
            "/redirect": self._redirect,
            "/loop": lambda q: self._send(302, b"", {"Location": "/loop"}),
            "/big": lambda q: self._send(200, b"x" * 2000),
            "/unsized": lambda q: self._unsized(2000),
            "/slow": lambda q: self._slow(),
            "/drip": lambda q: self._drip(),
        }
        (routes.get(url.path) or (lambda q: self._send(404, b"no such route")))(query)

    def _send(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _echo(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        seen = {
            "method": self.command,
            "headers": {name.lower(): value for name, value in self.headers.items()},
            "body": self.rfile.read(length).decode(),
        }
        self._send(200, json.dumps(seen).encode(), {"Content-Type": "application/json"})

    def _redirect(self, query: dict[str, str]) -> None:
        self._send(int(query.get("status", "302")), b"", {"Location": query["to"]})

    def _unsized(self, size: int) -> None:
        # No Content-Length: the body runs until the connection closes, so only streaming
        # can tell how big it is.
        self.close_connection = True
        self.send_response(200)
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(b"y" * size)

    def _slow(self) -> None:
        SLOW.hold()
        self._send(200, b"late")

    def _drip(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", "100")
        self.end_headers()
        try:
            for _ in range(100):
                self.wfile.write(b"z")
                self.wfile.flush()
                time.sleep(0.1)
        except OSError:
            pass  # the client gave up, as it should


class _Gate:
    """/slow holds its answer until the test opens the gate. After a minute, enormous next to
    the timeouts tested, it answers anyway and notes that it had to: a fetch was still waiting."""

    def __init__(self) -> None:
        self.opened = threading.Event()
        self.forced = threading.Event()

    def hold(self) -> None:
        if not self.opened.wait(60):
            self.forced.set()

    def close(self) -> None:
        self.opened.clear()
        self.forced.clear()


SLOW = _Gate()


class _Server(LocalHTTPServer):
    daemon_threads = True
    block_on_close = False


@pytest.fixture(scope="module")
def server_port() -> Iterator[int]:
    server = _Server(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


@pytest.fixture
def base(server_port: int, settings: Any) -> str:
    settings.SSRF_ALLOW_HOSTS = ["127.0.0.1"]
    return f"http://127.0.0.1:{server_port}"


# --- A resolver the tests control --------------------------------------------------------


def _answer(*ips: str) -> list[tuple[Any, ...]]:
    return [
        (socket.AF_INET6 if ":" in ip else socket.AF_INET, socket.SOCK_STREAM,
         socket.IPPROTO_TCP, "", (ip, 80))
        for ip in ips
    ]


@pytest.fixture
def resolve_as(monkeypatch: pytest.MonkeyPatch) -> Callable[..., list[str]]:
    """Make one host name resolve to a sequence of answers; returns the log of its lookups."""

    def install(name: str, *answers: list[tuple[Any, ...]] | Exception) -> list[str]:
        queue = list(answers)
        lookups: list[str] = []

        def fake(host: str, *args: Any, **kwargs: Any) -> Any:
            if host != name:
                return REAL_GETADDRINFO(host, *args, **kwargs)
            lookups.append(host)
            answer = queue.pop(0) if len(queue) > 1 else queue[0]
            if isinstance(answer, Exception):
                raise answer
            return answer

        monkeypatch.setattr(socket, "getaddrinfo", fake)
        return lookups

    return install


# --- Refusals ----------------------------------------------------------------------------

NON_PUBLIC_URLS = [
    "http://localhost/",
    "http://127.0.0.1/",
    "http://127.1/",
    "http://2130706433/",  # decimal 127.0.0.1
    "http://0x7f.1/",  # hex
    "http://017700000001/",  # octal
    "http://[::1]/",
    "http://[::ffff:127.0.0.1]/",  # IPv4-mapped
    "http://[::127.0.0.1]/",  # IPv4-compatible
    "http://[2002:7f00:1::1]/",  # 6to4 wrapping 127.0.0.1
    "http://[2001:0:4136:e378:8000:63bf:80ff:fffe]/",  # Teredo, client 127.0.0.1
    "http://[64:ff9b::a00:1]/",  # NAT64 wrapping 10.0.0.1
    "http://169.254.169.254/latest/meta-data/",  # cloud metadata
    "http://[fd00:ec2::254]/",  # AWS metadata over IPv6
    "http://100.100.100.200/",  # Alibaba metadata
    "http://10.0.0.1/",
    "http://172.16.0.1/",
    "http://192.168.1.1/",
    "http://100.64.0.1/",  # carrier-grade NAT
    "http://[fe80::1]/",
    "http://[fc00::1]/",  # unique local
    "http://0.0.0.0/",
    "http://[::]/",
    "http://224.0.0.1/",  # multicast
    "http://[ff02::1]/",
    "http://240.0.0.1/",  # reserved
    "http://255.255.255.255/",
    "https://127.0.0.1:8443/",  # any port, any scheme: the address decides
]


@pytest.mark.parametrize("url", NON_PUBLIC_URLS)
def test_it_refuses_every_non_public_address(url: str) -> None:
    with pytest.raises(BlockedUrl, match="not a public address"):
        check_url(url)


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("ftp://example.com/file", "scheme must be http or https"),
        ("file:///etc/passwd", "scheme must be http or https"),
        ("gopher://example.com/", "scheme must be http or https"),
        ("example.com/no-scheme", "scheme must be http or https"),
        ("http:///no-host", "no host"),
        ("http://user:secret@example.com/", "must not contain credentials"),
        ("http://trusted.example@10.0.0.1/", "must not contain credentials"),
        ("http://example.com:99999/", "port 99999 is out of range"),
        ("http://[zz::1]/", "not valid"),
    ],
)
def test_it_refuses_malformed_urls_before_resolving(
    url: str, reason: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(socket, "getaddrinfo", _fail_if_called)
    with pytest.raises(BlockedUrl, match=reason):
        check_url(url)


def _fail_if_called(*args: Any, **kwargs: Any) -> Any:
    raise AssertionError("the URL should have been refused before any DNS lookup")


def test_the_refusal_does_not_reveal_the_address_a_spelling_stands_for() -> None:
    with pytest.raises(BlockedUrl) as refused:
        check_url("http://2130706433/")
    assert str(refused.value) == "URL refused: its host is not a public address"


@pytest.mark.parametrize("answer", [("10.1.2.3",), ("93.184.216.34", "192.168.0.7"),
                                    ("fd12:3456::1",), ("::ffff:172.16.5.4",)])
def test_a_host_name_resolving_to_an_internal_address_is_refused_without_naming_it(
        resolve_as: Any, answer: tuple[str, ...]) -> None:
    resolve_as("intranet.example", _answer(*answer))
    with pytest.raises(BlockedUrl) as refused:
        check_url("https://intranet.example/")
    assert str(refused.value) == "URL refused: its host is not a public address"
    internal = ipaddress.ip_address(answer[-1])
    for spelling in {answer[-1], str(internal), str(getattr(internal, "ipv4_mapped", ""))}:
        assert not spelling or spelling not in str(refused.value)


def test_a_failed_connection_names_the_host_not_the_address_it_was_pinned_to(
        resolve_as: Any, settings: Any) -> None:
    settings.SSRF_ALLOW_HOSTS = ["closed.example"]
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    resolve_as("closed.example", _answer("127.0.0.1"))
    with pytest.raises(FetchError) as failed:
        fetch("GET", f"http://closed.example:{port}/", timeout=5)
    assert str(failed.value) == "Could not connect to closed.example"
    assert "127.0.0.1" not in str(failed.value)


def test_the_site_itself_is_reachable_on_its_own_host_and_port_only(server_port: int,
                                                                     settings: Any) -> None:
    settings.SITE_URL = f"http://127.0.0.1:{server_port}"
    assert fetch("GET", f"http://127.0.0.1:{server_port}/hello").content == b"hello"
    for elsewhere in ("http://127.0.0.1/", "http://127.0.0.1:6379/",
                      f"http://localhost:{server_port}/", f"http://127.0.0.2:{server_port}/"):
        with pytest.raises(BlockedUrl, match="not a public address"):
            check_url(elsewhere)


def test_a_redirect_from_the_site_to_another_loopback_port_is_refused(server_port: int,
                                                                      settings: Any) -> None:
    settings.SITE_URL = f"http://127.0.0.1:{server_port}"
    with pytest.raises(BlockedUrl, match="not a public address"):
        fetch("GET", f"http://127.0.0.1:{server_port}/redirect?to=http://127.0.0.1:6379/")


def test_an_unresolvable_host_is_a_fetch_error_not_a_crash(resolve_as: Any) -> None:
    resolve_as("nowhere.example", socket.gaierror(socket.EAI_NONAME, "Name or service not known"))
    with pytest.raises(FetchError, match=r"could not be resolved \(nowhere.example\)"):
        check_url("http://nowhere.example/")


def test_it_returns_the_addresses_of_a_public_host(resolve_as: Any) -> None:
    resolve_as("public.example", _answer("93.184.216.34", "2606:2800:220:1::1"))
    assert check_url("https://public.example:8443/path") == [
        ipaddress.ip_address("93.184.216.34"),
        ipaddress.ip_address("2606:2800:220:1::1"),
    ]


def test_6to4_wrapping_a_public_address_is_allowed() -> None:
    assert check_url("http://[2002:808:808::1]/") == [ipaddress.ip_address("2002:808:808::1")]


def test_the_allow_list_matches_the_host_exactly(settings: Any) -> None:
    settings.SSRF_ALLOW_HOSTS = ["127.0.0.1"]
    assert check_url("http://127.0.0.1/") == [ipaddress.ip_address("127.0.0.1")]
    with pytest.raises(BlockedUrl):
        check_url("http://localhost/")


# --- Fetching ----------------------------------------------------------------------------


def test_it_fetches_from_an_allowed_host(base: str) -> None:
    response = fetch("GET", f"{base}/hello")
    assert (response.status_code, response.content) == (200, b"hello")
    assert response.headers["content-length"] == "5"
    assert response.url == f"{base}/hello"


def test_it_sends_the_method_headers_and_json_body(base: str) -> None:
    response = fetch("POST", f"{base}/echo", headers={"X-Token": "abc"}, json={"a": 1})
    seen = json.loads(response.content)
    assert seen["method"] == "POST"
    assert seen["headers"]["x-token"] == "abc"
    assert json.loads(seen["body"]) == {"a": 1}


def test_the_async_variant_fetches_too(base: str) -> None:
    response = asyncio.run(afetch("GET", f"{base}/hello"))
    assert (response.status_code, response.content) == (200, b"hello")


def test_it_refuses_before_connecting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(httpx.AsyncClient, "send", _fail_if_called)
    with pytest.raises(BlockedUrl):
        fetch("GET", "http://169.254.169.254/latest/meta-data/")


def test_it_connects_to_the_checked_address_even_if_dns_changes_its_answer(
    resolve_as: Any, server_port: int, settings: Any
) -> None:
    settings.SSRF_ALLOW_HOSTS = ["pinned.test"]
    # The second answer points where nothing listens: reaching the server proves the request
    # went to the first, checked answer.
    lookups = resolve_as("pinned.test", _answer("127.0.0.1"), _answer("127.0.0.3"))
    response = fetch("GET", f"http://pinned.test:{server_port}/echo")
    assert response.status_code == 200
    assert json.loads(response.content)["headers"]["host"] == f"pinned.test:{server_port}"
    assert lookups == ["pinned.test"]


def test_https_goes_to_the_checked_ip_with_the_real_name_for_host_and_sni(
    resolve_as: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    resolve_as("secure.example", _answer("93.184.216.34"))
    sent: list[httpx.Request] = []

    async def capture(client: httpx.AsyncClient, request: httpx.Request, **kwargs: Any) -> Any:
        sent.append(request)
        return httpx.Response(200, content=b"ok", request=request)

    monkeypatch.setattr(httpx.AsyncClient, "send", capture)
    fetch("GET", "https://secure.example/page", headers={"Host": "spoofed.example"})
    assert str(sent[0].url) == "https://93.184.216.34/page"
    assert sent[0].headers["host"] == "secure.example"
    assert sent[0].extensions["sni_hostname"] == "secure.example"


# --- Redirects ---------------------------------------------------------------------------


def test_it_follows_a_redirect_on_the_same_host(base: str) -> None:
    response = fetch("GET", f"{base}/redirect?to=/hello")
    assert (response.status_code, response.content) == (200, b"hello")
    assert response.url == f"{base}/hello"


def test_it_refuses_a_redirect_from_an_allowed_host_to_another_loopback_address(
    base: str, server_port: int
) -> None:
    with pytest.raises(BlockedUrl, match="not a public address"):
        fetch("GET", f"{base}/redirect?to=http://127.0.0.2:{server_port}/hello")


@pytest.mark.parametrize("target", ["file:///etc/passwd", "ftp://example.com/x"])
def test_it_never_follows_a_redirect_to_another_scheme(base: str, target: str) -> None:
    with pytest.raises(BlockedUrl, match="scheme must be http or https"):
        fetch("GET", f"{base}/redirect?to={target}")


def test_it_stops_after_max_redirects(base: str) -> None:
    with pytest.raises(TooManyRedirects, match="more than 3 times"):
        fetch("GET", f"{base}/loop", max_redirects=3)


def test_a_302_turns_a_post_into_a_get_without_body(base: str) -> None:
    seen = json.loads(fetch("POST", f"{base}/redirect?to=/echo", json={"a": 1}).content)
    assert (seen["method"], seen["body"]) == ("GET", "")


def test_a_307_keeps_the_post_and_its_body(base: str) -> None:
    response = fetch("POST", f"{base}/redirect?status=307&to=/echo", json={"a": 1})
    seen = json.loads(response.content)
    assert seen["method"] == "POST"
    assert json.loads(seen["body"]) == {"a": 1}


def test_credentials_are_not_forwarded_to_another_origin(
    base: str, server_port: int, settings: Any
) -> None:
    settings.SSRF_ALLOW_HOSTS = ["127.0.0.1", "localhost"]
    headers = {"Authorization": "Bearer secret", "Cookie": "s=1", "X-Trace": "t"}
    target = f"http://localhost:{server_port}/echo"
    seen = json.loads(fetch("GET", f"{base}/redirect?to={target}", headers=headers).content)
    assert "authorization" not in seen["headers"]
    assert "cookie" not in seen["headers"]
    assert seen["headers"]["x-trace"] == "t"


def test_credentials_stay_on_a_same_origin_redirect(base: str) -> None:
    headers = {"Authorization": "Bearer secret"}
    seen = json.loads(fetch("GET", f"{base}/redirect?to=/echo", headers=headers).content)
    assert seen["headers"]["authorization"] == "Bearer secret"


# --- Size and time -----------------------------------------------------------------------


def test_a_declared_body_over_the_cap_is_refused(base: str) -> None:
    with pytest.raises(ResponseTooLarge, match="larger than 1000 bytes"):
        fetch("GET", f"{base}/big", max_bytes=1000)


def test_an_undeclared_body_is_capped_while_streaming(base: str) -> None:
    with pytest.raises(ResponseTooLarge):
        fetch("GET", f"{base}/unsized", max_bytes=1000)
    assert fetch("GET", f"{base}/unsized", max_bytes=2000).content == b"y" * 2000


def test_a_server_slow_to_answer_times_out(base: str) -> None:
    # /slow answers only once the fetch has ended: a guard that waited for the late body
    # instead of giving up would have made the server give up holding it first.
    SLOW.close()
    try:
        with pytest.raises(FetchTimeout, match="longer than 0.5s"):
            fetch("GET", f"{base}/slow", timeout=0.5)
        assert not SLOW.forced.is_set()
    finally:
        SLOW.opened.set()


def test_the_timeout_bounds_the_whole_download_not_each_read(base: str) -> None:
    # /drip sends a byte every 0.1s for 10s: no single read is slow, only the total is. With
    # per-read timeouts alone the fetch would return the 100 bytes; it must time out instead.
    with pytest.raises(FetchTimeout, match="longer than 1s"):
        fetch("GET", f"{base}/drip", timeout=1.0)

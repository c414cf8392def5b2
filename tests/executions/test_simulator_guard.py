"""The built-in simulators run inside the site, so they must not be a way into it: they answer
only the configured key, fetch inputs and post webhooks only through the SSRF guard, never name
an internal address in an error, and answer nothing while switched off."""

import io
import queue
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler
from typing import Any

import pytest
from django.test import Client
from PIL import Image

from executions.providers.fal import platform_key
from executions.simulators import fal_jobs, state
from executions.simulators.state import Job, simulator_stats
from tests.harness import LocalHTTPServer, wait_until

from .fal_sim import auth, fresh_fal_simulator, path_of, submit

# The simulators accept the keys teams saved in Settings > Providers: their guard reads them.
pytestmark = pytest.mark.django_db

UPSCALER = "clarityai/crystal-upscaler"


@pytest.fixture(autouse=True)
def fresh_simulator(settings: Any) -> Iterator[None]:
    with fresh_fal_simulator(settings, latency=0.1):
        yield


def finished(client: Client, submitted: dict[str, Any]) -> dict[str, Any]:
    def done() -> dict[str, Any] | None:
        body = dict(client.get(path_of(submitted["status_url"]), headers=auth()).json())
        return body if body["status"] == "COMPLETED" else None

    return wait_until(done, 60, "the simulated job did not finish")


# --- A local server standing for an internal service -------------------------------------------

class _Internal(BaseHTTPRequestHandler):
    """Serves a PNG at /a.png, redirects /hop?to=..., records every request it gets."""

    seen: "queue.Queue[str]"

    def do_GET(self) -> None:  # noqa: N802 (the stdlib's name)
        self._answer()

    def do_POST(self) -> None:  # noqa: N802
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self._answer()

    def _answer(self) -> None:
        self.seen.put(f"{self.command} {self.path}")
        if self.path.startswith("/hop?to="):
            self.send_response(302)
            self.send_header("Location", self.path.removeprefix("/hop?to="))
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        body = _png() if self.path == "/a.png" else b"{}"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        return


def _png() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (8, 6), "red").save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.fixture
def internal() -> Iterator[tuple[int, "queue.Queue[str]"]]:
    """(port, log of requests) of a service on 127.0.0.1 that users must not reach."""
    seen: queue.Queue[str] = queue.Queue()
    server = LocalHTTPServer(("127.0.0.1", 0), type("Internal", (_Internal,),
                                                       {"seen": seen}))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_address[1], seen
    server.shutdown()
    server.server_close()


# --- The key ---------------------------------------------------------------------------------

ROUTES = [("post", "/_sim/fal/fal-ai/flux-2"),
          ("get", "/_sim/fal/fal-ai/flux-2/requests/abc/status"),
          ("get", "/_sim/fal/fal-ai/flux-2/requests/abc"),
          ("put", "/_sim/fal/fal-ai/flux-2/requests/abc/cancel"),
          ("get", "/_sim/fal/_stats"),
          ("post", "/_sim/fal/_reset")]
def call(client: Client, method: str, path: str, headers: dict[str, str]) -> Any:
    if method == "get":
        return client.get(path, headers=headers)
    return getattr(client, method)(path, data="{}", content_type="application/json",
                                   headers=headers)


NOT_THE_KEY: dict[str, Callable[[], dict[str, str]]] = {
    "no header": dict, "any key": lambda: auth("anything"),
    "an empty key": lambda: {"Authorization": "Key "},
    "the key with a suffix": lambda: auth(platform_key() + "x"),
    "the key as a bearer token": lambda: {"Authorization": f"Bearer {platform_key()}"}}


@pytest.mark.parametrize("case", NOT_THE_KEY)
@pytest.mark.parametrize(("method", "path"), ROUTES)
def test_every_route_refuses_a_caller_without_the_key(client: Client, method: str, path: str,
                                                      case: str) -> None:
    response = call(client, method, path, NOT_THE_KEY[case]())

    assert response.status_code == 401
    assert "detail" in response.json()
    assert simulator_stats()["submissions"] == 0


def test_the_site_s_own_fal_client_key_is_accepted(client: Client) -> None:
    assert submit(client, "fal-ai/flux-2", {"prompt": "a fox"}).status_code == 200


def test_with_fal_key_set_the_simulator_wants_exactly_that_key(client: Client,
                                                               settings: Any) -> None:
    derived = platform_key()
    settings.FAL_KEY = "fal-operator-key-123"

    refused = submit(client, "fal-ai/flux-2", {"prompt": "x"}, headers=auth(derived))
    accepted = submit(client, "fal-ai/flux-2", {"prompt": "x"},
                      headers=auth("fal-operator-key-123"))

    assert (refused.status_code, accepted.status_code) == (401, 200)


def test_the_simulator_s_own_key_is_derived_from_the_secret_key(settings: Any) -> None:
    settings.FAL_KEY = ""
    first = platform_key()
    settings.SECRET_KEY = "another-deployment-entirely-with-another-secret-key"
    assert platform_key() != first
    assert first.startswith("sim-") and len(first) >= 36


@pytest.mark.parametrize(("method", "path"), ROUTES)
def test_nothing_is_answered_while_the_simulators_are_off(client: Client, settings: Any,
                                                          method: str, path: str) -> None:
    settings.SIMULATORS_ENABLED = False
    response = call(client, method, path, auth())
    assert response.status_code == 404
    assert simulator_stats()["submissions"] == 0


# --- Input media go through the SSRF guard ------------------------------------------------------

def _download_error(client: Client, image_url: str) -> str:
    submitted = submit(client, UPSCALER, {"image_url": image_url})
    assert submitted.status_code == 200, submitted.content
    status = finished(client, submitted.json())
    result = client.get(path_of(submitted.json()["response_url"]), headers=auth())
    assert (status["error_type"], result.status_code) == ("file_download_error", 422)
    return str(status["error"])


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "[::ffff:127.0.0.1]"])
def test_an_input_url_on_an_internal_address_is_never_fetched(
        client: Client, internal: tuple[int, "queue.Queue[str]"], host: str) -> None:
    port, seen = internal

    error = _download_error(client, f"http://{host}:{port}/a.png")

    assert "not a public address" in error
    assert "127.0.0.1" not in error.replace(host, "")  # only what the user wrote, if anything
    assert seen.empty()


def test_a_redirect_to_an_internal_address_is_not_followed(
        client: Client, internal: tuple[int, "queue.Queue[str]"], settings: Any) -> None:
    port, seen = internal
    settings.SSRF_ALLOW_HOSTS = ["127.0.0.1"]  # stands for a public host that redirects inwards

    error = _download_error(client, f"http://127.0.0.1:{port}/hop?to=http://localhost:{port}/a.png")

    assert "not a public address" in error
    # (The job's output may be rendered twice at once, so the first hop may be seen twice.)
    assert {seen.get_nowait() for _ in range(seen.qsize())} == \
        {f"GET /hop?to=http://localhost:{port}/a.png"}


def test_an_input_url_on_a_public_host_is_fetched(
        client: Client, internal: tuple[int, "queue.Queue[str]"], settings: Any) -> None:
    port, _ = internal
    settings.SSRF_ALLOW_HOSTS = ["127.0.0.1"]  # stands for a public host

    submitted = submit(client, UPSCALER, {"image_url": f"http://127.0.0.1:{port}/a.png"}).json()
    finished(client, submitted)
    result = client.get(path_of(submitted["response_url"]), headers=auth())

    assert result.status_code == 200
    assert (result.json()["images"][0]["width"], result.json()["images"][0]["height"]) == (16, 12)


# --- Completion webhooks go through the SSRF guard ----------------------------------------------

@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "[::ffff:127.0.0.1]", "10.0.0.1"])
def test_a_webhook_to_an_internal_address_is_refused_at_submit_without_naming_it(
        client: Client, internal: tuple[int, "queue.Queue[str]"], host: str) -> None:
    port, seen = internal

    response = submit(client, "fal-ai/flux-2", {"prompt": "x"},
                      f"?fal_webhook=http://{host}:{port}/hook")

    assert response.status_code == 422
    [problem] = response.json()["detail"]
    assert problem["loc"] == ["query", "fal_webhook"]
    assert "not a public address" in problem["msg"]
    assert "127.0.0.1" not in problem["msg"] and host not in problem["msg"]
    assert simulator_stats()["submissions"] == 0 and seen.empty()


def test_a_webhook_is_checked_again_when_it_is_delivered(
        internal: tuple[int, "queue.Queue[str]"]) -> None:
    # As if DNS had pointed the name elsewhere since the submit: the delivery is refused.
    port, seen = internal
    job = Job(request_id="rebound", model_id="fal-ai/flux-2", app="fal-ai/flux-2",
              payload={"prompt": "x"}, submitted_at=0.0, latency=0.0,
              webhook_url=f"http://127.0.0.1:{port}/hook")
    state.job_save(job)

    delivery = fal_jobs.complete("rebound", fal_jobs.WEBHOOK_TRIES)  # the last try: no retry

    assert delivery is not None and delivery.result(timeout=60) is False  # refused, not sent
    assert seen.empty()
    assert simulator_stats()["webhooks"] == 0


def test_the_site_s_own_webhook_url_is_delivered_even_on_loopback(
        client: Client, internal: tuple[int, "queue.Queue[str]"], settings: Any) -> None:
    port, seen = internal
    settings.SITE_URL = f"http://127.0.0.1:{port}"  # the receiver is the site itself

    response = submit(client, "fal-ai/flux-2", {"prompt": "x"},
                      f"?fal_webhook=http://127.0.0.1:{port}/hooks/provider/t/")

    assert response.status_code == 200
    assert seen.get(timeout=60) == "POST /hooks/provider/t/"
    wait_until(lambda: simulator_stats()["webhooks"] == 1, 60, "the delivery was not counted")

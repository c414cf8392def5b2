"""fal's submit answered straight from ASGI on the simulators' own server
(executions/simulators/asgi_routes.py): the answers Django's view gives, from the event loop or
a thread as the submit needs, and everything else left to Django."""

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import pytest
from django.test import Client

from accounts.models import Team, User
from accounts.provider_keys import provider_key_set
from executions.providers.fal import platform_key
from executions.simulators.asgi_routes import FalSubmit
from executions.simulators.state import key_fingerprint, reset_simulator, simulator_stats

from .fal_sim import fresh_fal_simulator

# A team's key is looked up from the route's own thread: the test's rows must be committed.
pytestmark = pytest.mark.django_db(transaction=True)

FLUX = "/_sim/fal/fal-ai/flux-2"
FOX = json.dumps({"prompt": "a fox [sim hang]", "image_size": "square"}).encode()


class Django:
    """Stands for the Django application behind the route: counts what reaches it."""

    def __init__(self) -> None:
        self.paths: list[str] = []

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        self.paths.append(scope["path"])
        await send({"type": "http.response.start", "status": 299, "headers": []})
        await send({"type": "http.response.body", "body": b"{}"})


@pytest.fixture(autouse=True)
def fresh_simulator(settings: Any) -> Iterator[None]:
    settings.SITE_URL = "http://127.0.0.1:8000"
    with fresh_fal_simulator(settings, latency=0.2):
        yield


def call(app: Any, method: str, path: str, *, body: bytes = b"", query: str | bytes = "",
         key: str | None = None, host: str = "127.0.0.1:8001",
         headers: list[tuple[bytes, bytes]] | None = None) -> tuple[int, Any, dict[str, str]]:
    """One request through the ASGI application `app`: status, JSON body, headers."""
    sent: list[dict[str, Any]] = []
    extra = [(b"authorization", f"Key {platform_key() if key is None else key}".encode())]
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
             "method": method, "scheme": "http", "path": path, "raw_path": path.encode(),
             "query_string": query if isinstance(query, bytes) else query.encode(),
             "root_path": "", "client": ("127.0.0.1", 5000),
             "server": ("127.0.0.1", 8001),
             "headers": [(b"host", host.encode()), (b"content-type", b"application/json"),
                         (b"content-length", str(len(body)).encode()),
                         *(extra if headers is None else headers)]}
    messages = [{"type": "http.request", "body": body, "more_body": False}]

    async def receive() -> dict[str, Any]:
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    asyncio.run(app(scope, receive, send))
    start = sent[0]
    content = b"".join(message.get("body", b"") for message in sent[1:])
    return (start["status"], json.loads(content),
            {name.decode(): value.decode() for name, value in start["headers"]})


@pytest.mark.parametrize("webhook", [
    "",                                     # none: on the event loop
    "http://127.0.0.1:8000/hooks/fox/",     # on an IP address: on the event loop
    "http://localhost:8000/hooks/fox/",     # on a host name, resolved: on a thread
])
def test_a_submit_is_answered_without_django_as_its_view_answers(settings: Any,
                                                                 webhook: str) -> None:
    settings.SSRF_ALLOW_HOSTS = ["localhost"]
    django = Django()
    query = f"fal_webhook={webhook}" if webhook else ""
    status, job, headers = call(FalSubmit(django), "POST", FLUX, body=FOX, query=query)
    assert (status, django.paths) == (200, [])
    assert headers["content-type"] == "application/json"
    assert job["response_url"] == f"http://127.0.0.1:8001{FLUX}/requests/{job['request_id']}"
    assert job["status_url"] == job["response_url"] + "/status"
    assert job["cancel_url"] == job["response_url"] + "/cancel"
    assert job["queue_position"] == 0
    # It is the job the view would have made: found at its URL, its webhook kept.
    client = Client()
    found = client.get(job["status_url"].removeprefix("http://127.0.0.1:8001"),
                       headers={"Authorization": f"Key {platform_key()}"})
    assert found.status_code == 202, found.content
    assert simulator_stats()["submissions"] == 1


def test_a_teams_own_key_is_looked_up_off_the_event_loop(owner: User, team: Team) -> None:
    # Django refuses a query on an event loop: made there, this lookup would be a 500.
    own = "fal-team-own-key-for-the-route-1234"
    assert call(FalSubmit(Django()), "POST", FLUX, body=FOX, key=own)[0] == 401
    provider_key_set(team, "fal", own, None, by=owner)
    status, job, _ = call(FalSubmit(Django()), "POST", FLUX, body=FOX, key=own)
    assert status == 200, job
    assert simulator_stats()["byKey"] == {key_fingerprint(own): 1}


@pytest.mark.parametrize(("case", "query", "body", "headers"), [
    ("no key", "", FOX, []),
    ("a key that is not fal's form", "", FOX, [(b"authorization", b"Bearer x")]),
    ("the wrong key", "", FOX, [(b"authorization", b"Key wrong")]),
    ("not JSON", "", b"{not json", None),
    ("not an object", "", b"[1]", None),
    ("a field of the wrong type", "", b'{"prompt": 5}', None),
    ("a webhook that is not http", "fal_webhook=ftp://127.0.0.1/x", FOX, None),
    ("a webhook the SSRF guard refuses", "fal_webhook=http://169.254.169.254/x", FOX, None),
    ("two webhooks: the last one counts", "fal_webhook=http://127.0.0.1:8000/a&"
                                          "fal_webhook=ftp://127.0.0.1/x", FOX, None),
    ("an injected rate limit", "", b'{"prompt": "x [sim fail=429]"}', None),
    ("an injected server error", "", b'{"prompt": "x [sim fail=500]"}', None),
    ("a body over Django's limit", "", b" " * 10 + FOX, None),
])
def test_a_refusal_is_the_views_own(settings: Any, case: str, query: str, body: bytes,
                                    headers: list[tuple[bytes, bytes]] | None) -> None:
    if case == "a body over Django's limit":
        settings.DATA_UPLOAD_MAX_MEMORY_SIZE = len(body) - 1
    status, answer, sent = call(FalSubmit(Django()), "POST", FLUX, body=body, query=query,
                                headers=headers)
    reset_simulator()  # an injected failure counts its attempts: the view's is a first too
    view = Client().post(f"{FLUX}?{query}", data=body, content_type="application/json",
                         headers={name.decode(): value.decode() for name, value in
                                  (headers if headers is not None else
                                   [(b"authorization", f"Key {platform_key()}".encode())])})
    assert status >= 400, (case, answer)
    assert (status, answer) == (view.status_code, view.json()), case
    assert sent.get("retry-after") == view.headers.get("Retry-After"), case


def test_a_bug_is_fals_500_body_and_logged(monkeypatch: pytest.MonkeyPatch,
                                           caplog: pytest.LogCaptureFixture) -> None:
    def broken(*_: Any, **__: Any) -> None:
        raise RuntimeError("a bug")

    monkeypatch.setattr("executions.simulators.fal_jobs.submit", broken)
    status, answer, _ = call(FalSubmit(Django()), "POST", FLUX, body=FOX)
    assert (status, answer) == (500, {"detail": "Internal simulator error"})
    assert "simulated fal failed on POST" in caplog.text


@pytest.mark.parametrize(("method", "path", "host"), [
    ("GET", FLUX, "127.0.0.1:8001"),                      # a submit is a POST
    ("POST", "/_sim/fal/_reset", "127.0.0.1:8001"),       # another route
    ("POST", f"{FLUX}/requests/abc", "127.0.0.1:8001"),   # a request's route (405 there)
    ("POST", "/_sim/replicate/v1/predictions", "127.0.0.1:8001"),
    ("POST", "/api/v1/team", "127.0.0.1:8001"),           # not the simulators'
    ("POST", FLUX, "evil.example"),                       # a Host Django does not allow
    ("POST", FLUX + "/x" * 300, "127.0.0.1:8001"),        # a path longer than any model's
])
def test_everything_else_goes_to_django(method: str, path: str, host: str) -> None:
    django = Django()
    assert call(FalSubmit(django), method, path, body=FOX, host=host)[0] == 299
    assert django.paths == [path]


def test_with_the_simulators_off_the_submit_goes_to_django(settings: Any) -> None:
    settings.SIMULATORS_ENABLED = False
    django = Django()
    assert call(FalSubmit(django), "POST", FLUX, body=FOX)[0] == 299
    assert django.paths == [FLUX]


def test_a_query_that_is_not_utf_8_goes_to_django() -> None:
    django = Django()  # (Django's own handler answers it 400)
    assert call(FalSubmit(django), "POST", FLUX, body=FOX, query=b"fal_webhook=\xff")[0] == 299
    assert django.paths == [FLUX]

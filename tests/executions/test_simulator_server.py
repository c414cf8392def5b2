"""The provider simulators on a server of their own (executions/simulators/asgi.py), started as
the benchmarks start it: it takes a fal job and answers at the URLs it hands out, serves nothing
of the site, runs none of the site's middleware, and answers bad input in fal's own shape."""

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from django.test import Client

from executions.simulators.state import reset_simulator
from tests.harness import ProductionWeb

KEY = "simulator-server-key"
FLUX = "fal-ai/flux-2"


@pytest.fixture(scope="module")
def simulators(django_db_setup: None) -> Iterator[str]:
    """The base URL of the simulators' own server (its routes under /_sim/, as on the site), on
    the test database (a key that is not the platform's is looked up among the teams')."""
    server = ProductionWeb(workers=1, app="executions.simulators.asgi:application",
                           settings_module="executions.simulators.server_settings",
                           ready_path="/_sim/fal/_stats", ready_headers=_key(),
                           WIREFLOW_SIMULATORS="1", FAL_KEY=KEY)
    try:
        yield server.url
    finally:
        server.stop()
        reset_simulator()  # the jobs it left in Redis


def _key() -> dict[str, str]:
    return {"Authorization": f"Key {KEY}"}


def test_it_takes_a_job_and_answers_its_status_at_the_urls_it_hands_out(simulators: str) -> None:
    submitted = httpx.post(f"{simulators}/_sim/fal/{FLUX}", headers=_key(), timeout=30,
                           json={"prompt": "a fox [sim hang]", "image_size": "square"})
    assert submitted.status_code == 200, submitted.text
    job = submitted.json()
    assert job["status_url"] == (f"{simulators}/_sim/fal/{FLUX}/requests/"
                                 f"{job['request_id']}/status")
    status = httpx.get(job["status_url"], headers=_key(), timeout=30)
    assert status.status_code == 202, status.text  # fal's answer while a job is not done
    assert status.json()["status"] in {"IN_QUEUE", "IN_PROGRESS"}
    cancelled = httpx.put(job["cancel_url"], headers=_key(), timeout=30)
    assert (cancelled.status_code, cancelled.json()) == (202, {"status": "CANCELLATION_REQUESTED"})


@pytest.mark.parametrize("path", ["/api/v1/team", "/healthz", "/accounts/login/", "/"])
def test_it_serves_nothing_of_the_site(simulators: str, path: str) -> None:
    assert httpx.get(f"{simulators}{path}", timeout=30).status_code == 404


@pytest.mark.django_db
def test_it_runs_none_of_the_sites_middleware(simulators: str) -> None:
    on_site = Client().get("/_sim/fal/_stats", headers=_key())
    alone = httpx.get(f"{simulators}/_sim/fal/_stats", headers=_key(), timeout=30)
    assert alone.status_code == 200, alone.text
    # The site's request ids and frame options come from its middleware, on every answer.
    assert "X-Request-Id" in on_site.headers and "X-Frame-Options" in on_site.headers
    assert "X-Request-Id" not in alone.headers and "X-Frame-Options" not in alone.headers


@pytest.mark.django_db
@pytest.mark.parametrize(("headers", "body"), [
    ({}, b"{}"),                                  # no key
    ({"Authorization": "Key wrong"}, b"{}"),      # the wrong key
    (None, b"{not json"),                         # a body that is not JSON
    (None, b"[1, 2]"),                            # JSON that is not an object
    (None, b'{"prompt": 5, "image_size": "square"}'),  # a field of the wrong type
    (None, b'{"prompt": "x", "image_size": "huge"}'),  # a value out of its range
])
def test_bad_input_gets_the_same_error_as_on_the_site_never_a_500(
        simulators: str, settings: Any, headers: dict[str, str] | None, body: bytes) -> None:
    settings.FAL_KEY = KEY  # the key the simulators' server was started with
    sent = {**(_key() if headers is None else headers), "Content-Type": "application/json"}
    on_site = Client().post(f"/_sim/fal/{FLUX}", data=body, content_type="application/json",
                            headers={k: v for k, v in sent.items() if k != "Content-Type"})
    alone = httpx.post(f"{simulators}/_sim/fal/{FLUX}", content=body, headers=sent, timeout=30)
    assert 400 <= alone.status_code < 500, alone.text
    assert (alone.status_code, alone.json()) == (on_site.status_code, on_site.json())

"""An API error is JSON for every method and path: unknown and malformed paths under /api/ and
the webhook trigger paths, with or without a key, with or without a browser session (whose CSRF
token is checked), never an HTML page and never a 500."""

import json
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client

from accounts.models import User
from tests.api.test_executions_api import text_to_result

pytestmark = pytest.mark.django_db

METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
UNKNOWN_PATHS = [
    "/api/v1/nope",
    "/api/v1/nope/",
    "/api/v1/workflowz",
    "/api/v1//workflows",
    "/api/v1/workflows//x/y",
    "/api/v1/workflows/not-a-uuid/nothing/here",
    "/api/v1/workflows/00000000-0000-0000-0000-000000000000/nothing",
    "/api/v1/%ff%fe/%00",
    "/api/v1/%2e%2e/%2e%2e/etc/passwd",
    "/api/v1/" + "a" * 4000,
    "/api/v1/" + "/".join(["x"] * 300),
    "/api/v2/workflows",
    "/api/",
    "/api",
    "/api/v1/workflow/nothing/trigger/extra",
    "/workflow/nothing/trigger/extra/more",
]


@pytest.fixture(autouse=True)
def _no_rate_limits(settings: Any) -> None:
    settings.RATE_LIMITS_ENABLED = False


@pytest.fixture
def secret(owner: User, api_for: Callable[..., Any]) -> str:
    return str(api_for(owner).secret)


def _client(owner: User, *, session: bool) -> Client:
    client = Client(enforce_csrf_checks=True)
    if session:
        client.force_login(owner)
        client.get("/workflows/")  # the page sets the CSRF cookie, as a real browser has it
    return client


def _call(client: Client, method: str, path: str, *, key: str | None,
          headers: dict[str, str] | None = None, body: str = '{"a": 1}') -> Any:
    sent = {**({"Authorization": f"Bearer {key}"} if key else {}), **(headers or {})}
    data = "" if method in {"GET", "HEAD", "OPTIONS"} else body
    return client.generic(method, path, data, content_type="application/json", headers=sent)


def _assert_error(response: Any, method: str, status: int, code: str) -> None:
    assert response.status_code == status, (method, response.status_code, response.content[:200])
    assert response["Content-Type"].startswith("application/json")
    if method == "HEAD":
        assert response.content == b""
        return
    assert json.loads(response.content) == {"error": json.loads(response.content)["error"],
                                            "code": code}


@pytest.mark.parametrize("with_key", [False, True], ids=["no-key", "key"])
@pytest.mark.parametrize("with_session", [False, True], ids=["no-session", "session"])
@pytest.mark.parametrize("method", METHODS)
def test_an_unknown_path_is_a_json_404_for_every_method(
        owner: User, secret: str, method: str, with_key: bool, with_session: bool) -> None:
    client = _client(owner, session=with_session)
    for path in UNKNOWN_PATHS:
        response = _call(client, method, path, key=secret if with_key else None)
        _assert_error(response, method, 404, "not_found")
        if method != "HEAD":
            assert response.json()["error"] == "Not found", path


@pytest.mark.parametrize("with_key", [False, True], ids=["no-key", "key"])
@pytest.mark.parametrize("method", ["PUT", "PATCH", "DELETE"])
def test_a_known_path_with_another_method_is_a_json_405_naming_the_allowed_ones(
        owner: User, secret: str, method: str, with_key: bool) -> None:
    for path, allowed in [("/api/v1/nodes", {"GET"}),
                          ("/api/v1/workflow/nothing/trigger", {"GET", "POST"}),
                          ("/workflow/nothing/trigger", {"GET", "POST"})]:
        response = _call(_client(owner, session=True), method, path,
                         key=secret if with_key else None)
        _assert_error(response, method, 405, "method_not_allowed")
        assert allowed <= {m.strip() for m in response["Allow"].split(",")}, path


@pytest.mark.parametrize("headers", [
    {},
    {"Cookie": "csrftoken=forged; sessionid=forged"},
    {"X-CSRFToken": "forged", "Origin": "https://evil.example"},
    {"Content-Type": "text/html", "Accept": "text/html"},
])
def test_odd_headers_and_cookies_do_not_turn_an_unknown_path_into_html(
        owner: User, headers: dict[str, str]) -> None:
    for method in METHODS:
        response = _call(Client(enforce_csrf_checks=True), method, "/api/v1/nope",
                         key=None, headers=headers, body="<html>not json")
        _assert_error(response, method, 404, "not_found")


def _workflow_body() -> str:
    nodes, edges = text_to_result()
    return json.dumps({"name": "CSRF", "nodes": nodes, "edges": edges})


@pytest.mark.parametrize("method,path", [("POST", "/api/v1/workflows"),
                                         ("POST", "/api/v1/workflows/lint")])
def test_a_session_call_without_its_csrf_token_is_a_json_403(owner: User, method: str,
                                                             path: str) -> None:
    client = _client(owner, session=True)
    response = _call(client, method, path, key=None, body=_workflow_body())
    _assert_error(response, method, 403, "csrf_failed")
    # The same call with the token from the cookie goes through.
    token = client.cookies["csrftoken"].value
    accepted = _call(client, method, path, key=None, body=_workflow_body(),
                     headers={"X-CSRFToken": token})
    assert accepted.status_code in {200, 201}, accepted.content


def test_a_key_authenticated_call_never_needs_a_csrf_token(owner: User, secret: str) -> None:
    # With a session cookie beside it and no token: the key decides, CSRF does not apply.
    client = _client(owner, session=True)
    response = _call(client, "POST", "/api/v1/workflows", key=secret, body=_workflow_body())
    assert response.status_code == 201, response.content


def test_a_page_outside_the_api_keeps_django_csrf_page(owner: User) -> None:
    client = _client(owner, session=True)
    response = client.post("/settings/teams/", {"name": "No token"})
    assert response.status_code == 403
    assert response["Content-Type"].startswith("text/html")

"""docs/api.md's "Every response" rules: request ids, and error bodies (never HTML) for any
input."""

import json
import re
from typing import Any, NoReturn

import pytest
from django.test import Client

from tests.conftest import ApiClient
from wireflow_site.errors import (
    ApiError,
    InvalidRequest,
    MethodNotAllowed,
    NotFound,
    ServiceUnavailable,
    render_error,
)

pytestmark = pytest.mark.django_db

GENERATED_ID = re.compile(r"^[0-9a-f]{32}$")
GRAPH = {"name": "Fox", "nodes": [], "edges": []}


def _assert_json_error(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status
    assert response["Content-Type"].startswith("application/json")
    body: dict[str, Any] = response.json()
    assert body["code"] == code
    assert isinstance(body["error"], str) and body["error"]
    return body


# --- X-Request-Id ---------------------------------------------------------------------------

@pytest.mark.parametrize("path", ["/workflows", "/workflows/no-such-id", "/no-such-route"])
def test_a_safe_client_request_id_is_echoed_on_success_and_on_errors(
        api: ApiClient, path: str) -> None:
    response = api.get(path, headers={"X-Request-Id": "client-42.retry:1"})
    assert response["X-Request-Id"] == "client-42.retry:1"


def test_a_request_id_is_echoed_on_an_unauthenticated_error_too() -> None:
    response = Client().get("/api/v1/workflows", headers={"X-Request-Id": "abc-123"})
    assert response.status_code == 401
    assert response["X-Request-Id"] == "abc-123"


@pytest.mark.parametrize("unsafe", ["has spaces", "x" * 129, "<script>", "a/b", "ü"])
def test_an_unsafe_request_id_is_replaced_by_a_generated_one(api: ApiClient, unsafe: str) -> None:
    response = api.get("/workflows", headers={"X-Request-Id": unsafe})
    assert response["X-Request-Id"] != unsafe
    assert GENERATED_ID.match(response["X-Request-Id"])


def test_a_request_without_an_id_gets_a_fresh_one_each_time(api: ApiClient) -> None:
    first = api.get("/workflows")["X-Request-Id"]
    second = api.get("/no-such-route")["X-Request-Id"]
    assert GENERATED_ID.match(first) and GENERATED_ID.match(second)
    assert first != second


# --- Bodies ---------------------------------------------------------------------------------

def test_a_json_body_over_256_kb_is_413_with_the_exact_body(api: ApiClient) -> None:
    big = json.dumps({**GRAPH, "description": "x" * (256 * 1024)})
    response = api.post("/workflows", raw=big)
    assert response.status_code == 413
    assert response.json() == {"error": "Request body too large", "code": "payload_too_large"}


def test_a_body_just_under_the_limit_is_read(api: ApiClient) -> None:
    body = json.dumps({**GRAPH, "description": ""})
    padded = body[:-1] + " " * (256 * 1024 - len(body)) + "}"
    assert len(padded) == 256 * 1024
    # Read and validated (empty graph), not refused for its size.
    assert api.post("/workflows", raw=padded).status_code == 422


@pytest.mark.parametrize("raw", ["{not json", '{"name": "x",', "", "\xff", "[1, 2"])
def test_malformed_json_is_400_invalid_json(api: ApiClient, raw: str) -> None:
    _assert_json_error(api.post("/workflows", raw=raw or " "), 400, "invalid_json")


def test_json_nested_too_deep_to_parse_is_400_invalid_json(api: ApiClient) -> None:
    deep = "[" * 100_000 + "]" * 100_000
    _assert_json_error(api.post("/workflows", raw=deep), 400, "invalid_json")


def test_wrong_types_and_missing_fields_are_400_invalid_request_naming_the_fields(
        api: ApiClient) -> None:
    body = _assert_json_error(api.post("/workflows", {"name": 5, "nodes": "x"}), 400,
                              "invalid_request")
    assert body["fields"] == ["edges", "name", "nodes"]
    for field in ("edges", "name", "nodes"):
        assert field in body["error"]


def test_a_body_that_is_not_an_object_is_400_invalid_request(api: ApiClient) -> None:
    _assert_json_error(api.post("/workflows", [1, 2, 3]), 400, "invalid_request")


def test_a_bad_query_parameter_is_400_invalid_request_naming_it(api: ApiClient) -> None:
    body = _assert_json_error(api.get("/workflows?limit=lots"), 400, "invalid_request")
    assert body["fields"] == ["limit"]


# --- Routes and methods ---------------------------------------------------------------------

@pytest.mark.parametrize("path", ["/api/v1/no-such-route", "/api/v1/workflows/a/b/c/d",
                                  "/api/v2/workflows", "/api/"])
def test_an_unknown_route_under_the_api_is_a_json_404(path: str) -> None:
    response = Client().get(path)
    assert _assert_json_error(response, 404, "not_found")["error"] == "Not found"


def test_a_wrong_method_is_a_json_405_that_names_the_allowed_ones(api: ApiClient) -> None:
    response = api.delete("/workflows")
    _assert_json_error(response, 405, "method_not_allowed")
    assert set(response["Allow"].replace(" ", "").split(",")) == {"GET", "POST"}


def test_patch_on_a_workflow_is_a_json_405(api: ApiClient) -> None:
    response = api.request("PATCH", "/workflows/00000000-0000-0000-0000-000000000000", {})
    _assert_json_error(response, 405, "method_not_allowed")


BAD_REQUESTS = [
    ("GET", "/api/v1/workflows", None, {}),
    ("GET", "/api/v1/nope", None, {}),
    ("POST", "/api/v1/workflows", "{oops", {"HTTP_AUTHORIZATION": "Bearer x"}),
    ("DELETE", "/api/v1/workflows", None, {}),
    ("GET", "/api/v1/workflows/%00", None, {}),
    ("GET", "/api/v1/workflows/" + "9" * 5000, None, {}),
]


@pytest.mark.parametrize(("method", "path", "raw", "meta"), BAD_REQUESTS)
def test_no_error_is_ever_an_html_page(method: str, path: str, raw: str | None,
                                       meta: dict[str, str]) -> None:
    call = getattr(Client(), method.lower())
    kwargs: dict[str, Any] = dict(meta)
    if raw is not None:
        kwargs.update(data=raw, content_type="application/json")
    response = call(path, **kwargs)
    assert response.status_code >= 400
    assert response["Content-Type"].startswith("application/json")
    assert not response.content.lstrip().startswith(b"<")
    assert set(response.json()) >= {"error", "code"}


def test_an_unexpected_error_is_a_json_500_without_a_trace(api: ApiClient,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    from workflows import selectors

    def explode(*args: Any, **kwargs: Any) -> NoReturn:
        raise RuntimeError("secret internals")

    monkeypatch.setattr(selectors, "workflow_list", explode)
    response = api.get("/workflows")
    assert response.status_code == 500
    assert response.json() == {"error": "Internal server error", "code": "internal_error"}
    assert b"secret internals" not in response.content
    assert response["X-Request-Id"]


# --- One rendering ----------------------------------------------------------------------------

@pytest.mark.parametrize("error", [
    ServiceUnavailable(headers={"Retry-After": "2"}),
    InvalidRequest("Invalid request: name: missing", fields=["name"]),
    MethodNotAllowed(headers={"Allow": "GET, POST"}),
])
def test_an_error_renders_as_its_body_status_and_headers(error: ApiError) -> None:
    response = render_error(error)
    assert response.status_code == error.status
    assert response["Content-Type"] == "application/json"
    assert json.loads(response.content) == {"error": error.message, "code": error.code,
                                            **error.extra}
    for name, value in error.headers.items():
        assert response[name] == value


def test_the_webhook_trigger_and_the_api_render_their_errors_alike(api: ApiClient) -> None:
    """Two of the places that answer errors (an API view, the trigger outside the API): the
    same type, and each body exactly the error's."""
    through_api = api.client.get("/api/v1/no-such-route")
    trigger = Client().post("/api/v1/workflow/no-such-hook/trigger", "{}",
                            content_type="application/json")
    assert (through_api.status_code, trigger.status_code) == (404, 404)
    assert through_api["Content-Type"] == trigger["Content-Type"]
    assert through_api.content == json.dumps(NotFound().body()).encode()
    assert trigger.content == json.dumps(NotFound("Webhook not found").body()).encode()

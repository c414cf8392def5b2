"""The http:request node: its params, its body template, its result path and its failures,
calling a small API on this machine (allowed through SSRF_ALLOW_HOSTS, as a trusted service
would be). The refusals of private addresses through the engine: tests/engine/."""

import json
from collections.abc import Iterator
from typing import Any

import pytest
from pydantic import ValidationError

from executions.engine.contracts import NodeContext, NodeFailure, NodeResult, inline
from executions.executors import executor_for
from executions.executors.text import fill_body
from executions.providers.errors import ProviderError
from tests.conftest import ApiClient
from workflows import secretbox
from workflows.node_secrets import PLACEHOLDER
from workflows.nodes import catalogue, catalogue_entry
from workflows.nodes.http_request import MAX_HEADERS, HttpRequestParams

from .http_request_server import DOCUMENT, ApiServer

NODE = "http:request"


@pytest.fixture
def server(settings: Any) -> Iterator[ApiServer]:
    settings.SSRF_ALLOW_HOSTS = ["127.0.0.1"]
    api_server = ApiServer()
    yield api_server
    api_server.close()


def call(params: dict[str, Any], inputs: dict[str, Any] | None = None,
         labels: dict[str, list[str]] | None = None) -> NodeResult:
    spec = catalogue[NODE]
    ctx = NodeContext(execution_id="e", team_id=0, node_id="n", node_type=NODE, label="n",
                      params=spec.params.model_validate(params), inputs=inputs or {},
                      input_labels=labels or {})
    result: NodeResult = inline(executor_for(spec.node_type)).run(ctx)
    return result


def invalid(**params: Any) -> str:
    with pytest.raises(ValidationError) as caught:
        HttpRequestParams.model_validate({"url": "https://api.example/", **params})
    return str(caught.value)


# --- The catalogue entry -------------------------------------------------------------------

def test_the_node_is_a_free_utility_with_a_url_body_and_values_in_and_json_text_status_out(
) -> None:
    entry = catalogue_entry(catalogue[NODE])
    assert entry["category"] == "utility" and entry["credits"] == 0
    assert [(p["id"], p["type"], p["multiple"]) for p in entry["inputs"]] == [
        ("url", "TEXT", False), ("body", "ANY", False), ("vars", "ANY", True)]
    assert [(p["id"], p["type"]) for p in entry["outputs"]] == [
        ("json", "JSON"), ("text", "TEXT"), ("status", "NUMBER")]
    properties = entry["paramsSchema"]["properties"]
    assert properties["method"]["enum"] == ["GET", "POST", "PUT", "PATCH", "DELETE"]
    assert properties["timeout"]["minimum"] == 1 and properties["timeout"]["maximum"] == 60
    assert properties["secret_header_value"]["writeOnly"] is True


# --- Params --------------------------------------------------------------------------------

def test_headers_may_be_an_object_or_a_list_of_name_and_value() -> None:
    as_list = HttpRequestParams.model_validate({
        "url": "https://api.example/", "headers": [{"name": "X-One", "value": "1"}]})
    as_object = HttpRequestParams.model_validate({
        "url": "https://api.example/", "headers": {"X-One": "1"}})
    assert as_list.headers == as_object.headers == {"X-One": "1"}


@pytest.mark.parametrize(("params", "message"), [
    ({"headers": {"Bad Name": "x"}}, "is not a valid header name"),
    ({"headers": {"X-Evil": "a\r\nHost: other"}}, "must be on one line"),
    ({"headers": {"Host": "other.example"}}, "is set by the request itself"),
    ({"headers": {"X-A": "1", "x-a": "2"}}, "given twice"),
    ({"headers": {f"X-{i}": "v" for i in range(MAX_HEADERS + 1)}}, f"at most {MAX_HEADERS}"),
    ({"headers": [{"name": f"X-{i}", "value": "v"} for i in range(MAX_HEADERS + 1)]},
     f"at most {MAX_HEADERS}"),
    ({"headers": {"X-Long": "v" * 4001}}, "at most 4000 characters"),
    ({"headers": [{"key": "X", "value": "1"}]}, "each header must be {name, value}"),
    ({"method": "TRACE"}, "method"),
    ({"timeout": 0}, "greater than or equal to 1"),
    ({"timeout": 61}, "less than or equal to 60"),
    ({"result_path": "data[0]"}, "must be a JSON path"),
    ({"method": "POST", "body_template": "{not json"}, "must be JSON"),
    ({"method": "POST", "body_template": "[" * 40 + "]" * 40}, "nests deeper than 32"),
    ({"body_template": '{"a": 1}'}, "a GET request has no body"),
    ({"url": "ftp://files.example/"}, "must be an http(s) URL"),
    ({"secret_header_name": "Bad Name"}, "is not a valid header name"),
    ({"secret_header_value": "x" * 4001}, "at most 4000 characters"),
])
def test_bad_params_are_refused_with_a_reason(params: dict[str, Any], message: str) -> None:
    assert message in invalid(**params)


def test_a_saved_graph_reports_bad_params_by_field() -> None:
    errors = catalogue[NODE].param_errors({"url": "https://api.example/", "timeout": 99}, set())
    assert errors == ["timeout: Input should be less than or equal to 60"]


# --- The body template ---------------------------------------------------------------------

def test_a_placeholder_alone_in_a_string_becomes_the_value_itself() -> None:
    body = fill_body('{"n": "{{count}}", "tags": "{{ Tags }}", "who": {"name": "{{name}}"}}',
                     {"count": 3.0, "tags": ["a", "b"], "name": "fox"})
    assert body == {"n": 3, "tags": ["a", "b"], "who": {"name": "fox"}}
    assert json.dumps(body["n"]) == "3"  # a whole number is sent as one, not as 3.0
    assert fill_body('["{{x}}"]', {"x": 2.5}) == [2.5]


def test_placeholders_inside_text_are_filled_as_text_and_unknown_ones_are_left() -> None:
    body = fill_body('["A {{animal}} has {{legs}} legs", "{{unknown}}", 7, null]',
                     {"animal": "fox", "legs": 4.0})
    assert body == ["A fox has 4 legs", "{{unknown}}", 7, None]


def test_a_value_cannot_break_out_of_its_string() -> None:
    hostile = '", "admin": true, "x": "'
    body = fill_body('{"prompt": "say {{text}}"}', {"text": hostile})
    assert body == {"prompt": f"say {hostile}"}


def test_a_body_that_would_be_too_large_fails_before_it_is_built(settings: Any) -> None:
    settings.MAX_TEXT_BYTES = 1000
    with pytest.raises(NodeFailure, match="The request body would be larger than 1,000 bytes"):
        fill_body(json.dumps(["{{v}}"] * 20), {"v": "x" * 100})


# --- Calling an API --------------------------------------------------------------------------

def test_a_get_delivers_the_whole_json_answer_and_its_status(server: ApiServer) -> None:
    result = call({"url": server.url("/json")})
    assert result.ports["json"] == DOCUMENT
    assert json.loads(result.ports["text"]) == DOCUMENT
    assert result.ports["status"] == 200
    assert result.output == {"status": 200, "url": server.url("/json"), "value": DOCUMENT}


def test_the_result_path_picks_a_value_for_the_json_and_text_ports(server: ApiServer) -> None:
    url = call({"url": server.url("/json"), "result_path": "$.data[0].url"})
    size = call({"url": server.url("/json"), "result_path": '$["data"][-1].size'})
    assert url.ports == {"json": "https://cdn.example/1.png", "text": "https://cdn.example/1.png",
                         "status": 200}
    assert size.ports["json"] == 3 and size.ports["text"] == "3"


def test_a_post_sends_the_filled_template_as_json_with_the_headers(server: ApiServer) -> None:
    result = call(
        {"url": server.url("/echo"), "method": "POST",
         "headers": [{"name": "X-Trace", "value": "abc"}],
         "body_template": '{"prompt": "{{Prompt}}", "steps": "{{steps}}", "raw": "{{body}}"}',
         "result_path": "$.body"},
        {"vars": ["a red fox", 20], "body": {"k": [1, 2]}},
        {"vars": ["Prompt", "steps"]})
    seen = server.last()
    assert seen["method"] == "POST" and seen["headers"]["x-trace"] == "abc"
    assert seen["headers"]["content-type"] == "application/json"
    assert result.ports["json"] == {"prompt": "a red fox", "steps": 20, "raw": {"k": [1, 2]}}


def test_a_connected_body_without_a_template_is_sent_as_it_is(server: ApiServer) -> None:
    call({"url": server.url("/echo"), "method": "PUT"}, {"body": [1, "two"]})
    assert server.last()["method"] == "PUT" and server.last()["body"] == [1, "two"]


def test_a_get_sends_no_body_and_a_body_on_a_get_fails(server: ApiServer) -> None:
    call({"url": server.url("/echo")})
    assert server.last()["body"] == "" and "content-type" not in server.last()["headers"]
    with pytest.raises(NodeFailure, match="a GET request has no body"):
        call({"url": server.url("/echo")}, {"body": {"a": 1}})
    assert server.hits("/echo") == 1


def test_the_secret_header_is_sent_revealed_and_a_users_header_replaces_a_default(
        server: ApiServer) -> None:
    call({"url": server.url("/echo"), "method": "DELETE",
          "headers": {"accept": "text/csv"}, "secret_header_name": "X-Api-Key",
          "secret_header_value": secretbox.seal_param("key-123")})
    headers = server.last()["headers"]
    assert server.last()["method"] == "DELETE"
    assert headers["x-api-key"] == "key-123" and headers["accept"] == "text/csv"


def test_a_non_json_answer_goes_to_text_only_without_a_path(server: ApiServer) -> None:
    result = call({"url": server.url("/text")})
    assert result.ports == {"text": "<html><body>Hello</body></html>", "status": 200}
    empty = call({"url": server.url("/empty")})
    assert empty.ports == {"text": "", "status": 204}


def test_a_non_json_answer_with_a_path_fails_clearly(server: ApiServer) -> None:
    with pytest.raises(NodeFailure) as caught:
        call({"url": server.url("/text"), "result_path": "$.name"})
    assert str(caught.value) == ("the response is not JSON (text/html: '<html><body>Hello"
                                 "</body></html>'), so $.name cannot be read from it")


def test_a_path_to_nothing_fails(server: ApiServer) -> None:
    with pytest.raises(NodeFailure, match=r"nothing at \$.data\[5\]"):
        call({"url": server.url("/json"), "result_path": "$.data[5]"})


def test_a_refusal_fails_at_once_with_the_status_and_a_short_excerpt(server: ApiServer) -> None:
    with pytest.raises(ProviderError) as caught:
        call({"url": server.url("/status?code=404&body=" + "missing%20" * 100)})
    error = caught.value
    assert error.http_status == 404 and not error.retryable
    assert error.message.startswith("the server answered HTTP 404: missing missing")
    assert error.message.endswith("…") and len(error.message) < 260


@pytest.mark.parametrize("code", [429, 500, 503])
def test_a_busy_or_broken_server_is_retryable(server: ApiServer, code: int) -> None:
    with pytest.raises(ProviderError) as caught:
        call({"url": server.url(f"/status?code={code}")})
    assert caught.value.retryable and caught.value.http_status == code


def test_a_redirect_answer_that_is_not_followed_fails(server: ApiServer) -> None:
    with pytest.raises(ProviderError, match="HTTP 304"):
        call({"url": server.url("/status?code=304")})


def test_a_redirect_on_an_allowed_host_is_followed(server: ApiServer) -> None:
    result = call({"url": server.url("/redirect?to=/json"), "result_path": "$.name"})
    assert result.ports["text"] == "fox" and result.output["url"] == server.url("/json")


def test_an_answer_larger_than_the_setting_fails(server: ApiServer, settings: Any) -> None:
    settings.HTTP_REQUEST_MAX_BYTES = 1000
    assert call({"url": server.url("/big?size=900")}).ports["status"] == 200
    with pytest.raises(NodeFailure, match="larger than 1000 bytes"):
        call({"url": server.url("/big?size=1000")})


def test_the_answer_is_never_larger_than_what_ports_may_carry(server: ApiServer,
                                                              settings: Any) -> None:
    settings.HTTP_REQUEST_MAX_BYTES, settings.MAX_TEXT_BYTES = 10_000_000, 1000
    with pytest.raises(NodeFailure, match="larger than 1000 bytes"):
        call({"url": server.url("/big?size=1000")})


def test_a_request_past_its_timeout_is_a_retryable_failure(server: ApiServer) -> None:
    with pytest.raises(ProviderError, match="took longer than 1s") as caught:
        call({"url": server.url("/hold"), "timeout": 1})
    assert caught.value.retryable


def test_a_private_address_is_refused_without_being_called(settings: Any) -> None:
    settings.SSRF_ALLOW_HOSTS = []
    closed = ApiServer()
    closed.close()
    with pytest.raises(NodeFailure, match="URL refused: its host is not a public address"):
        call({"url": closed.url("/json")})


# --- The secret header through the API --------------------------------------------------------

@pytest.mark.django_db
def test_the_secret_header_value_is_stored_sealed_and_never_read_back(api: ApiClient) -> None:
    nodes = [{"id": "h", "type": "basedNode", "position": {"x": 0, "y": 0},
              "data": {"label": "Call", "nodeType": NODE,
                       "params": {"url": "https://api.example/v1", "method": "POST",
                                  "secret_header_value": "Bearer sk-live-123"}}}]
    created = api.post("/workflows", {"name": "calls", "nodes": nodes, "edges": []})
    assert created.status_code == 201, created.content
    workflow_id = created.json()["id"]

    read = api.get(f"/workflows/{workflow_id}")
    params = read.json()["nodes"][0]["data"]["params"]
    assert params["secret_header_value"] == PLACEHOLDER
    assert "sk-live-123" not in read.content.decode()
    kept = api.put(f"/workflows/{workflow_id}", {"name": "calls", "nodes": read.json()["nodes"],
                                                 "edges": []})
    assert kept.status_code == 200, kept.content
    from workflows.models import Workflow

    stored = Workflow.objects.get(pk=workflow_id).nodes[0]["data"]["params"]
    assert secretbox.is_sealed_param(stored["secret_header_value"])
    assert secretbox.reveal_param(stored["secret_header_value"]) == "Bearer sk-live-123"


@pytest.mark.django_db
def test_a_graph_with_bad_http_params_is_refused_with_the_field(api: ApiClient) -> None:
    nodes = [{"id": "h", "type": "basedNode", "position": {"x": 0, "y": 0},
              "data": {"label": "Call", "nodeType": NODE,
                       "params": {"url": "https://api.example/", "headers": {"Bad Name": "1"}}}}]
    response = api.post("/workflows", {"name": "calls", "nodes": nodes, "edges": []})
    assert response.status_code == 422, response.content
    assert "is not a valid header name" in response.content.decode()

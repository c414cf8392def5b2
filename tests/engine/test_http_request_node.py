"""http:request through the engine: every request goes through the SSRF guard, so a loopback,
a metadata address, a name resolving to a private address and a redirect to one all fail the
node with the guard's error (and the private address is never called), while a trusted server
(SSRF_ALLOW_HOSTS, as tests/engine/conftest.py `receiver` does) answers end to end."""

import socket
from collections.abc import Iterator
from typing import Any

import pytest

from executions.models import Execution, ExecutionStatus, NodeRun
from tests.conftest import ApiClient
from tests.workflows.http_request_server import ApiServer

from .helpers import create_workflow, edge, execute, node, states, wait_for
from .inprocess import drive

pytestmark = pytest.mark.django_db(transaction=True)
REFUSED = "the request failed: URL refused: its host is not a public address"
REAL_GETADDRINFO = socket.getaddrinfo


@pytest.fixture
def server() -> Iterator[ApiServer]:
    api_server = ApiServer()
    yield api_server
    api_server.close()


@pytest.fixture
def resolve(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Host names -> the address the guard's resolver (socket.getaddrinfo) answers for them."""
    names: dict[str, str] = {}

    def fake(host: str, port: Any, *args: Any, **kwargs: Any) -> Any:
        if host in names:
            return [(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP, "",
                     (names[host], port))]
        return REAL_GETADDRINFO(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", fake)
    return names


def run_request(api: ApiClient, **params: Any) -> tuple[Execution, NodeRun]:
    nodes = [node("t", "input:text", "Prompt", text="a red fox"),
             node("h", "http:request", "Call", retries=0, **params),
             node("out", "output:result")]
    edges = [edge("t", "text", "h", "vars"), edge("h", "text", "out", "value")]
    execution = drive(execute(api, create_workflow(api, nodes, edges)))
    return execution, NodeRun.objects.get(execution=execution, node_id="h")


def assert_refused(execution: Execution, run: NodeRun) -> None:
    assert execution.status == ExecutionStatus.FAILED
    assert run.status == "FAILED" and run.error == REFUSED, run.error
    assert run.attempt == 1 and run.ports is None


def test_a_request_to_the_loopback_address_fails_without_reaching_it(
        sent: list[str], api: ApiClient, server: ApiServer, settings: Any) -> None:
    settings.SSRF_ALLOW_HOSTS = []
    assert_refused(*run_request(api, url=server.url("/json")))
    assert server.requests == []


def test_a_request_to_the_metadata_address_fails(sent: list[str], api: ApiClient,
                                                 settings: Any) -> None:
    settings.SSRF_ALLOW_HOSTS = []
    assert_refused(*run_request(api, url="http://169.254.169.254/latest/meta-data/"))


def test_a_name_resolving_to_a_private_address_fails(sent: list[str], api: ApiClient,
                                                     resolve: dict[str, str],
                                                     settings: Any) -> None:
    settings.SSRF_ALLOW_HOSTS = []
    resolve["api.internal.example"] = "10.0.0.7"
    assert_refused(*run_request(api, url="http://api.internal.example/v1/data"))


def test_a_public_looking_url_redirecting_to_a_private_one_fails(
        sent: list[str], api: ApiClient, server: ApiServer, resolve: dict[str, str],
        settings: Any) -> None:
    # The public-looking host is this test's server, let through as a trusted host would be;
    # the address it redirects to is checked like any other, and refused.
    settings.SSRF_ALLOW_HOSTS = ["api.public.example"]
    resolve["api.public.example"] = "127.0.0.1"
    private = server.url("/secret")
    url = f"http://api.public.example:{server.port}/redirect?to={private}"
    assert_refused(*run_request(api, url=url))
    assert server.hits("/redirect") == 1 and server.hits("/secret") == 0


def test_a_redirect_to_the_metadata_address_fails(
        sent: list[str], api: ApiClient, server: ApiServer, resolve: dict[str, str],
        settings: Any) -> None:
    settings.SSRF_ALLOW_HOSTS = ["api.public.example"]
    resolve["api.public.example"] = "127.0.0.1"
    url = (f"http://api.public.example:{server.port}/redirect"
           "?to=http://169.254.169.254/latest/meta-data/")
    assert_refused(*run_request(api, url=url))


def test_a_trusted_api_answers_end_to_end_with_the_path_result_on_the_ports(
        sent: list[str], api: ApiClient, server: ApiServer, settings: Any) -> None:
    settings.SSRF_ALLOW_HOSTS = ["127.0.0.1"]
    nodes = [node("t", "input:text", "Prompt", text="a red fox"),
             node("n", "input:number", "Steps", value=20),
             node("u", "input:text", "Where", text=server.url("/echo")),
             node("h", "http:request", "Call", method="POST", url="https://unused.example/",
                  body_template='{"prompt": "Draw {{prompt}}", "steps": "{{steps}}"}',
                  result_path="$.body"),
             node("text", "output:result", name="as text"),
             node("json", "output:result", name="as json"),
             node("status", "output:result", name="status")]
    edges = [edge("t", "text", "h", "vars"), edge("n", "value", "h", "vars"),
             edge("u", "text", "h", "url"), edge("h", "text", "text", "value"),
             edge("h", "json", "json", "value"), edge("h", "status", "status", "value")]
    execution = drive(execute(api, create_workflow(api, nodes, edges)))

    assert execution.status == ExecutionStatus.COMPLETED, execution.error
    sent_body = {"prompt": "Draw a red fox", "steps": 20}
    assert server.last()["method"] == "POST" and server.last()["body"] == sent_body
    run = NodeRun.objects.get(execution=execution, node_id="h")
    assert run.ports is not None and run.ports["json"] == sent_body
    assert run.ports["status"] == 200
    results = {r.node_id: r.output for r in NodeRun.objects.filter(
        execution=execution, node_id__in=["text", "json", "status"])}
    assert results["json"] == {"name": "as json", "value": sent_body}
    assert results["status"] == {"name": "status", "value": 200}
    assert results["text"] is not None
    assert results["text"]["value"] == '{"prompt": "Draw a red fox", "steps": 20}'


def test_a_connected_text_that_is_not_a_url_fails_the_node_with_the_reason(
        sent: list[str], api: ApiClient) -> None:
    nodes = [node("u", "input:text", "Where", text="file:///etc/passwd"),
             node("h", "http:request", "Call", url="https://unused.example/", retries=0),
             node("out", "output:result")]
    edges = [edge("u", "text", "h", "url"), edge("h", "text", "out", "value")]
    execution = drive(execute(api, create_workflow(api, nodes, edges)))
    run = NodeRun.objects.get(execution=execution, node_id="h")
    assert execution.status == ExecutionStatus.FAILED
    assert run.error.startswith("Invalid params: url:") and "http(s) URL" in run.error


# --- The same through a real worker (a Celery process of its own, against the live site) ------

def live_graph(api: ApiClient, url: str, **params: Any) -> dict[str, Any]:
    nodes = [node("h", "http:request", "Call", url=url, retries=0, **params),
             node("out", "output:result", name="status")]
    edges = [edge("h", "text", "out", "value")]
    return wait_for(api, execute(api, create_workflow(api, nodes, edges)))


def test_a_worker_calls_the_site_itself_and_delivers_the_path_result(engine: str,
                                                                     api: ApiClient) -> None:
    poll = live_graph(api, f"{engine}/healthz", result_path="$.status")
    assert poll["status"] == "COMPLETED", poll
    assert states(poll)["h"]["status"] == "COMPLETED"
    run = NodeRun.objects.get(execution_id=poll["executionId"], node_id="h")
    assert run.ports == {"json": "ok", "text": "ok", "status": 200}


def test_a_worker_refuses_another_loopback_port_and_the_metadata_address(
        engine: str, api: ApiClient, server: ApiServer) -> None:
    for url in (server.url("/json"), "http://169.254.169.254/latest/meta-data/"):
        poll = live_graph(api, url)
        assert poll["status"] == "FAILED", poll
        assert states(poll)["h"]["error"] == REFUSED, poll
    assert server.requests == []

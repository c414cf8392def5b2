"""The output nodes' executors, called directly (no database, no worker): `output:result`
collects what arrives into the execution's final output, and `output:webhook` POSTs it as JSON,
signed when a secret is set, to a receiver on this machine (reached through the SSRF guard by
SSRF_ALLOW_HOSTS, as a trusted service would be). The secret is sealed the way a saved graph
seals it (workflows/node_secrets.py); storing and hiding it:
tests/workflows/test_node_secrets.py."""

import hmac
import json
import re
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from pydantic import ValidationError

from executions.engine.contracts import NodeContext, NodeFailure, NodeResult, inline
from executions.executors import executor_for
from executions.providers.errors import ProviderError
from tests.builders import node
from tests.harness import LocalHTTPServer
from wireflow_site.signing import digest
from workflows import secretbox
from workflows.node_secrets import seal_graph
from workflows.nodes import catalogue
from workflows.nodes.output import SECRET_MAX_LENGTH

SECRET = "whsec-fox-0123456789"


# --- A webhook receiver -------------------------------------------------------------------------

@dataclass(frozen=True)
class Delivery:
    method: str
    path: str
    headers: dict[str, str]  # names in lower case
    body: bytes  # exactly as received: the signature is over these bytes


class Receiver:
    """Answers each POST with the status its path names (`/status/503`, else 200), a
    Retry-After when the query gives one, a body of `?size=` bytes; remembers every delivery."""

    def __init__(self) -> None:
        self.deliveries: list[Delivery] = []
        lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:  # noqa: N802 (the stdlib's name)
                url = urlsplit(self.path)
                query = {key: values[0] for key, values in parse_qs(url.query).items()}
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with lock:
                    receiver.deliveries.append(Delivery(
                        self.command, url.path,
                        {k.lower(): v for k, v in self.headers.items()}, body))
                status = int(url.path.removeprefix("/status/")) \
                    if url.path.startswith("/status/") else 200
                answer = b"x" * int(query.get("size", "2"))
                self.send_response(status)
                if "retry_after" in query:
                    self.send_header("Retry-After", query["retry_after"])
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = LocalHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        # Polled often, so that closing it does not wait for the default half second.
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.02},
                         daemon=True).start()

    def url(self, path: str = "/hook") -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}{path}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def listening() -> Iterator[Receiver]:
    server = Receiver()
    yield server
    server.close()


@pytest.fixture
def receiver(listening: Receiver, settings: Any) -> Receiver:
    """The module's receiver, with no delivery yet, allowed through the SSRF guard."""
    settings.SSRF_ALLOW_HOSTS = ["127.0.0.1"]
    settings.SITE_URL = "https://wireflow.example"  # never the receiver's own origin
    listening.deliveries.clear()
    return listening


# --- Calling the executors ----------------------------------------------------------------------

def sealed(params: dict[str, Any]) -> dict[str, Any]:
    """The params as a saved graph holds them: write-only ones sealed."""
    [saved] = seal_graph([node("hook", "output:webhook", "Hook", **params)], None)
    stored: dict[str, Any] = saved["data"]["params"]
    return stored


def run(node_type: str, params: dict[str, Any], values: list[Any],
        label: str = "Final image") -> NodeResult:
    spec = catalogue[node_type]
    ctx = NodeContext(execution_id="exec-1", team_id=0, node_id="node-7", node_type=node_type,
                      label=label, params=spec.params.model_validate(params),
                      inputs={"value": values}, input_labels={"value": ["a"] * len(values)})
    return inline(executor_for(node_type)).run(ctx)


def deliver(url: str, values: list[Any], secret: str = "") -> NodeResult:
    return run("output:webhook", sealed({"url": url, "secret": secret}), values)


def signature_parts(header: str) -> tuple[str, str]:
    match = re.fullmatch(r"t=(\d+),v1=([0-9a-f]{64})", header)
    assert match, header
    return match.group(1), match.group(2)


# --- output:result ------------------------------------------------------------------------------

def test_a_result_of_one_value_is_that_value() -> None:
    result = run("output:result", {"name": "poster"}, ["https://cdn.example/1.png"])
    assert result.output == {"name": "poster", "value": "https://cdn.example/1.png"}
    assert result.ports == {} and result.credits == 0


def test_a_result_of_several_values_is_their_list_in_the_order_they_arrived() -> None:
    values = ["a fox", 3, {"k": [1]}, None]
    assert run("output:result", {"name": "all"}, values).output == {"name": "all",
                                                                   "value": values}


def test_one_value_that_is_a_list_is_delivered_as_that_list() -> None:
    assert run("output:result", {}, [["a", "b"]]).output["value"] == ["a", "b"]


def test_a_result_s_name_defaults_to_the_node_s_label() -> None:
    assert run("output:result", {}, ["x"], label="Hero shot").output == {
        "name": "Hero shot", "value": "x"}
    assert run("output:result", {"name": ""}, ["x"], label="Hero shot").output["name"] == \
        "Hero shot"


def test_a_result_name_is_at_most_200_characters() -> None:
    with pytest.raises(ValidationError, match="at most 200 characters"):
        catalogue["output:result"].params.model_validate({"name": "n" * 201})


def test_the_result_runs_inline_purely_and_the_webhook_is_a_side_effect() -> None:
    result, webhook = inline(executor_for("output:result")), inline(executor_for("output:webhook"))
    assert result.pure and result.repeatable
    assert not webhook.pure and not webhook.repeatable  # a delivery is never made twice


# --- output:webhook: the delivery ---------------------------------------------------------------

def test_the_result_is_posted_as_json_with_the_execution_and_the_node(
        receiver: Receiver) -> None:
    result = deliver(receiver.url(), ["https://cdn.example/fox.png"])
    [delivery] = receiver.deliveries
    assert (delivery.method, delivery.path) == ("POST", "/hook")
    assert delivery.headers["content-type"] == "application/json"
    assert delivery.headers["user-agent"] == "Wireflow-Webhook/1"
    assert json.loads(delivery.body) == {"executionId": "exec-1", "nodeId": "node-7",
                                         "value": "https://cdn.example/fox.png"}
    assert result.ports == {} and result.credits == 0
    assert result.output == {"delivered": True, "status": 200, "url": receiver.url()}


def test_several_values_are_posted_as_their_list(receiver: Receiver) -> None:
    deliver(receiver.url(), ["a fox", 2.5, ["x"], {"deep": {"er": None}}])
    [delivery] = receiver.deliveries
    assert json.loads(delivery.body)["value"] == ["a fox", 2.5, ["x"], {"deep": {"er": None}}]


def test_without_a_secret_nothing_is_signed(receiver: Receiver) -> None:
    deliver(receiver.url(), ["x"])
    assert "x-wireflow-signature" not in receiver.deliveries[0].headers


def test_with_a_secret_the_body_is_signed_with_it(receiver: Receiver) -> None:
    before = int(time.time())
    deliver(receiver.url(), [{"caption": "a fox"}], secret=SECRET)
    after = time.time()
    [delivery] = receiver.deliveries
    timestamp, signature = signature_parts(delivery.headers["x-wireflow-signature"])
    assert before <= int(timestamp) <= after
    assert hmac.compare_digest(signature, digest(SECRET, timestamp, delivery.body))
    assert not hmac.compare_digest(signature, digest(SECRET + "x", timestamp, delivery.body))
    assert not hmac.compare_digest(signature, digest(SECRET, timestamp, delivery.body + b" "))


def test_the_secret_is_sealed_in_the_params_and_never_sent(receiver: Receiver) -> None:
    params = sealed({"url": receiver.url(), "secret": SECRET})
    assert secretbox.is_sealed_param(params["secret"]) and SECRET not in params["secret"]
    run("output:webhook", params, ["x"])
    [delivery] = receiver.deliveries
    assert SECRET.encode() not in delivery.body
    assert all(SECRET not in value for value in delivery.headers.values())


def test_a_secret_saved_before_secrets_were_sealed_still_signs(receiver: Receiver) -> None:
    run("output:webhook", {"url": receiver.url(), "secret": SECRET}, ["x"])
    [delivery] = receiver.deliveries
    timestamp, signature = signature_parts(delivery.headers["x-wireflow-signature"])
    assert signature == digest(SECRET, timestamp, delivery.body)


def test_a_secret_that_cannot_be_read_any_more_fails_before_anything_is_sent(
        receiver: Receiver, settings: Any) -> None:
    spec = catalogue["output:webhook"]
    params = spec.params.model_validate(sealed({"url": receiver.url(), "secret": SECRET}))
    settings.SECRET_KEY = "another-key-without-the-old-one-as-a-fallback"
    ctx = NodeContext(execution_id="e", team_id=0, node_id="n", node_type="output:webhook",
                      label="Hook", params=params, inputs={"value": ["x"]}, input_labels={})
    with pytest.raises(NodeFailure, match="signing secret cannot be read: enter it again"):
        inline(executor_for("output:webhook")).run(ctx)
    assert receiver.deliveries == []
    with pytest.raises(ValidationError, match="cannot be read any more"):
        spec.params.model_validate(params.model_dump())


def test_a_secret_is_at_most_500_characters_counted_before_sealing() -> None:
    spec = catalogue["output:webhook"]
    url = "https://hooks.example.com/x"
    assert spec.param_errors(sealed({"url": url, "secret": "s" * SECRET_MAX_LENGTH}), set()) == []
    assert spec.param_errors(sealed({"url": url, "secret": "s" * (SECRET_MAX_LENGTH + 1)}),
                             set()) == ["secret: String should have at most 500 characters"]


# --- output:webhook: failures -------------------------------------------------------------------

@pytest.mark.parametrize("status", [400, 401, 403, 404, 410, 422])
def test_a_refusal_fails_at_once_without_a_retry(receiver: Receiver, status: int) -> None:
    with pytest.raises(ProviderError) as caught:
        deliver(receiver.url(f"/status/{status}"), ["x"])
    error = caught.value
    assert (error.http_status, error.retryable, error.retry_after) == (status, False, None)
    assert error.message == f"webhook answered HTTP {status}"
    assert len(receiver.deliveries) == 1


@pytest.mark.parametrize("status", [408, 409, 429, 500, 502, 503, 504])
def test_a_busy_or_broken_receiver_is_retryable(receiver: Receiver, status: int) -> None:
    with pytest.raises(ProviderError) as caught:
        deliver(receiver.url(f"/status/{status}"), ["x"])
    assert (caught.value.http_status, caught.value.retryable) == (status, True)


def test_a_503_with_retry_after_is_retried_after_it(receiver: Receiver) -> None:
    with pytest.raises(ProviderError) as caught:
        deliver(receiver.url("/status/503?retry_after=7"), ["x"])
    assert (caught.value.retryable, caught.value.retry_after) == (True, 7.0)


def test_a_refusal_s_retry_after_is_ignored(receiver: Receiver) -> None:
    with pytest.raises(ProviderError) as caught:
        deliver(receiver.url("/status/400?retry_after=7"), ["x"])
    assert (caught.value.retryable, caught.value.retry_after) == (False, None)


def test_a_private_address_is_refused_without_being_called(receiver: Receiver,
                                                           settings: Any) -> None:
    settings.SSRF_ALLOW_HOSTS = []
    with pytest.raises(NodeFailure, match="webhook delivery failed: URL refused: its host is "
                                          "not a public address"):
        deliver(receiver.url(), ["x"], secret=SECRET)
    assert receiver.deliveries == []


@pytest.mark.parametrize("url", ["http://169.254.169.254/latest/meta-data/",
                                 "http://10.0.0.1/hook", "http://[::1]/hook"])
def test_internal_addresses_are_refused(settings: Any, url: str) -> None:
    settings.SSRF_ALLOW_HOSTS = []
    with pytest.raises(NodeFailure, match="not a public address"):
        deliver(url, ["x"])


def test_a_receiver_that_is_not_listening_is_retryable(receiver: Receiver) -> None:
    gone = Receiver()
    url = gone.url()
    gone.close()
    with pytest.raises(ProviderError, match="webhook delivery failed: Could not connect") as caught:
        deliver(url, ["x"])
    assert caught.value.retryable


def test_an_answer_too_large_to_read_fails_without_a_retry(receiver: Receiver) -> None:
    """The delivery may have arrived: it is not made again."""
    with pytest.raises(NodeFailure, match="webhook delivery failed: .*larger than 65536 bytes"):
        deliver(receiver.url("/hook?size=70000"), ["x"])
    assert len(receiver.deliveries) == 1

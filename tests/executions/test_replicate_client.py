"""The Replicate client: against response bodies recorded from Replicate's API reference
(fixtures/replicate/, served by httpx.MockTransport), and through real HTTP against the
simulator served by the live ASGI site. A parity test keeps the simulator's bodies carrying
every key the recorded ones carry, so the simulator cannot drift from the real protocol."""

import io
import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from PIL import Image

from executions.engine.contracts import NodeFailure
from executions.providers.errors import ProviderError
from executions.providers.replicate import (
    Prediction,
    ReplicateClient,
    parse_model,
    parse_webhook,
    platform_token,
)
from executions.simulators import replicate_jobs
from tests.harness import wait_until

from .conftest import SimClock
from .provider_fakes import Inbox, recorder, replying, sync, webhook_inbox

VERSION = "5c7d5dc6dd8bf75c1acaa8565735e7986bc5b66206b55cca93cb72c9bf15ccaa"
recorded = recorder("replicate")


def answering(status: int, body: dict[str, Any], headers: dict[str, str] | None = None,
              seen: list[httpx.Request] | None = None) -> ReplicateClient:
    return ReplicateClient("https://api.replicate.com", "r8_test", http=httpx.AsyncClient(
        transport=httpx.MockTransport(replying(status, body, headers, seen))))


# --- Recorded bodies ----------------------------------------------------------------------

def test_create_by_version_sends_replicates_request_and_reads_the_created_prediction() -> None:
    seen: list[httpx.Request] = []
    client = answering(201, recorded("created"), seen=seen)

    prediction = sync(client.create(f"replicate/hello-world:{VERSION}", {"text": "Alice"},
                                    webhook_url="https://example.com/hook"))

    request = seen[0]
    assert (request.method, str(request.url)) == ("POST",
                                                  "https://api.replicate.com/v1/predictions")
    assert request.headers["Authorization"] == "Bearer r8_test"
    assert json.loads(request.content) == {
        "version": f"replicate/hello-world:{VERSION}", "input": {"text": "Alice"}, "webhook": "https://example.com/hook",
        "webhook_events_filter": ["completed"]}
    assert prediction == Prediction(
        "gm3qorzdhgbfurvjtvhg6dckhu", "starting", None, None, "",
        "https://api.replicate.com/v1/predictions/gm3qorzdhgbfurvjtvhg6dckhu",
        "https://api.replicate.com/v1/predictions/gm3qorzdhgbfurvjtvhg6dckhu/cancel")
    assert not prediction.done


def test_an_official_model_runs_through_its_own_endpoint_without_a_version() -> None:
    seen: list[httpx.Request] = []
    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(201, json=recorded("created"))

    client = ReplicateClient("https://api.replicate.com/v1/", "r8_test", http=httpx.AsyncClient(
        transport=httpx.MockTransport(handler)))

    sync(client.create("black-forest-labs/flux-schnell", {"prompt": "a fox"}))

    assert str(seen[0].url) == ("https://api.replicate.com/v1/models/black-forest-labs/"
                                "flux-schnell/predictions")
    assert json.loads(seen[0].content) == {"input": {"prompt": "a fox"}}


def test_prediction_urls_on_another_host_are_refused_so_the_token_stays_home() -> None:
    body = {**recorded("created"), "urls": {"get": "http://169.254.169.254/latest",
                                            "cancel": "http://169.254.169.254/latest"}}
    with pytest.raises(ProviderError, match="another host") as caught:
        sync(answering(201, body).create(VERSION, {}))
    assert not caught.value.retryable


def test_a_bare_version_id_is_sent_as_the_version() -> None:
    seen: list[httpx.Request] = []
    sync(answering(201, recorded("created"), seen=seen).create(VERSION, {}))
    assert json.loads(seen[0].content)["version"] == VERSION


@pytest.mark.parametrize(("name", "status", "output", "error"), [
    ("succeeded", "succeeded", "hello Alice", None),
    ("failed", "failed", None, "text is too short"),
    ("canceled", "canceled", None, None),
])
def test_get_reads_each_finished_prediction(name: str, status: str, output: Any,
                                            error: str | None) -> None:
    prediction = sync(answering(200, recorded(name)).get("https://api.replicate.com/x"))
    assert (prediction.status, prediction.output, prediction.error, prediction.done) == (
        status, output, error, True)


def test_cancel_posts_to_the_cancel_url_and_reads_the_prediction() -> None:
    seen: list[httpx.Request] = []
    url = recorded("created")["urls"]["cancel"]
    prediction = sync(answering(200, recorded("canceled"), seen=seen).cancel(url))
    assert (seen[0].method, str(seen[0].url)) == ("POST", url)
    assert prediction.status == "canceled"


def test_a_webhook_delivery_is_the_prediction() -> None:
    assert parse_webhook(recorded("succeeded")).output == "hello Alice"
    with pytest.raises(ValueError, match="not a replicate webhook"):
        parse_webhook({"request_id": "fal-shaped", "status": "OK"})


def test_throttling_is_retryable_after_the_time_replicate_says() -> None:
    client = answering(429, recorded("error_throttled"), {"Retry-After": "1"})
    with pytest.raises(ProviderError) as caught:
        sync(client.create(VERSION, {}))
    assert (caught.value.retryable, caught.value.retry_after, caught.value.http_status) == (
        True, 1.0, 429)
    assert caught.value.message == "Request was throttled. Expected available in 1 second."


def test_a_server_error_is_retryable() -> None:
    with pytest.raises(ProviderError) as caught:
        sync(answering(503, {"detail": "Service Unavailable"}).get("https://x.test/p"))
    assert caught.value.retryable


@pytest.mark.parametrize(("status", "name", "text"), [
    (422, "error_invalid_version", "The specified version does not exist"),
    (401, "error_unauthenticated", "You did not pass a valid authentication token"),
    (404, "error_detail_only", "Not found."),
])
def test_other_client_errors_fail_the_node_with_replicates_detail(status: int, name: str,
                                                                  text: str) -> None:
    with pytest.raises(NodeFailure, match=f"HTTP {status}") as caught:
        sync(answering(status, recorded(name)).create(VERSION, {}))
    assert text in str(caught.value)


def test_a_body_that_is_not_a_prediction_is_a_provider_error() -> None:
    with pytest.raises(ProviderError, match="unexpected prediction body"):
        sync(answering(200, {"status": "weird"}).get("https://x.test/p"))


@pytest.mark.parametrize("text", [
    "owner/name", "owner/name:" + VERSION, VERSION, "stability-ai/sdxl",
])
def test_model_references_that_parse(text: str) -> None:
    ref = parse_model(text)
    assert ref.official == (":" not in text and "/" in text)


@pytest.mark.parametrize("text", [
    "", "owner", "owner/name:abc", "a/b/c", "owner/name:" + VERSION.upper(), "x" * 70 + "/y",
    "../../etc/passwd", VERSION + "0",
])
def test_model_references_that_do_not(text: str) -> None:
    with pytest.raises(ValueError, match="owner/name"):
        parse_model(text)


# --- The simulator, through real HTTP -----------------------------------------------------

@pytest.fixture
def sim(live_site: str, settings: Any) -> Iterator[ReplicateClient]:
    settings.SITE_URL = live_site
    settings.SIM_DEFAULT_LATENCY = 0.2
    replicate_jobs.reset()
    yield ReplicateClient(f"{live_site}/_sim/replicate", platform_token(), timeout=10)


def wait_done(client: ReplicateClient, prediction: Prediction) -> Prediction:
    def done() -> Prediction | None:
        latest = sync(client.get(prediction))
        return latest if latest.done else None
    finished = wait_until(done, 60, f"{prediction.id} did not finish")
    assert finished is not None
    return finished


def raw(client: ReplicateClient, method: str, url: str, **kwargs: Any) -> httpx.Response:
    headers = {"Authorization": f"Bearer {client.token}", **kwargs.pop("headers", {})}
    return httpx.request(method, url, headers=headers, timeout=10, **kwargs)


def test_the_simulator_runs_an_llm_and_streams_a_list_of_tokens(
        sim: ReplicateClient, monkeypatch: Any) -> None:
    clock = SimClock()
    monkeypatch.setattr(replicate_jobs, "time", clock)
    created = sync(sim.create("meta/meta-llama-3-8b-instruct",
                              {"prompt": "say hi [sim latency=2s]"}))
    assert created.status == "starting"
    clock.advance(1.0)
    assert sync(sim.get(created)).status == "processing"
    clock.advance(1.5)

    done = sync(sim.get(created))

    assert done.status == "succeeded"
    assert isinstance(done.output, list) and all(isinstance(t, str) for t in done.output)
    assert "".join(done.output).endswith("say hi")  # the directive is not echoed
    assert "step 10/10" in done.logs


def test_the_simulator_draws_a_real_png_for_an_image_model(sim: ReplicateClient) -> None:
    done = wait_done(sim, sync(sim.create(f"black-forest-labs/flux-schnell:{VERSION}",
                                          {"prompt": "a fox"})))
    [url] = done.output
    image = Image.open(io.BytesIO(httpx.get(url, timeout=10).content))
    assert (image.format, image.size) == ("PNG", (512, 384))


def test_the_simulator_wants_a_token_and_answers_problem_details(sim: ReplicateClient,
                                                                  live_site: str) -> None:
    url = f"{live_site}/_sim/replicate/v1/predictions"
    response = httpx.post(url, json={"version": VERSION, "input": {}}, timeout=10)
    assert response.status_code == 401
    assert set(response.json()) >= set(recorded("error_unauthenticated"))
    wrong = ReplicateClient(f"{live_site}/_sim/replicate", "r8_wrong-token", timeout=10)
    with pytest.raises(NodeFailure, match="HTTP 401"):
        sync(wrong.create(VERSION, {}))


def test_another_token_does_not_find_a_prediction(sim: ReplicateClient, live_site: str,
                                                  settings: Any) -> None:
    created = sync(sim.create(VERSION, {"text": "Alice"}))
    response = httpx.get(created.get_url, timeout=10,
                         headers={"Authorization": "Bearer r8_not-the-owner"})
    assert response.status_code == 401  # unknown tokens are refused before anything else
    assert sync(sim.get(created)).id == created.id


def test_fail_429_twice_answers_throttled_with_retry_after_then_works(
        sim: ReplicateClient) -> None:
    payload = {"prompt": "busy [sim fail=429x2]"}
    for _ in range(2):
        with pytest.raises(ProviderError) as caught:
            sync(sim.create("meta/llama", payload))
        assert (caught.value.http_status, caught.value.retryable,
                caught.value.retry_after) == (429, True, 1.0)
    assert sync(sim.create("meta/llama", payload)).status in ("starting", "processing")


def test_fail_400_is_a_permanent_validation_error(sim: ReplicateClient) -> None:
    with pytest.raises(NodeFailure, match="Simulated validation error"):
        sync(sim.create("meta/llama", {"prompt": "x [sim fail=400]"}))


def test_a_hanging_prediction_is_canceled(sim: ReplicateClient) -> None:
    created = sync(sim.create("meta/llama", {"prompt": "[sim hang]"}))
    canceled = sync(sim.cancel(created.cancel_url))
    assert canceled.status == "canceled"
    assert sync(sim.get(created)).status == "canceled"
    assert replicate_jobs.stats()["cancels"] == 1


def test_a_failing_model_finishes_failed_with_its_error(sim: ReplicateClient) -> None:
    done = wait_done(sim, sync(sim.create("meta/llama", {"prompt": "x [sim fail=job]"})))
    assert (done.status, done.error) == ("failed", "Simulated model failure ([sim fail=job])")


def test_the_simulators_bodies_carry_every_key_of_replicates(sim: ReplicateClient) -> None:
    def body(url: str, method: str = "GET") -> dict[str, Any]:
        answer: dict[str, Any] = raw(sim, method, url).json()
        return answer

    created = raw(sim, "POST", f"{sim.base_url}/v1/predictions",
                  json={"version": VERSION, "input": {"text": "Alice"}})
    assert created.status_code == 201
    assert set(created.json()) >= set(recorded("created"))
    assert set(created.json()["urls"]) >= set(recorded("created")["urls"])
    done = wait_done(sim, read(created.json()))
    assert set(body(done.get_url)) >= set(recorded("succeeded"))
    failed = wait_done(sim, sync(sim.create(VERSION, {"text": "[sim fail=job]"})))
    assert set(body(failed.get_url)) >= set(recorded("failed"))
    hanging = sync(sim.create(VERSION, {"text": "[sim hang]"}))
    assert set(body(hanging.cancel_url, "POST")) >= set(recorded("canceled"))
    throttled = raw(sim, "POST", f"{sim.base_url}/v1/predictions",
                    json={"version": VERSION, "input": {"text": "[sim fail=429x1]"}})
    assert throttled.status_code == 429 and throttled.headers["Retry-After"] == "1"
    assert set(throttled.json()) >= set(recorded("error_throttled"))


def read(body: dict[str, Any]) -> Prediction:
    from executions.providers.replicate import read_prediction

    return read_prediction(body)


# --- Webhooks ------------------------------------------------------------------------------

@pytest.fixture
def inbox(settings: Any) -> Iterator[Inbox]:
    with webhook_inbox(settings, "/replicate") as receiver:
        yield receiver


def test_the_completion_webhook_posts_the_finished_prediction(sim: ReplicateClient,
                                                              inbox: Inbox) -> None:
    url, received = inbox
    created = sync(sim.create("meta/llama", {"prompt": "hi"}, webhook_url=url))

    delivered = received.get(timeout=60)

    hook = parse_webhook(delivered)
    assert (hook.id, hook.status) == (created.id, "succeeded")
    assert hook.output == sync(sim.get(created)).output
    assert set(delivered) >= set(recorded("succeeded"))


def test_a_webhook_the_ssrf_guard_refuses_is_refused_at_create(sim: ReplicateClient) -> None:
    with pytest.raises(NodeFailure, match="webhook"):
        sync(sim.create("meta/llama", {"prompt": "hi"},
                        webhook_url="http://169.254.169.254/latest"))


# --- The guard -----------------------------------------------------------------------------

SIM_ROUTES = [("post", "/_sim/replicate/v1/predictions"),
              ("post", "/_sim/replicate/v1/models/meta/llama/predictions"),
              ("get", "/_sim/replicate/v1/predictions/abc"),
              ("post", "/_sim/replicate/v1/predictions/abc/cancel"),
              ("get", "/_sim/replicate/_stats"), ("post", "/_sim/replicate/_reset")]
NOT_THE_TOKEN = {"no header": {}, "any token": {"Authorization": "Bearer r8_anything"},
                 "a fal-style key": {"Authorization": "Key r8_anything"}}


@pytest.mark.parametrize("case", NOT_THE_TOKEN)
@pytest.mark.parametrize(("method", "path"), SIM_ROUTES)
def test_every_simulator_route_refuses_a_caller_without_the_token(
        client: Any, db: None, method: str, path: str, case: str) -> None:
    replicate_jobs.reset()
    response = getattr(client, method)(path, headers=NOT_THE_TOKEN[case], **(
        {} if method == "get" else {"data": "{}", "content_type": "application/json"}))
    assert response.status_code == 401
    assert response.json()["title"] == "Unauthenticated"
    assert replicate_jobs.stats()["submissions"] == 0


def test_nothing_is_answered_while_the_simulators_are_off(client: Any, db: None,
                                                          settings: Any) -> None:
    settings.SIMULATORS_ENABLED = False
    response = client.post("/_sim/replicate/v1/predictions", data="{}",
                           content_type="application/json",
                           headers={"Authorization": f"Bearer {platform_token()}"})
    assert response.status_code == 404


@pytest.mark.parametrize(("body", "status", "text"), [
    ("[1]", 422, "Expected an object"),
    ("{not json", 400, "not valid JSON"),
    ('{"version": "nope", "input": {}}', 422, "does not exist"),
    (json.dumps({"version": VERSION, "input": "x"}), 422, "input"),
    (json.dumps({"version": VERSION, "input": {}, "webhook": "ftp://x"}), 422, "webhook"),
])
def test_bad_creates_answer_problem_details(client: Any, db: None, body: str, status: int,
                                            text: str) -> None:
    response = client.post("/_sim/replicate/v1/predictions", data=body,
                           content_type="application/json",
                           headers={"Authorization": f"Bearer {platform_token()}"})
    assert response.status_code == status
    assert text in response.json()["detail"] and response.json()["status"] == status

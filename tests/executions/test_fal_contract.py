"""Contract tests: fal's documented response bodies (tests/executions/fixtures/fal/) served to the
real FalClient through httpx.MockTransport, and the simulator held to the same keys, so neither
the client nor the simulator can drift from what fal answers."""

import json
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from django.test import Client

from executions.executors import executor_for
from executions.executors.fal import FalModelExecutor
from executions.executors.fal_custom import map_output
from executions.providers.errors import ProviderError
from executions.providers.fal import FalClient
from workflows.nodes.fal_custom import FalCustomParams

from .conftest import SimClock
from .fal_sim import auth, fresh_fal_simulator, path_of
from .provider_fakes import recorder, recording, sync

BASE = "https://queue.fal.run"
KEY = "fal-test-key-123"
Handler = Callable[[httpx.Request], httpx.Response]
recorded = recorder("fal")


def fal_with(handler: Handler, seen: list[httpx.Request] | None = None) -> FalClient:
    http = httpx.AsyncClient(transport=httpx.MockTransport(recording(handler, seen)))
    return FalClient(BASE, KEY, http=http)


def answer(name: str, status: int = 200, headers: dict[str, str] | None = None) -> Handler:
    return lambda request: httpx.Response(status, json=recorded(name), headers=headers)


# --- The client reads fal's bodies -----------------------------------------------------------

def test_submit_sends_the_model_input_with_the_key_and_reads_the_queue_answer() -> None:
    seen: list[httpx.Request] = []
    fal = fal_with(answer("submit"), seen)
    sub = sync(fal.submit("fal-ai/flux-2", {"prompt": "a fox"},
                          webhook_url="https://wireflow.example/hooks/provider/t/"))
    body = recorded("submit")
    assert (sub.request_id, sub.status_url, sub.response_url, sub.cancel_url,
            sub.queue_position) == (body["request_id"], body["status_url"],
                                    body["response_url"], body["cancel_url"], 0)
    [request] = seen
    assert request.method == "POST"
    assert request.url.copy_with(query=None) == httpx.URL(f"{BASE}/fal-ai/flux-2")
    assert request.url.params["fal_webhook"] == "https://wireflow.example/hooks/provider/t/"
    assert request.headers["Authorization"] == f"Key {KEY}"
    assert json.loads(request.content) == {"prompt": "a fox"}


def test_a_queued_job_reports_its_position_and_is_not_done() -> None:
    status = sync(fal_with(answer("status_in_queue", 202)).status(recorded("submit")["status_url"]))
    assert (status.status, status.queue_position, status.done, status.failed) == (
        "IN_QUEUE", 0, False, False)


def test_a_running_job_reports_its_logs_and_the_progress_they_show() -> None:
    seen: list[httpx.Request] = []
    fal = fal_with(answer("status_in_progress", 202), seen)
    status = sync(fal.status(recorded("submit")["status_url"]))
    assert status.status == "IN_PROGRESS" and not status.done
    assert status.logs == ["Loading the model", "Step 14/28"]
    assert status.progress == 0.5
    assert seen[0].url.params["logs"] == "1"


def test_a_completed_job_is_done_without_error() -> None:
    status = sync(fal_with(answer("status_completed")).status(recorded("submit")["status_url"]))
    assert (status.status, status.done, status.failed, status.progress) == (
        "COMPLETED", True, False, 1.0)


def test_the_flux_2_result_is_read_whole_and_becomes_image_ports() -> None:
    output = sync(fal_with(answer("result_flux_2")).result(recorded("submit")["response_url"]))
    assert output == recorded("result_flux_2")
    url = output["images"][0]["url"]
    flux_2 = executor_for("generate:flux_2")
    assert isinstance(flux_2, FalModelExecutor)
    assert flux_2.ports(output) == {"image": url, "images": [url]}
    custom = FalCustomParams.model_validate({"endpoint": "fal-ai/flux-2"})
    assert map_output(custom, output) == {"image": url, "images": [url], "json": output}


def test_an_error_with_a_string_detail_is_its_message_and_not_retried() -> None:
    fal = fal_with(answer("error_detail_string", 400))
    with pytest.raises(ProviderError) as caught:
        sync(fal.result(recorded("submit")["response_url"]))
    assert caught.value.message == recorded("error_detail_string")["detail"]
    assert (caught.value.http_status, caught.value.retryable) == (400, False)


def test_an_error_with_a_list_detail_names_each_field() -> None:
    fal = fal_with(answer("error_detail_list", 422))
    with pytest.raises(ProviderError) as caught:
        sync(fal.submit("fal-ai/flux-2", {}))
    assert caught.value.message == ("body.prompt: field required; body.num_images: ensure this "
                                    "value is less than or equal to 4")
    assert (caught.value.http_status, caught.value.retryable) == (422, False)


def test_a_rate_limit_with_a_detail_is_retried_after_the_time_fal_asks() -> None:
    fal = fal_with(answer("error_detail_string", 429, {"Retry-After": "7"}))
    with pytest.raises(ProviderError) as caught:
        sync(fal.submit("fal-ai/flux-2", {"prompt": "a fox"}))
    assert (caught.value.retryable, caught.value.retry_after) == (True, 7.0)


# --- The simulator answers at least what fal answers --------------------------------------------

@pytest.fixture
def simulator(settings: Any) -> Iterator[None]:
    with fresh_fal_simulator(settings, latency=2.0, image_scale=0.1):
        yield


def missing(recorded_body: Any, simulated: Any, where: str = "") -> list[str]:
    """The keys the recorded body has that the simulated one lacks, at every depth (lists are
    compared item by item on their first item)."""
    if isinstance(recorded_body, dict):
        if not isinstance(simulated, dict):
            return [where or "(top)"]
        gaps = [f"{where}.{key}" for key in recorded_body if key not in simulated]
        for key in recorded_body:
            if key in simulated:
                gaps += missing(recorded_body[key], simulated[key], f"{where}.{key}")
        return gaps
    if isinstance(recorded_body, list) and recorded_body:
        if not isinstance(simulated, list) or not simulated:
            return [where]
        return missing(recorded_body[0], simulated[0], f"{where}[0]")
    return []


def test_the_simulator_answers_every_key_fal_answers(client: Client, simulator: None,
                                                      sim_clock: SimClock) -> None:
    submitted = client.post("/_sim/fal/fal-ai/flux-2", data=json.dumps({"prompt": "a fox"}),
                            content_type="application/json", headers=auth())
    assert submitted.status_code == 200, submitted.content
    sub = submitted.json()
    assert missing(recorded("submit"), sub) == []

    def status() -> Any:
        return client.get(path_of(sub["status_url"]) + "?logs=1", headers=auth())

    queued = status()
    assert queued.status_code == 202 and queued.json()["status"] == "IN_QUEUE"
    assert missing(recorded("status_in_queue"), queued.json()) == []
    sim_clock.advance(1.0)  # past its 0.4 s in the queue, short of its 2 s
    running = status()
    assert running.status_code == 202 and running.json()["status"] == "IN_PROGRESS"
    assert missing(recorded("status_in_progress"), running.json()) == []
    sim_clock.advance(2.0)
    done = status()
    assert done.status_code == 200 and done.json()["status"] == "COMPLETED"
    assert missing(recorded("status_completed"), done.json()) == []

    result = client.get(path_of(sub["response_url"]), headers=auth())
    assert result.status_code == 200, result.content
    assert missing(recorded("result_flux_2"), result.json()) == []


def test_the_simulators_errors_carry_fals_detail_shapes(client: Client, simulator: None) -> None:
    early = client.post("/_sim/fal/fal-ai/flux-2", data=json.dumps({"prompt": "a fox"}),
                        content_type="application/json", headers=auth()).json()
    not_yet = client.get(path_of(early["response_url"]), headers=auth())
    assert not_yet.status_code == 400
    assert missing(recorded("error_detail_string"), not_yet.json()) == []
    assert isinstance(not_yet.json()["detail"], str)

    invalid = client.post("/_sim/fal/fal-ai/flux-2", data=json.dumps({"num_images": 9}),
                          content_type="application/json", headers=auth())
    assert invalid.status_code == 422
    items = recorded("error_detail_list")["detail"]
    common = set.intersection(*(set(item) for item in items))  # loc, msg, type
    assert all(common <= set(item) for item in invalid.json()["detail"]), invalid.json()

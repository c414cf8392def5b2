"""The Stability AI client (Stable Image generate, v2beta): against response bodies recorded
from Stability's API reference (fixtures/stability/, served by httpx.MockTransport), and
through real HTTP against the simulator served by the live ASGI site. A parity test keeps the
simulator's bodies carrying every key the recorded ones carry."""

import base64
import io
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from PIL import Image

from executions.engine.contracts import NodeFailure
from executions.providers import stability as client_module
from executions.providers.credentials import simulator_key
from executions.providers.errors import ProviderError
from executions.providers.stability import StabilityClient, endpoint_of
from executions.simulators import stability as simulator
from executions.simulators.state import key_fingerprint

from .provider_fakes import recorder, replying, sync

BASE = "https://api.stability.ai"
recorded = recorder("stability")


def mocked(handler: Callable[[httpx.Request], httpx.Response]) -> StabilityClient:
    return StabilityClient(BASE, "sk-stab", http=httpx.AsyncClient(
        transport=httpx.MockTransport(handler)))


def answering(status: int, body: Any, headers: dict[str, str] | None = None,
              seen: list[httpx.Request] | None = None) -> StabilityClient:
    return mocked(replying(status, body, headers, seen))


def generate(client: StabilityClient, prompt: str = "a lighthouse at dusk",
             **options: Any) -> Any:
    return sync(client.generate(prompt=prompt, **{"model": "core", **options}))


def form_of(request: httpx.Request) -> dict[str, str]:
    """The multipart body's fields, read with the stdlib's email parser."""
    from email.parser import BytesParser
    from email.policy import HTTP

    raw = (f"content-type: {request.headers['content-type']}\r\n\r\n").encode() + \
        request.content
    message = BytesParser(policy=HTTP).parsebytes(raw)
    return {str(part.get_param("name", header="content-disposition")):
            bytes(part.get_payload(decode=True)).decode() for part in message.iter_parts()}


# --- Recorded bodies ----------------------------------------------------------------------

def test_core_posts_a_multipart_form_with_the_key_and_reads_the_image() -> None:
    seen: list[httpx.Request] = []

    image = generate(answering(200, recorded("generate"), seen=seen), negative_prompt="fog",
                     aspect_ratio="16:9", seed=42, output_format="webp",
                     style_preset="cinematic")

    [request] = seen
    assert (request.method, str(request.url)) == (
        "POST", f"{BASE}/v2beta/stable-image/generate/core")
    assert request.headers["authorization"] == "Bearer sk-stab"
    assert request.headers["accept"] == "application/json"
    assert request.headers["content-type"].startswith("multipart/form-data")
    assert form_of(request) == {"prompt": "a lighthouse at dusk", "aspect_ratio": "16:9",
                                "seed": "42", "output_format": "webp",
                                "negative_prompt": "fog", "style_preset": "cinematic"}
    assert image.content == base64.b64decode(recorded("generate")["image"])
    assert Image.open(io.BytesIO(image.content)).size == (4, 3)
    assert (image.seed, image.finish_reason, image.simulated) == (343940597, "SUCCESS", False)


def test_sd3_models_go_to_the_sd3_endpoint_naming_the_model() -> None:
    seen: list[httpx.Request] = []
    generate(answering(200, recorded("generate"), seen=seen), model="sd3.5-large")
    assert str(seen[0].url).endswith("/v2beta/stable-image/generate/sd3")
    assert form_of(seen[0])["model"] == "sd3.5-large"
    assert (endpoint_of("ultra"), endpoint_of("sd3.5-medium")) == ("ultra", "sd3")
    with pytest.raises(ValueError, match="not a Stability image model"):
        endpoint_of("dall-e-3")


def test_a_filtered_image_fails_the_node() -> None:
    with pytest.raises(NodeFailure, match="CONTENT_FILTERED"):
        generate(answering(200, recorded("generate_filtered")))


@pytest.mark.parametrize(("status", "name", "retryable"), [
    (400, "error_bad_request", False), (403, "error_content_moderation", False),
    (413, "error_payload_too_large", False), (422, "error_invalid_language", False),
    (429, "error_rate_limit", True), (500, "error_internal", True)])
def test_errors_carry_stabilitys_name_and_errors(status: int, name: str,
                                                 retryable: bool) -> None:
    body = recorded(name)
    headers = {"retry-after": "60"} if status == 429 else None
    with pytest.raises(ProviderError) as caught:
        generate(answering(status, body, headers))
    error = caught.value
    assert error.message == f"{body['name']}: {body['errors'][0]}"
    assert (error.http_status, error.retryable) == (status, retryable)
    assert error.retry_after == (60.0 if status == 429 else None)


def test_an_answer_beyond_the_bound_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(client_module, "MAX_ANSWER_BYTES", 100)
    with pytest.raises(ProviderError, match="more than 100 bytes"):
        generate(answering(200, recorded("generate")))


def test_an_answer_without_an_image_is_a_provider_error() -> None:
    with pytest.raises(ProviderError, match="without an image"):
        generate(answering(200, {"finish_reason": "SUCCESS", "seed": 1}))
    with pytest.raises(ProviderError, match="not base64"):
        generate(answering(200, {"image": "%%%", "finish_reason": "SUCCESS", "seed": 1}))


def test_a_timeout_is_retryable() -> None:
    def slow(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("timed out", request=request)

    with pytest.raises(ProviderError, match="in time") as caught:
        generate(mocked(slow))
    assert caught.value.retryable


# --- The simulator over real HTTP ----------------------------------------------------------

@pytest.fixture
def sim(live_site: str, settings: Any) -> Iterator[StabilityClient]:
    settings.SIM_DEFAULT_LATENCY = 0
    settings.SIM_IMAGE_SCALE = 0.25
    simulator.tally.reset()
    yield StabilityClient(f"{live_site}/_sim/stability", simulator_key("stability"),
                          timeout=60)
    simulator.tally.reset()


@pytest.mark.parametrize(("aspect_ratio", "size"), [("1:1", (256, 256)), ("16:9", (336, 192)),
                                                    ("9:21", (160, 384))])
@pytest.mark.parametrize("fmt", ["png", "jpeg", "webp"])
def test_the_simulator_draws_a_real_image_of_the_shape_and_format_asked(
        sim: StabilityClient, aspect_ratio: str, size: tuple[int, int], fmt: str) -> None:
    image = generate(sim, aspect_ratio=aspect_ratio, output_format=fmt, seed=7)
    opened = Image.open(io.BytesIO(image.content))
    assert (opened.format, opened.size) == ({"png": "PNG", "jpeg": "JPEG",
                                             "webp": "WEBP"}[fmt], size)
    assert (image.seed, image.finish_reason, image.simulated) == (7, "SUCCESS", True)


def test_seed_0_is_a_random_seed_and_a_seed_repeats_the_image(sim: StabilityClient) -> None:
    first, second = generate(sim, seed=0), generate(sim, seed=0)
    assert first.seed > 0 and second.seed > 0
    assert generate(sim, seed=5).content == generate(sim, seed=5).content


def test_the_simulator_takes_sd3_models_and_refuses_webp_for_them(sim: StabilityClient) -> None:
    assert generate(sim, model="sd3.5-medium").content
    with pytest.raises(ProviderError, match="output_format") as caught:
        generate(sim, model="sd3.5-medium", output_format="webp")
    assert (caught.value.http_status, caught.value.retryable) == (400, False)


def test_the_simulator_answers_raw_bytes_to_accept_image(sim: StabilityClient,
                                                         live_site: str) -> None:
    answer = httpx.post(f"{live_site}/_sim/stability/v2beta/stable-image/generate/core",
                        headers={"authorization": f"Bearer {simulator_key('stability')}",
                                 "accept": "image/*"},
                        files={"prompt": (None, "a cat"), "seed": (None, "9")}, timeout=30)
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "image/png"
    assert (answer.headers["finish-reason"], answer.headers["seed"]) == ("SUCCESS", "9")
    assert Image.open(io.BytesIO(answer.content)).format == "PNG"


def test_a_filter_directive_answers_content_filtered(sim: StabilityClient) -> None:
    with pytest.raises(NodeFailure, match="CONTENT_FILTERED"):
        generate(sim, prompt="something [sim filtered]")


def test_fail_429_twice_answers_rate_limited_with_retry_after_then_draws(
        sim: StabilityClient) -> None:
    prompt = "a busy day [sim fail=429x2]"
    for _ in range(2):
        with pytest.raises(ProviderError) as caught:
            generate(sim, prompt=prompt, seed=3)
        assert (caught.value.http_status, caught.value.retryable, caught.value.retry_after) == (
            429, True, 1.0)
    assert generate(sim, prompt=prompt, seed=3).content
    assert simulator.tally.stats() | {"lastKey": None} == {"generations": 1, "refused": 2,
                                                           "lastKey": None}


@pytest.mark.parametrize(("directive", "status", "name", "retryable"), [
    ("[sim fail=400]", 400, "bad_request", False),
    ("[sim fail=403]", 403, "content_moderation", False),
    ("[sim fail=500]", 500, "internal_error", True)])
def test_failure_directives_answer_stabilitys_errors(sim: StabilityClient, directive: str,
                                                     status: int, name: str,
                                                     retryable: bool) -> None:
    with pytest.raises(ProviderError) as caught:
        generate(sim, prompt=f"a fox {directive}")
    assert caught.value.message.startswith(f"{name}: ")
    assert (caught.value.http_status, caught.value.retryable) == (status, retryable)
    assert simulator.tally.stats()["generations"] == 0


def test_a_latency_directive_makes_the_answer_wait(sim: StabilityClient) -> None:
    started = time.monotonic()
    generate(sim, prompt="slow [sim latency=1s]")
    assert time.monotonic() - started >= 1.0


def test_the_simulator_wants_its_key_and_records_whose_key_drew(sim: StabilityClient,
                                                                live_site: str) -> None:
    wrong = StabilityClient(f"{live_site}/_sim/stability", "sk-wrong-key", timeout=30)
    with pytest.raises(ProviderError, match="unauthorized") as caught:
        generate(wrong)
    assert (caught.value.http_status, caught.value.retryable) == (401, False)

    generate(sim)
    fingerprint = key_fingerprint(simulator_key("stability"))
    assert simulator.tally.stats(fingerprint) == {"generations": 1, "refused": 0,
                                                  "byKey": {fingerprint: 1},
                                                  "lastKey": fingerprint}


def test_the_simulators_bodies_carry_every_key_of_stabilitys(sim: StabilityClient,
                                                             live_site: str) -> None:
    url = f"{live_site}/_sim/stability/v2beta/stable-image/generate/core"
    headers = {"authorization": f"Bearer {simulator_key('stability')}",
               "accept": "application/json"}

    def post(prompt: str, key_headers: dict[str, str] = headers) -> httpx.Response:
        return httpx.post(url, headers=key_headers, files={"prompt": (None, prompt)},
                          timeout=30)

    answers = {"generate": post("a fox"), "error_bad_request": post(""),
               "error_content_moderation": post("x [sim fail=403]"),
               "error_rate_limit": post("x [sim fail=429]"),
               "error_internal": post("x [sim fail=500]")}
    for name, answer in answers.items():
        assert set(recorded(name)) <= set(answer.json()), name
        assert type(answer.json().get("errors", [])) is list
    assert answers["error_bad_request"].json()["errors"] == ["prompt: cannot be empty"]
    assert set(recorded("error_bad_request")) <= set(
        post("a fox", {"accept": "application/json"}).json())


def test_nothing_is_answered_while_the_simulators_are_off(sim: StabilityClient,
                                                          settings: Any) -> None:
    settings.SIMULATORS_ENABLED = False
    with pytest.raises(ProviderError) as caught:
        generate(sim)
    assert caught.value.http_status == 404
    settings.SIMULATORS_ENABLED = True
    assert simulator.tally.stats()["generations"] == 0

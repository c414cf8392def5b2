"""The named fal model nodes (every node type declaring a `fal_model_id`), called directly
through their executor (no database, no worker): the input JSON sent to fal, the model it goes
to, fal's output turned into ports, and the credits a run is charged. Every test runs over the
catalogue's fal node types, with what it expects read from their declarations; fal's own answers
are the recorded bodies of tests/executions/fixtures/fal/, served through httpx.MockTransport.
Through the engine and the simulator: tests/engine/ (test_credits_engine.py for charges,
test_provider_keys_engine.py for team keys)."""

import asyncio
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from executions.engine.contracts import NodeContext, NodeFailure, RemoteJob, remote
from executions.executors import executor_for
from executions.executors.fal import FalModelExecutor
from executions.providers.credentials import Credentials, Source
from workflows.nodes import catalogue
from workflows.nodes.registry import BaseParams

SITE = "https://wireflow.example"
FAL = "https://queue.fal.run"
FIXTURES = Path(__file__).parents[1] / "executions" / "fixtures" / "fal"
COMMON_PARAMS = frozenset(BaseParams.model_fields)
FAL_NODE_TYPES = sorted(nt.node_type for nt in catalogue.values() if nt.fal_model_id)

# Media as a run holds them: uploads are paths on this site, fal needs whole URLs.
UPLOAD = "/media/uploads/fox.png"
NODE_IMAGE = "/media/nodes/hare.png"
SPEECH = "/media/uploads/speech.wav"
ELSEWHERE = "https://cdn.example/owl.png"
MEDIA_PARAMS = ("image_url", "image_urls", "audio_url")
SENT = {UPLOAD: f"{SITE}{UPLOAD}", NODE_IMAGE: f"{SITE}{NODE_IMAGE}",
        SPEECH: f"{SITE}{SPEECH}", ELSEWHERE: ELSEWHERE}

# Params a user sets on each fal node type; every fal node type must have its own here
# (test_every_fal_node_type_has_its_params_here), so a new one is tested from the start.
SAMPLES: dict[str, dict[str, Any]] = {
    "generate:flux_2": {"prompt": "/imagine a red fox", "num_images": 2, "seed": 42,
                        "image_size": "square_hd"},
    "edit:flux_2_edit": {"prompt": "make it snow", "image_urls": [UPLOAD, ELSEWHERE],
                         "output_format": "webp"},
    "generate:imagen4": {"prompt": "a red fox", "aspect_ratio": "16:9", "num_images": 4},
    "generate:nano_banana_pro": {"prompt": "a red fox", "resolution": "2K"},
    "video:kling_video_2_5_i2v": {"prompt": "the fox runs", "image_url": NODE_IMAGE,
                                  "duration": "10"},
    "talking:veed_fabric": {"image_url": ELSEWHERE, "audio_url": SPEECH, "resolution": "480p"},
    "upscale:crystal_upscaler": {"image_url": UPLOAD, "scale_factor": 4},
}

VIDEO_URL = "https://v3.fal.media/files/fox/clip.mp4"
IMAGE_URLS = ["https://v3.fal.media/files/fox/1.png", "https://v3.fal.media/files/fox/2.png"]
# What fal delivers for each shape of outputs (the declared output port ids), and its ports.
DELIVERIES: dict[tuple[str, ...], tuple[dict[str, Any], dict[str, Any]]] = {
    ("image", "images"): (
        {"images": [{"url": url, "width": 1024, "height": 768, "content_type": "image/png"}
                    for url in IMAGE_URLS], "seed": 7},
        {"image": IMAGE_URLS[0], "images": IMAGE_URLS}),
    ("video",): (
        {"video": {"url": VIDEO_URL, "content_type": "video/mp4", "file_size": 123456}},
        {"video": VIDEO_URL}),
}
# An output of each credit unit and how many units it holds, whatever the params asked for:
# a run is charged for what the model delivered.
CHARGED: dict[str, tuple[dict[str, Any], float]] = {
    "image": ({"images": [{"url": url} for url in IMAGE_URLS * 2][:3]}, 3.0),
    "megapixel": ({"images": [{"url": IMAGE_URLS[0], "width": 2000, "height": 1500},
                              {"url": IMAGE_URLS[1], "width": 1000, "height": 1000}]}, 4.0),
    "second": ({"video": {"url": VIDEO_URL, "duration": 7.5}}, 7.5),
}


@pytest.fixture(autouse=True)
def site(settings: Any) -> None:
    settings.SITE_URL = SITE


def recorded(name: str) -> Any:
    return json.loads((FIXTURES / f"{name}.json").read_text())


def executor(node_type: str) -> FalModelExecutor:
    found = executor_for(node_type)
    assert isinstance(found, FalModelExecutor), node_type
    return found


def key(source: Source = "platform") -> Credentials:
    return Credentials("fal-key-1", FAL, source)


def context(node_type: str, params: dict[str, Any] | None = None,
            credentials: Credentials | None = None) -> NodeContext:
    values = SAMPLES[node_type] if params is None else params
    return NodeContext(execution_id="e", team_id=0, node_id="n", node_type=node_type,
                       label="n", params=catalogue[node_type].params.model_validate(values),
                       inputs={}, input_labels={}, credentials=credentials or key())


def sent(value: Any) -> Any:
    """A media value as fal must receive it."""
    return [SENT[item] for item in value] if isinstance(value, list) else SENT[value]


def default_of(node_type: str, name: str) -> Any:
    return catalogue[node_type].params.model_fields[name].get_default(call_default_factory=True)


def output_shape(node_type: str) -> tuple[str, ...]:
    return tuple(port.id for port in catalogue[node_type].outputs)


Handler = Callable[[httpx.Request], httpx.Response]


def fal_answers(monkeypatch: pytest.MonkeyPatch, handler: Handler) -> list[httpx.Request]:
    """Every HTTP call the fal client makes goes to `handler`; the requests, in order."""
    seen: list[httpx.Request] = []
    real = httpx.AsyncClient

    def record(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return handler(request)

    monkeypatch.setattr(httpx, "AsyncClient",
                        lambda **kw: real(transport=httpx.MockTransport(record)))
    return seen


def test_every_fal_node_type_has_its_params_here() -> None:
    assert sorted(SAMPLES) == FAL_NODE_TYPES
    assert {output_shape(t) for t in FAL_NODE_TYPES} == set(DELIVERIES)
    assert {catalogue[t].credit_unit for t in FAL_NODE_TYPES} == set(CHARGED)


@pytest.mark.parametrize("node_type", FAL_NODE_TYPES)
def test_the_executor_is_configured_from_the_declaration(node_type: str) -> None:
    spec, fal = catalogue[node_type], executor(node_type)
    assert (fal.model_id, fal.edit_model_id, fal.price, fal.unit) == (
        spec.fal_model_id, spec.fal_edit_model_id, spec.credits, spec.credit_unit)
    assert fal.kind == "remote" and spec.provider == "fal"
    assert fal.output == ("video" if output_shape(node_type) == ("video",) else "images")


# --- The input sent to fal ----------------------------------------------------------------------

@pytest.mark.parametrize("node_type", FAL_NODE_TYPES)
def test_the_params_are_sent_as_fal_names_them_without_the_common_ones(node_type: str) -> None:
    sample = SAMPLES[node_type]
    body = executor(node_type).payload(context(node_type, {
        **sample, "retries": 0, "timeoutSeconds": 120, "continueOnError": True,
        "uiHint": {"collapsed": True}}))
    own = set(catalogue[node_type].params.model_fields) - COMMON_PARAMS
    unset = {name for name in own - set(sample) if default_of(node_type, name) in (None, "")}
    assert set(body) == own - unset  # no common param, no editor hint, nothing left empty
    for name in own - unset:
        given = sample.get(name, default_of(node_type, name))
        assert body[name] == (sent(given) if name in MEDIA_PARAMS else given), name


@pytest.mark.parametrize("node_type", FAL_NODE_TYPES)
def test_unset_media_and_a_seed_left_random_are_not_sent(node_type: str) -> None:
    sample = {name: value for name, value in SAMPLES[node_type].items()
              if name not in ("image_url", "audio_url", "seed", "prompt")}
    body = executor(node_type).payload(context(node_type, {**sample, "prompt": ""}))
    assert not {"image_url", "audio_url", "seed", "prompt"} & set(body)


def test_only_media_are_made_absolute() -> None:
    body = executor("generate:flux_2").payload(context("generate:flux_2"))
    assert body["prompt"] == "/imagine a red fox"


@pytest.mark.parametrize("node_type", FAL_NODE_TYPES)
def test_the_simulator_directive_is_sent_only_while_the_simulators_are_on(
        node_type: str, settings: Any) -> None:
    params = {**SAMPLES[node_type], "simulate": "[sim fail=500]"}
    settings.SIMULATORS_ENABLED = True
    assert executor(node_type).payload(context(node_type, params))["simulate"] == "[sim fail=500]"
    settings.SIMULATORS_ENABLED = False
    assert "simulate" not in executor(node_type).payload(context(node_type, params))


def test_kling_takes_its_duration_as_a_number_and_sends_it_as_text() -> None:
    params = {**SAMPLES["video:kling_video_2_5_i2v"], "duration": 5}
    body = executor("video:kling_video_2_5_i2v").payload(
        context("video:kling_video_2_5_i2v", params))
    assert body["duration"] == "5"


# --- The model it goes to -----------------------------------------------------------------------

@pytest.mark.parametrize("node_type", FAL_NODE_TYPES)
def test_the_model_is_the_declared_one_or_its_edit_model_when_images_are_given(
        node_type: str) -> None:
    spec, fal = catalogue[node_type], executor(node_type)
    body = {k: v for k, v in fal.payload(context(node_type)).items() if k != "image_urls"}
    assert fal.model_for(body) == spec.fal_model_id
    assert fal.model_for({**body, "image_urls": []}) == spec.fal_model_id
    assert fal.model_for({**body, "image_urls": [sent(UPLOAD)]}) == (
        spec.fal_edit_model_id or spec.fal_model_id)


def test_nano_banana_pro_edits_with_its_edit_model() -> None:
    """The catalogue's one node type with an edit model: the case above is not vacuous."""
    assert [t for t in FAL_NODE_TYPES if catalogue[t].fal_edit_model_id] == [
        "generate:nano_banana_pro"]
    spec, fal = catalogue["generate:nano_banana_pro"], executor("generate:nano_banana_pro")
    edit = context("generate:nano_banana_pro", {"prompt": "add a hat",
                                                "image_urls": [UPLOAD, ELSEWHERE]})
    assert fal.payload(edit)["image_urls"] == [SENT[UPLOAD], ELSEWHERE]
    assert fal.model_for(fal.payload(edit)) == spec.fal_edit_model_id
    assert fal.model_for(fal.payload(context("generate:nano_banana_pro"))) == spec.fal_model_id


@pytest.mark.parametrize(("node_type", "params"), [
    *[(t, None) for t in FAL_NODE_TYPES],
    ("generate:nano_banana_pro", {"prompt": "add a hat", "image_urls": [UPLOAD]}),
])
def test_the_job_is_submitted_to_its_model_on_the_node_s_key(
        node_type: str, params: dict[str, Any] | None, monkeypatch: pytest.MonkeyPatch) -> None:
    seen = fal_answers(monkeypatch, lambda request: httpx.Response(200, json=recorded("submit")))
    spec, fal = catalogue[node_type], executor(node_type)
    ctx = context(node_type, params, credentials=Credentials("team-key", FAL, "team"))
    images_given = bool((SAMPLES[node_type] if params is None else params).get("image_urls"))
    model = (spec.fal_edit_model_id if images_given else None) or spec.fal_model_id
    job = asyncio.run(remote(fal).submit(ctx))
    answer = recorded("submit")
    assert (job.request_id, job.urls["status"], job.urls["response"], job.urls["cancel"]) == (
        answer["request_id"], answer["status_url"], answer["response_url"],
        answer["cancel_url"])
    [request] = seen
    assert request.method == "POST"
    assert str(request.url) == f"{FAL}/{model}"
    assert request.headers["Authorization"] == "Key team-key"
    assert json.loads(request.content) == fal.payload(ctx)


# --- fal's output as ports ----------------------------------------------------------------------

@pytest.mark.parametrize("node_type", FAL_NODE_TYPES)
def test_the_output_becomes_the_declared_ports(node_type: str) -> None:
    output, ports = DELIVERIES[output_shape(node_type)]
    assert executor(node_type).ports(output) == ports
    assert list(ports) == list(output_shape(node_type))


@pytest.mark.parametrize("node_type", FAL_NODE_TYPES)
def test_an_output_without_media_fails_the_node(node_type: str) -> None:
    fal = executor(node_type)
    message = "without a video URL" if fal.output == "video" else "without images"
    outputs: list[dict[str, Any]] = [
        {}, {"images": []}, {"images": [{"url": None}, "x"]}, {"video": {}},
        {"video": "https://v3.fal.media/x.mp4"}, {"video": {"url": 3}}]
    for output in outputs:
        with pytest.raises(NodeFailure, match=message):
            fal.ports(output)


def test_images_without_a_url_are_left_out_and_the_first_good_one_is_the_image() -> None:
    output = {"images": [{"width": 1}, "junk", {"url": 5}, {"url": IMAGE_URLS[1]},
                         {"url": IMAGE_URLS[0]}]}
    assert executor("generate:flux_2").ports(output) == {
        "image": IMAGE_URLS[1], "images": [IMAGE_URLS[1], IMAGE_URLS[0]]}


@pytest.mark.parametrize("node_type", FAL_NODE_TYPES)
def test_a_delivered_result_gives_ports_output_and_charge(node_type: str) -> None:
    output, ports = DELIVERIES[output_shape(node_type)]
    fal = executor(node_type)
    job = RemoteJob(request_id="r1", delivered={"request_id": "r1", "status": "OK",
                                                "payload": output})
    result = asyncio.run(remote(fal).fetch(context(node_type), job))
    assert (result.ports, result.output) == (ports, output)
    assert result.credits == fal.credits(context(node_type), output) > 0


def test_the_recorded_flux_2_result_is_fetched_and_charged_one_image(
        monkeypatch: pytest.MonkeyPatch) -> None:
    body = recorded("result_flux_2")
    seen = fal_answers(monkeypatch, lambda request: httpx.Response(200, json=body))
    job = RemoteJob(request_id="r1", urls={"response": recorded("submit")["response_url"]})
    result = asyncio.run(remote(executor("generate:flux_2")).fetch(
        context("generate:flux_2"), job))
    [request] = seen
    assert str(request.url) == recorded("submit")["response_url"]
    url = body["images"][0]["url"]
    assert result.ports == {"image": url, "images": [url]} and result.output == body
    assert result.credits == catalogue["generate:flux_2"].credits * len(body["images"])


# --- Credits ------------------------------------------------------------------------------------

@pytest.mark.parametrize("node_type", FAL_NODE_TYPES)
def test_a_run_is_charged_the_declared_price_per_unit_delivered(node_type: str) -> None:
    spec = catalogue[node_type]
    output, units = CHARGED[spec.credit_unit]
    assert executor(node_type).credits(context(node_type), output) == pytest.approx(
        spec.credits * units)


@pytest.mark.parametrize("node_type", FAL_NODE_TYPES)
def test_a_run_on_the_team_s_own_key_is_charged_nothing(node_type: str) -> None:
    output, _ = CHARGED[catalogue[node_type].credit_unit]
    assert executor(node_type).credits(context(node_type, credentials=key("team")), output) == 0


@pytest.mark.parametrize("node_type", [t for t in FAL_NODE_TYPES
                                       if catalogue[t].credit_unit == "image"])
def test_images_are_counted_as_delivered_not_as_asked(node_type: str) -> None:
    spec, fal = catalogue[node_type], executor(node_type)
    ctx = context(node_type, {**SAMPLES[node_type], "num_images": 4})
    assert fal.credits(ctx, {"images": [{"url": IMAGE_URLS[0]}]}) == spec.credits
    assert fal.credits(ctx, {"images": []}) == 0


@pytest.mark.parametrize("node_type", [t for t in FAL_NODE_TYPES
                                       if catalogue[t].credit_unit == "megapixel"])
def test_megapixels_are_the_delivered_images_width_times_height(node_type: str) -> None:
    spec, fal, ctx = catalogue[node_type], executor(node_type), context(node_type)
    assert fal.credits(ctx, {"images": [{"url": "u", "width": 4000, "height": 3000}]}) == \
        pytest.approx(spec.credits * 12)
    assert fal.credits(ctx, {"images": [{"url": "u", "width": 500, "height": 500}]}) == \
        pytest.approx(spec.credits * 0.25)
    assert fal.credits(ctx, {"images": [{"url": "u"}, {"url": "v", "width": 1000,
                                                       "height": None}]}) == 0


@pytest.mark.parametrize("node_type", [t for t in FAL_NODE_TYPES
                                       if catalogue[t].credit_unit == "second"])
def test_seconds_are_the_video_s_duration_else_what_the_params_say(node_type: str) -> None:
    spec, fal, ctx = catalogue[node_type], executor(node_type), context(node_type)
    video = {"url": VIDEO_URL}
    assert fal.credits(ctx, {"video": {**video, "duration": "6"}}) == pytest.approx(
        spec.credits * 6)
    assert fal.credits(ctx, {"video": {**video, "duration": "n/a"}, "duration": 4}) == \
        pytest.approx(spec.credits * 4)
    declared_units = spec.params.model_validate(SAMPLES[node_type]).billable_units()
    assert fal.credits(ctx, {"video": video}) == pytest.approx(spec.credits * declared_units)

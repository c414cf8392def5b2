"""The fal:custom node: its endpoint and input checks, placeholder filling, the output mapping by
JSON path, where it submits and what it costs. Its runs through the engine and the simulator:
tests/engine/test_fal_custom_engine.py; fal's own bodies: tests/executions/test_fal_contract.py."""

import asyncio
import json
from typing import Any

import httpx
import pytest
from pydantic import ValidationError

from executions.engine.contracts import NodeContext, NodeFailure, RemoteJob, remote
from executions.executors import executor_for
from executions.executors.fal_custom import fal_input, map_output
from executions.providers.credentials import Credentials
from workflows.nodes import catalogue, catalogue_entry
from workflows.nodes.fal_custom import MAX_ENDPOINT_LENGTH, MAX_INPUT_DEPTH, FalCustomParams

NODE = "fal:custom"
SUBMIT_ANSWER = {"request_id": "r1", "status_url": "https://queue.fal.run/o/a/requests/r1/status",
                 "response_url": "https://queue.fal.run/o/a/requests/r1",
                 "cancel_url": "https://queue.fal.run/o/a/requests/r1/cancel"}


def params(**values: Any) -> FalCustomParams:
    return FalCustomParams.model_validate({"endpoint": "fal-ai/some-model", **values})


def context(values: dict[str, Any], inputs: dict[str, Any] | None = None,
            labels: dict[str, list[str]] | None = None,
            credentials: Credentials | None = None) -> NodeContext:
    return NodeContext(execution_id="e", team_id=0, node_id="n", node_type=NODE, label="n",
                       params=params(**values), inputs=inputs or {},
                       input_labels=labels or {}, credentials=credentials)


def invalid(**values: Any) -> str:
    with pytest.raises(ValidationError) as caught:
        FalCustomParams.model_validate(values)
    return str(caught.value)


# --- The catalogue entry -------------------------------------------------------------------

def test_the_node_is_a_fal_model_priced_per_run_with_its_ports() -> None:
    spec = catalogue[NODE]
    entry = catalogue_entry(spec)
    assert (entry["category"], entry["credits"], entry["creditUnit"]) == ("model", 5.0, "run")
    assert [(p["id"], p["type"], p["multiple"]) for p in entry["inputs"]] == [
        ("prompt", "TEXT", False), ("image_url", "IMAGE", False), ("vars", "ANY", True)]
    assert [p["id"] for p in entry["outputs"]] == ["image", "images", "video", "audio", "text",
                                                   "json"]
    assert spec.provider == "fal"  # the team's fal key runs it
    assert spec.estimate_credits({"endpoint": "fal-ai/x"}) == 5.0
    assert spec.estimate_credits({"endpoint": "not valid"}) == 5.0  # the bound holds anyway
    properties = entry["paramsSchema"]["properties"]
    assert properties["image_path"]["default"] == "images[0].url"
    assert properties["video_path"]["default"] == "video.url"


# --- Params --------------------------------------------------------------------------------

@pytest.mark.parametrize("endpoint", ["fal-ai/flux/dev", "fal-ai/flux-2", "veed/fabric-1.0",
                                      "fal-ai/kling-video/v2.5-turbo/pro/image-to-video",
                                      "Owner_1/app.v2"])
def test_fal_endpoint_ids_are_accepted(endpoint: str) -> None:
    assert params(endpoint=endpoint).endpoint == endpoint


@pytest.mark.parametrize("endpoint", [
    "https://evil.com/x", "http://127.0.0.1/x", "//evil.com/x", "../x", "fal-ai/../x",
    "fal-ai/x/..", "a b", "fal-ai/a b", "fal-ai", "", "/fal-ai/x", "fal-ai/x/", "fal-ai//x",
    "fal-ai/x?y=1", "fal-ai/x#y", "fal-ai/x%2F..", "evil.com:80/x", "fal-ai/x\n",
    "a/b/c/d/e/f/g/h/i",
])
def test_anything_but_a_bounded_endpoint_id_is_refused(endpoint: str) -> None:
    assert "endpoint" in invalid(endpoint=endpoint)


def test_a_very_long_endpoint_is_refused_quickly() -> None:
    assert "at most 200 characters" in invalid(endpoint="a/" + "b" * 10_000)
    assert "endpoint" in invalid(endpoint="/".join(["a" * 99] * 3)[:MAX_ENDPOINT_LENGTH + 1])


def test_the_input_may_be_an_object_or_json_text_of_one() -> None:
    assert params(input='{"num_images": 2}').input == {"num_images": 2}
    assert params(input="").input == {}
    assert "must be a JSON object" in invalid(endpoint="a/b", input="{not json")
    assert "dictionary" in invalid(endpoint="a/b", input="[1, 2]")
    deep: Any = "x"
    for _ in range(MAX_INPUT_DEPTH + 1):
        deep = {"a": deep}
    assert "nests deeper" in invalid(endpoint="a/b", input=deep)
    assert "at most" in invalid(endpoint="a/b", input={"text": "x" * 200_000})


def test_output_paths_must_be_json_paths() -> None:
    assert params(text_path="$.choices[0]['text']").text_path == "$.choices[0]['text']"
    assert "JSON path" in invalid(endpoint="a/b", image_path="images[")
    assert "JSON path" in invalid(endpoint="a/b", text_path="a..b")


# --- Filling the input ---------------------------------------------------------------------

def test_placeholders_are_filled_from_the_ports_and_the_values_by_label() -> None:
    # A connected prompt arrives in the params (a port overrides the param of its name).
    ctx = context({"prompt": "a fox",
                   "input": {"prompt": "{{prompt}}, in the style of {{Style}}",
                             "num_images": "{{count}}", "tags": ["{{style}}"],
                             "keep": "{{unknown}}"}},
                  inputs={"prompt": "a fox", "vars": ["watercolour", 2.0]},
                  labels={"vars": ["Style", "Count"]})
    assert fal_input(ctx) == {"prompt": "a fox, in the style of watercolour", "num_images": 2,
                              "tags": ["watercolour"], "keep": "{{unknown}}"}


def test_the_prompt_and_image_are_added_when_the_input_does_not_place_them(
        settings: Any) -> None:
    settings.SITE_URL = "https://wireflow.example"
    ctx = context({"prompt": "a hare", "image_url": "/media/uploads/a.png",
                   "input": {"strength": 0.5}})
    assert fal_input(ctx) == {"strength": 0.5, "prompt": "a hare",
                              "image_url": "https://wireflow.example/media/uploads/a.png"}
    placed = context({"prompt": "a hare", "input": {"prompt": "x {{prompt}}"}})
    assert fal_input(placed) == {"prompt": "x a hare"}
    assert fal_input(context({})) == {}


# --- The output mapping --------------------------------------------------------------------

def test_the_default_paths_read_fals_image_video_and_audio_shapes() -> None:
    images = {"images": [{"url": "https://f/1.png"}, {"url": "https://f/2.png"}], "seed": 1}
    assert map_output(params(), images) == {"image": "https://f/1.png",
                                            "images": ["https://f/1.png", "https://f/2.png"],
                                            "json": images}
    video = {"video": {"url": "https://f/v.mp4"}}
    assert map_output(params(), video) == {"video": "https://f/v.mp4", "json": video}
    audio = {"audio_file": {"url": "https://f/a.wav"}}
    assert map_output(params(), audio) == {"audio": "https://f/a.wav", "json": audio}


def test_custom_paths_map_the_ports_and_a_path_finding_nothing_leaves_its_port_empty() -> None:
    output = {"result": {"image": "https://f/i.png", "caption": "a fox"}, "n": 3}
    mapped = map_output(params(image_path="$.result.image", text_path="result.caption",
                               video_path="clip.url"), output)
    assert mapped == {"image": "https://f/i.png", "images": ["https://f/i.png"],
                      "text": "a fox", "json": output}
    assert map_output(params(text_path="n"), output)["text"] == "3"


def test_images_lists_every_item_of_the_list_the_image_path_indexes() -> None:
    output = {"data": {"out[0]": [{"file": {"url": "https://f/a.png"}},
                                  {"file": {"url": "https://f/b.png"}}, {"file": None}]}}
    mapped = map_output(params(image_path='$.data["out[0]"][1].file'), output)
    assert mapped["image"] == "https://f/b.png"  # an object with a url is read as its url
    assert mapped["images"] == ["https://f/a.png", "https://f/b.png"]


def test_an_output_where_no_path_finds_anything_fails_quoting_it() -> None:
    with pytest.raises(NodeFailure) as caught:
        map_output(params(), {"weird": "x" * 1000})
    message = str(caught.value)
    assert "images[0].url" in message and "video.url" in message and '{"weird": "xxx' in message
    assert len(message) < 600


# --- Submitting and pricing ----------------------------------------------------------------

def test_the_job_is_submitted_under_the_fal_base_url_whatever_the_params(
        monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[httpx.Request] = []
    real = httpx.AsyncClient

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json=SUBMIT_ANSWER)

    monkeypatch.setattr(httpx, "AsyncClient",
                        lambda **kw: real(transport=httpx.MockTransport(handler)))
    key = Credentials("k-1", "https://queue.fal.run", "platform")
    ctx = context({"endpoint": "fal-ai/flux/dev", "prompt": "a fox",
                   "input": {"url": "https://evil.com/x"}}, credentials=key)
    job = asyncio.run(remote(executor_for(NODE)).submit(ctx))
    assert job.request_id == "r1" and job.urls["status"] == SUBMIT_ANSWER["status_url"]
    [request] = seen
    assert str(request.url) == "https://queue.fal.run/fal-ai/flux/dev"
    assert request.headers["Authorization"] == "Key k-1"
    assert json.loads(request.content) == {"url": "https://evil.com/x", "prompt": "a fox"}


@pytest.mark.parametrize(("source", "credits"), [("platform", 5.0), ("team", 0.0)])
def test_a_run_costs_its_price_on_the_platforms_key_and_nothing_on_the_teams(
        source: str, credits: float) -> None:
    key = Credentials("k", "https://queue.fal.run", source)  # type: ignore[arg-type]
    delivered = {"request_id": "r1", "status": "OK",
                 "payload": {"images": [{"url": "https://f/1.png"}]}}
    result = asyncio.run(remote(executor_for(NODE)).fetch(
        context({}, credentials=key), RemoteJob(request_id="r1", delivered=delivered)))
    assert result.ports["image"] == "https://f/1.png"
    assert result.credits == credits


def test_a_failed_delivery_fails_the_node_with_fals_message() -> None:
    delivered = {"request_id": "r1", "status": "ERROR", "payload": {"detail": "NSFW content"}}
    key = Credentials("k", "https://queue.fal.run", "platform")
    with pytest.raises(NodeFailure, match="NSFW content"):
        asyncio.run(remote(executor_for(NODE)).fetch(
            context({}, credentials=key), RemoteJob(request_id="r1", delivered=delivered)))

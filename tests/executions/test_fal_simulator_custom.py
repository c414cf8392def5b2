"""The fal simulator answers any endpoint id (fal:custom): known ids as their model, other ids
by a word of the id, then by the input's keys, else as an image model with the prompt drawn."""

import io
import json
from collections.abc import Iterator
from typing import Any

import pytest
from django.test import Client
from PIL import Image

from executions.media import open_media_by_url
from executions.simulators.fal_models import (
    ANY_IMAGE,
    AUDIO,
    EDIT,
    IMAGE,
    IMAGE_TO_VIDEO,
    VIDEO,
    family_for,
)

from .conftest import SimClock
from .fal_sim import auth, fresh_fal_simulator, path_of


@pytest.mark.parametrize(("model_id", "payload", "family"), [
    ("fal-ai/flux-2", {"duration": 5}, IMAGE),  # a known id is what it is
    ("fal-ai/some-model", {}, ANY_IMAGE),
    ("fal-ai/some-model", {"prompt": "a video of a fox"}, ANY_IMAGE),  # words in values: no
    ("fal-ai/some-model", {"prompt": "a fox", "video_length": 5}, VIDEO),
    ("fal-ai/some-model", {"prompt": "a fox", "fps": 8}, VIDEO),
    ("fal-ai/some-model", {"text": "hello", "voice": "Aria"}, AUDIO),
    ("fal-ai/some-model", {"audio_format": "wav"}, AUDIO),
    ("fal-ai/some-model", {"image_url": "u", "audio_url": "u"}, ANY_IMAGE),  # inputs only
    ("fal-ai/wan/image-to-video", {"voice": "x"}, IMAGE_TO_VIDEO),  # the id's word first
    ("fal-ai/qwen-image/edit", {}, EDIT),
])
def test_unknown_ids_are_guessed_from_the_id_then_the_input_keys(
        model_id: str, payload: dict[str, Any], family: Any) -> None:
    assert family_for(model_id, payload) is family


@pytest.fixture
def simulator(settings: Any) -> Iterator[None]:
    with fresh_fal_simulator(settings, latency=0.5, image_scale=0.25):
        yield


def run(client: Client, sim_clock: SimClock, model_id: str, payload: Any) -> dict[str, Any]:
    submitted = client.post(f"/_sim/fal/{model_id}", data=json.dumps(payload),
                            content_type="application/json", headers=auth())
    assert submitted.status_code == 200, submitted.content
    sim_clock.advance(10)
    result = client.get(path_of(submitted.json()["response_url"]), headers=auth())
    assert result.status_code == 200, result.content
    return dict(result.json())


def test_an_unknown_endpoint_answers_like_fals_image_models_with_a_png(
        client: Client, simulator: None, sim_clock: SimClock) -> None:
    body = run(client, sim_clock, "someone/anything/v3", {"prompt": "a blue hare",
                                                          "image_size": "square"})
    assert body["simulated"] is True and body["prompt"] == "a blue hare"
    [image] = body["images"]
    assert image["content_type"] == "image/png"
    content = open_media_by_url(image["url"])
    assert content is not None and content.startswith(b"\x89PNG")
    assert Image.open(io.BytesIO(content)).size == (128, 128) == (image["width"], image["height"])


def test_an_unknown_endpoint_asked_for_a_voice_answers_a_wav(
        client: Client, simulator: None, sim_clock: SimClock) -> None:
    body = run(client, sim_clock, "someone/anything-else", {"text": "hello there", "voice": "Aria"})
    assert body["audio"]["content_type"] == "audio/wav"
    content = open_media_by_url(body["audio"]["url"])
    assert content is not None and content.startswith(b"RIFF")


def test_directives_still_work_on_an_unknown_endpoint(client: Client, simulator: None) -> None:
    refused = client.post("/_sim/fal/someone/anything", content_type="application/json",
                          data=json.dumps({"prompt": "a fox [sim fail=400]"}), headers=auth())
    assert refused.status_code == 422
    assert refused.json()["detail"][0]["msg"] == "Simulated validation error ([sim fail=400])"

"""The built-in fal simulator, through the Django test client, plus its directive parser."""

import io
import threading
import wave
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import imageio_ffmpeg
import pytest
from django.test import Client
from PIL import Image
from redis.connection import AbstractConnection

from executions.media import open_media_by_url, save_media
from executions.providers.fal import platform_key
from executions.simulators import state
from executions.simulators.directives import Directives, parse_directives, strip_directives
from executions.simulators.media import render_wav
from executions.simulators.state import payload_key, simulator_stats
from tests.harness import wait_until

from . import provider_fakes
from .conftest import SimClock
from .fal_sim import auth, fresh_fal_simulator, path_of, submit
from .provider_fakes import Inbox


@pytest.fixture(autouse=True)
def fresh_simulator(settings: Any) -> Iterator[None]:
    with fresh_fal_simulator(settings, latency=0.2, image_scale=0.5):
        yield


def poll(client: Client, url: str) -> Any:
    return client.get(path_of(url) + "?logs=1", headers=auth())


def wait_until_done(client: Client, status_url: str) -> dict[str, Any]:
    def done() -> dict[str, Any] | None:
        body = dict(poll(client, status_url).json())
        return body if body["status"] == "COMPLETED" else None

    return wait_until(done, 60, f"{status_url} did not complete")


def run(client: Client, model_id: str, payload: dict[str, Any]) -> dict[str, Any]:
    submitted = submit(client, model_id, payload)
    assert submitted.status_code == 200, submitted.content
    wait_until_done(client, submitted.json()["status_url"])
    result = client.get(path_of(submitted.json()["response_url"]), headers=auth())
    assert result.status_code == 200, result.content
    return dict(result.json())


def download(client: Client, url: str) -> bytes:
    response = client.get(path_of(url))
    assert response.status_code == 200
    return response.getvalue()  # the streamed body, joined


def picture(client: Client, url: str) -> Image.Image:
    return Image.open(io.BytesIO(download(client, url)))


def video_seconds(mp4: bytes, folder: Path) -> float:
    path = folder / "video.mp4"
    path.write_bytes(mp4)
    frames, seconds = imageio_ffmpeg.count_frames_and_secs(str(path))
    assert frames > 0
    return float(seconds)


# --- The directive parser ------------------------------------------------------------------

@pytest.mark.parametrize(("text", "expected"), [
    ("a cat", Directives()),
    ("a cat [sim latency=5s]", Directives(latency=5.0)),
    ("[sim latency=250ms] a cat", Directives(latency=0.25)),
    ("[sim latency=2]", Directives(latency=2.0)),
    ("[sim fail=429x2]", Directives(fail_status=429, fail_times=2)),
    ("[sim fail=500]", Directives(fail_status=500)),
    ("[sim fail=400]", Directives(fail_status=400)),
    ("[sim fail=job]", Directives(fail_job=True)),
    ("[sim hang]", Directives(hang=True)),
    ("[SIM Latency=1S fail=503x1]", Directives(latency=1.0, fail_status=503, fail_times=1)),
    ("[sim latency=2s] and [sim hang]", Directives(latency=2.0, hang=True)),
])
def test_the_directive_parser_reads_each_directive(text: str, expected: Directives) -> None:
    assert parse_directives(text) == expected


@pytest.mark.parametrize("text", ["[sim latency=fast]", "[sim fail=abc]", "[sim fail=200]",
                                  "[sim wobble]", "[simulate hang]", "sim hang"])
def test_the_directive_parser_ignores_what_it_does_not_understand(text: str) -> None:
    assert parse_directives(text) == Directives()


def test_directives_combine_the_prompt_and_the_simulate_field() -> None:
    assert parse_directives("a cat [sim latency=1s]", None, "[sim fail=500]") == \
        Directives(latency=1.0, fail_status=500)


def test_a_fail_count_limits_the_failures_to_the_first_submits() -> None:
    twice, always = Directives(fail_status=429, fail_times=2), Directives(fail_status=500)
    assert [twice.submit_fails(n) for n in (1, 2, 3)] == [True, True, False]
    assert [always.submit_fails(n) for n in (1, 50)] == [True, True]


def test_strip_directives_leaves_the_prompt_text() -> None:
    assert strip_directives("a red [sim latency=2s] fox [sim hang]") == "a red fox"


# --- The queue protocol --------------------------------------------------------------------

def test_submit_answers_urls_that_drop_the_model_sub_path(client: Client) -> None:
    response = submit(client, "fal-ai/flux-2/edit",
                      {"prompt": "a fox", "image_urls": ["http://x.test/a.png"]})

    assert response.status_code == 200
    body = response.json()
    base = f"http://testserver/_sim/fal/fal-ai/flux-2/requests/{body['request_id']}"
    assert body["status_url"] == f"{base}/status"
    assert body["response_url"] == base
    assert body["cancel_url"] == f"{base}/cancel"
    assert body["queue_position"] == 0


def test_a_job_moves_from_queue_to_progress_with_logs_to_completed(client: Client,
                                                                   sim_clock: SimClock) -> None:
    status_url = submit(client, "fal-ai/flux-2",
                        {"prompt": "a fox [sim latency=2s]"}).json()["status_url"]

    queued = poll(client, status_url)
    assert (queued.status_code, queued.json()["status"]) == (202, "IN_QUEUE")
    sim_clock.advance(0.7)  # past the job's 0.4 s in the queue, short of its 2 s
    running = poll(client, status_url)
    assert (running.status_code, running.json()["status"]) == (202, "IN_PROGRESS")
    messages = [log["message"] for log in running.json()["logs"]]
    assert "step 1/10" in messages and "step 10/10" not in messages
    sim_clock.advance(2)
    done = wait_until_done(client, status_url)
    assert "step 10/10" in [log["message"] for log in done["logs"]]
    assert poll(client, status_url).status_code == 200


def test_flux_draws_a_real_png_of_the_requested_size_scaled_by_the_setting(
        client: Client) -> None:
    output = run(client, "fal-ai/flux-2", {"prompt": "a fox", "image_size": "portrait_16_9",
                                           "seed": 7})

    [image] = output["images"]
    assert (image["width"], image["height"], image["content_type"]) == (288, 512, "image/png")
    png = picture(client, image["url"])
    assert (png.format, png.size) == ("PNG", (288, 512))
    assert (output["seed"], output["prompt"], output["simulated"]) == (7, "a fox", True)
    assert image["url"].startswith("http://127.0.0.1:8000/media/sim/")


def test_imagen_sizes_come_from_the_aspect_ratio_and_resolution(client: Client) -> None:
    output = run(client, "fal-ai/imagen4/preview",
                 {"prompt": "a fox", "aspect_ratio": "16:9", "num_images": 2})

    assert [picture(client, image["url"]).size for image in output["images"]] == \
        [(512, 288), (512, 288)]
    assert "a fox" in output["description"]


def test_nano_banana_at_2k_has_a_long_side_of_2048_before_scaling(client: Client) -> None:
    output = run(client, "fal-ai/nano-banana-pro",
                 {"prompt": "a fox", "aspect_ratio": "3:4", "resolution": "2K",
                  "output_format": "jpeg"})

    image = picture(client, output["images"][0]["url"])
    assert (image.format, image.size) == ("JPEG", (768, 1024))


def test_the_same_seed_draws_the_same_picture(client: Client) -> None:
    first, second = (run(client, "fal-ai/flux-2", {"prompt": "fox", "seed": 3,
                                                   "image_size": "square", "n": n})
                     for n in (1, 2))

    assert download(client, first["images"][0]["url"]) == \
        download(client, second["images"][0]["url"])


def test_the_upscaler_multiplies_the_input_size_by_the_scale_factor(client: Client) -> None:
    buffer = io.BytesIO()
    Image.new("RGB", (40, 30), "red").save(buffer, format="PNG")
    source = save_media(buffer.getvalue(), "png", "image/png", folder="test")

    doubled = run(client, "clarityai/crystal-upscaler", {"image_url": source})
    tripled = run(client, "clarityai/crystal-upscaler", {"image_url": source, "scale_factor": 3})

    assert picture(client, doubled["images"][0]["url"]).size == (80, 60)
    assert (doubled["images"][0]["width"], doubled["images"][0]["height"]) == (80, 60)
    assert picture(client, tripled["images"][0]["url"]).size == (120, 90)


def test_an_unreadable_input_fails_the_job_like_fal_does(client: Client) -> None:
    submitted = submit(client, "clarityai/crystal-upscaler",
                       {"image_url": "http://127.0.0.1:9/nothing.png"}).json()

    done = wait_until_done(client, submitted["status_url"])
    result = client.get(path_of(submitted["response_url"]), headers=auth())

    assert done["error_type"] == "file_download_error"
    assert result.status_code == 422
    assert result.json()["detail"][0]["type"] == "file_download_error"


def test_the_video_model_returns_a_real_mp4_of_the_asked_duration(client: Client,
                                                                   tmp_path: Path) -> None:
    buffer = io.BytesIO()
    Image.new("RGB", (64, 36), "blue").save(buffer, format="PNG")
    still = save_media(buffer.getvalue(), "png", "image/png", folder="test")

    output = run(client, "fal-ai/kling-video/v2.5-turbo/pro/image-to-video",
                 {"prompt": "waves", "image_url": still, "duration": "5"})

    assert output["video"]["content_type"] == "video/mp4"
    mp4 = download(client, output["video"]["url"])
    assert len(mp4) == output["video"]["file_size"]
    assert video_seconds(mp4, tmp_path) == pytest.approx(5, abs=0.2)


def test_the_talking_head_model_takes_its_length_from_the_audio(client: Client,
                                                                 tmp_path: Path) -> None:
    buffer = io.BytesIO()
    Image.new("RGB", (48, 48), "green").save(buffer, format="PNG")
    face = save_media(buffer.getvalue(), "png", "image/png", folder="test")
    voice = save_media(render_wav(1.0, seed=1), "wav", "audio/wav", folder="test")

    output = run(client, "veed/fabric-1.0",
                 {"image_url": face, "audio_url": voice, "resolution": "480p"})

    mp4 = download(client, output["video"]["url"])
    assert video_seconds(mp4, tmp_path) == pytest.approx(1.0, abs=0.2)


def test_a_speech_model_returns_a_wav(client: Client) -> None:
    output = run(client, "fal-ai/some-tts", {"text": "hello there", "duration": 1.5})

    with wave.open(io.BytesIO(download(client, output["audio"]["url"]))) as audio:
        assert audio.getnframes() / audio.getframerate() == pytest.approx(1.5)


@pytest.mark.parametrize(("model_id", "payload", "field"), [
    ("fal-ai/flux-2", {"prompt": 5}, "prompt"),
    ("fal-ai/flux-2", {"prompt": "x", "num_images": 99}, "num_images"),
    ("fal-ai/flux-2", {"prompt": "x", "image_size": "huge"}, "image_size"),
    ("fal-ai/imagen4/preview", {"prompt": "x", "aspect_ratio": "wide"}, "aspect_ratio"),
    ("clarityai/crystal-upscaler", {"image_url": "x", "scale_factor": 50}, "scale_factor"),
    ("veed/fabric-1.0", {"image_url": "x", "audio_url": "y", "resolution": "8k"}, "resolution"),
    ("fal-ai/flux-2/edit", {"prompt": "x", "image_urls": []}, "image_urls"),
])
def test_out_of_range_inputs_are_422s_naming_the_field(client: Client, model_id: str,
                                                      payload: dict[str, Any],
                                                      field: str) -> None:
    response = submit(client, model_id, payload)

    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"][:2] == ["body", field]


def test_a_missing_required_field_is_a_fal_style_validation_error(client: Client) -> None:
    response = submit(client, "fal-ai/flux-2", {"image_size": "square"})

    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "prompt"]
    assert simulator_stats()["submissions"] == 0


# --- Injected failures ---------------------------------------------------------------------

def test_fail_429x2_rate_limits_the_first_two_submits_of_that_payload(client: Client) -> None:
    payload = {"prompt": "a fox [sim fail=429x2]"}

    answers = [submit(client, "fal-ai/flux-2", payload) for _ in range(3)]

    assert [answer.status_code for answer in answers] == [429, 429, 200]
    assert [answer.headers.get("Retry-After") for answer in answers[:2]] == ["1", "1"]
    assert "rate limit" in answers[0].json()["detail"]
    assert submit(client, "fal-ai/flux-2", {"prompt": "a cat [sim fail=429x2]"}).status_code \
        == 429


def test_fail_500_answers_500_on_every_submit(client: Client) -> None:
    answers = [submit(client, "fal-ai/flux-2", {"prompt": "[sim fail=500]"}) for _ in range(3)]

    assert {answer.status_code for answer in answers} == {500}
    assert isinstance(answers[0].json()["detail"], str)


def test_fail_400_is_a_permanent_validation_error_with_a_detail_list(client: Client) -> None:
    answers = [submit(client, "fal-ai/flux-2", {"prompt": "[sim fail=400] a fox"})
               for _ in range(2)]

    assert {answer.status_code for answer in answers} == {422}
    [problem] = answers[0].json()["detail"]
    assert problem["loc"] == ["body", "prompt"] and "Simulated" in problem["msg"]


def test_the_simulate_field_carries_directives_for_nodes_without_a_prompt(
        client: Client) -> None:
    response = submit(client, "clarityai/crystal-upscaler",
                      {"image_url": "http://x.test/a.png", "simulate": "[sim fail=500]"})

    assert response.status_code == 500


def test_fail_job_accepts_the_submit_then_the_job_ends_in_an_error(client: Client) -> None:
    submitted = submit(client, "fal-ai/flux-2", {"prompt": "[sim fail=job]"}).json()

    done = wait_until_done(client, submitted["status_url"])
    result = client.get(path_of(submitted["response_url"]), headers=auth())

    assert (done["error_type"], result.status_code) == ("runtime_error", 500)
    assert "Simulated model failure" in done["error"]


def test_a_hanging_job_stays_in_progress_and_has_no_result(client: Client,
                                                            sim_clock: SimClock) -> None:
    submitted = submit(client, "fal-ai/flux-2", {"prompt": "[sim hang latency=100ms]"}).json()
    sim_clock.advance(3600)  # an hour past its latency

    status = poll(client, submitted["status_url"])
    result = client.get(path_of(submitted["response_url"]), headers=auth())

    assert (status.status_code, status.json()["status"]) == (202, "IN_PROGRESS")
    assert "step 10/10" not in [log["message"] for log in status.json()["logs"]]
    assert (result.status_code, result.json()) == (400, {"detail": "Request is still in progress"})


# --- Cancel --------------------------------------------------------------------------------

def test_cancel_stops_a_running_job_and_is_recorded(client: Client, sim_clock: SimClock) -> None:
    # The simulator's clock stands still: the job is certainly still running when cancelled.
    submitted = submit(client, "fal-ai/flux-2", {"prompt": "[sim latency=5s]"}).json()

    cancel = client.put(path_of(submitted["cancel_url"]), headers=auth())
    status = poll(client, submitted["status_url"]).json()
    again = client.put(path_of(submitted["cancel_url"]), headers=auth())

    assert (cancel.status_code, cancel.json()) == (202, {"status": "CANCELLATION_REQUESTED"})
    assert (status["status"], status["error_type"]) == ("COMPLETED", "request_cancelled")
    assert (again.status_code, again.json()) == (400, {"status": "ALREADY_COMPLETED"})
    assert simulator_stats()["cancelled"] == [submitted["request_id"]]


def test_cancel_after_completion_answers_already_completed(client: Client) -> None:
    submitted = submit(client, "fal-ai/flux-2", {"prompt": "quick"}).json()
    wait_until_done(client, submitted["status_url"])

    cancel = client.put(path_of(submitted["cancel_url"]), headers=auth())

    assert (cancel.status_code, cancel.json()) == (400, {"status": "ALREADY_COMPLETED"})
    assert simulator_stats()["cancelled"] == []


# --- Bad requests never 500 ------------------------------------------------------------------

def test_a_submit_without_a_key_is_refused(client: Client) -> None:
    response = submit(client, "fal-ai/flux-2", {"prompt": "x"}, headers={})

    assert response.status_code == 401
    assert "Authorization" in response.json()["detail"]


@pytest.mark.parametrize(("raw", "kind"), [("{not json", "json_invalid"),
                                           ("[" * 100_000, "json_invalid"),
                                           ("[1, 2]", "dict_type")])
def test_a_body_that_is_not_a_json_object_is_a_422(client: Client, raw: str, kind: str) -> None:
    response = client.post("/_sim/fal/fal-ai/flux-2", data=raw, content_type="application/json",
                           headers=auth())

    assert response.status_code == 422
    assert response.json()["detail"][0]["type"] == kind


def test_an_unknown_or_mismatched_request_id_is_a_404(client: Client) -> None:
    submitted = submit(client, "fal-ai/flux-2", {"prompt": "x"}).json()
    elsewhere = submitted["status_url"].replace("fal-ai/flux-2", "fal-ai/other")

    for url in ("/_sim/fal/fal-ai/flux-2/requests/nope/status", path_of(elsewhere)):
        response = client.get(url, headers=auth())
        assert response.status_code == 404
        assert "not found" in response.json()["detail"]


@pytest.mark.parametrize(("method", "path"), [
    ("get", "/_sim/fal/fal-ai/flux-2"),
    ("post", "/_sim/fal/fal-ai/flux-2/requests/abc/status"),
    ("get", "/_sim/fal/fal-ai/flux-2/requests/abc/cancel"),
])
def test_a_wrong_method_is_a_405_with_a_detail(client: Client, method: str, path: str) -> None:
    response = getattr(client, method)(path, headers=auth())

    assert response.status_code == 405
    assert "not allowed" in response.json()["detail"]


def test_a_model_id_without_an_app_is_a_404(client: Client) -> None:
    assert submit(client, "flux", {"prompt": "x"}).status_code == 404


def test_a_webhook_that_is_not_an_http_url_is_a_422(client: Client) -> None:
    response = submit(client, "fal-ai/flux-2", {"prompt": "x"}, "?fal_webhook=file:///etc/x")

    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["query", "fal_webhook"]


# --- Stats and webhooks --------------------------------------------------------------------

def test_stats_count_submissions_per_payload_and_reset_clears_them(client: Client) -> None:
    fox, cat = {"prompt": "a fox"}, {"prompt": "a cat"}
    for payload in (fox, fox, cat):
        submit(client, "fal-ai/flux-2", payload)

    stats = client.get("/_sim/fal/_stats", headers=auth()).json()

    assert stats["submissions"] == 3
    assert stats["byRequest"] == {payload_key("fal-ai/flux-2", fox): 2,
                                  payload_key("fal-ai/flux-2", cat): 1}
    assert stats["byModel"] == {"fal-ai/flux-2": 3}
    assert client.post("/_sim/fal/_reset", headers=auth()).status_code == 200
    assert client.get("/_sim/fal/_stats", headers=auth()).json()["submissions"] == 0


def test_a_submit_sends_its_job_and_its_counts_to_redis_in_one_round_trip(
        client: Client, monkeypatch: pytest.MonkeyPatch) -> None:
    # Only this thread's sends, on a connection already open: the test process's other
    # threads (an earlier test's publisher, a server still draining) use Redis too, and a
    # fresh connection's handshake is not the submit's.
    client_redis = state._redis()
    assert client_redis is not None
    client_redis.ping()
    sent: list[bytes] = []
    real_send: Any = AbstractConnection.send_packed_command
    submitting = threading.get_ident()

    def counted(connection: AbstractConnection, command: Any, check_health: bool = True) -> None:
        if threading.get_ident() == submitting:
            sent.append(b"".join(command) if isinstance(command, list) else command)
        real_send(connection, command, check_health)

    monkeypatch.setattr(AbstractConnection, "send_packed_command", counted)
    response = submit(client, "fal-ai/flux-2", {"prompt": "a fox"})
    monkeypatch.undo()

    assert response.status_code == 200, response.content
    [round_trip] = sent
    assert b"SET" in round_trip and b"HINCRBY" in round_trip
    job = state.job_get(response.json()["request_id"])
    assert job is not None and job.payload == {"prompt": "a fox"}
    stats = simulator_stats()
    assert (stats["submissions"], stats["byModel"]) == (1, {"fal-ai/flux-2": 1})
    assert stats["byKey"] == {state.key_fingerprint(platform_key()): 1}


def test_without_redis_the_job_and_its_counts_stay_in_this_process(
        client: Client, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(state, "_redis", lambda: None)  # the embedded mode: no REDIS_URL
    monkeypatch.setattr(state, "_local", {})

    response = submit(client, "fal-ai/flux-2", {"prompt": "a fox"})

    assert response.status_code == 200, response.content
    job = state.job_get(response.json()["request_id"])
    assert job is not None and job.model_id == "fal-ai/flux-2"
    assert simulator_stats()["byRequest"] == {payload_key("fal-ai/flux-2", {"prompt": "a fox"}): 1}


@pytest.fixture
def webhook_inbox(settings: Any) -> Iterator[Inbox]:
    with provider_fakes.webhook_inbox(settings, "/hook", status=200) as inbox:
        yield inbox


def test_the_completion_webhook_is_posted_with_fal_body(
        client: Client, webhook_inbox: Inbox) -> None:
    url, inbox = webhook_inbox
    submitted = submit(client, "fal-ai/flux-2", {"prompt": "a fox"}, f"?fal_webhook={url}").json()

    delivery = inbox.get(timeout=60)

    assert (delivery["request_id"], delivery["status"]) == (submitted["request_id"], "OK")
    assert delivery["payload"]["images"][0]["url"].endswith(".png")
    assert delivery["error"] is None
    assert delivery["payload"] == client.get(path_of(submitted["response_url"]),
                                             headers=auth()).json()
    # Counted once the receiver has answered, which may be just after it queued the body.
    wait_until(lambda: simulator_stats()["webhooks"] == 1, 60, "the delivery was not counted")


def test_a_failed_job_posts_an_error_webhook(
        client: Client, webhook_inbox: Inbox) -> None:
    url, inbox = webhook_inbox
    submit(client, "fal-ai/flux-2", {"prompt": "[sim fail=job]"}, f"?fal_webhook={url}")

    delivery = inbox.get(timeout=60)

    assert (delivery["status"], delivery["error"]) == ("ERROR", "Invalid status code: 500")
    assert "Simulated model failure" in delivery["payload"]["detail"]


# --- Media storage ---------------------------------------------------------------------------

def test_media_is_read_back_by_its_absolute_or_relative_url() -> None:
    url = save_media(b"hello", "txt", "text/plain", folder="test")
    relative = "/" + url.split("/", 3)[3]

    assert open_media_by_url(url) == b"hello"
    assert open_media_by_url(relative) == b"hello"


@pytest.mark.parametrize("url", ["http://elsewhere.test/media/test/x.txt", "/media/../secret",
                                 "/media/test/does-not-exist.txt", "/static/app.js", ""])
def test_urls_that_are_not_our_media_open_nothing(url: str) -> None:
    assert open_media_by_url(url) is None

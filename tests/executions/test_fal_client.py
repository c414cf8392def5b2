"""The fal client, through real HTTP against the simulator served by the live ASGI site."""

import io
import socket
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import httpx
import pytest
from PIL import Image

from executions.media import save_media
from executions.providers.errors import ProviderError, detail_message, parse_retry_after
from executions.providers.fal import (
    FalClient,
    FalStatus,
    FalSubmission,
    fal_client,
    parse_webhook,
    platform_key,
)
from executions.simulators.state import simulator_stats
from tests.harness import wait_until

from .conftest import SimClock
from .fal_sim import fresh_fal_simulator
from .provider_fakes import Inbox, sync, webhook_inbox

FLUX = "fal-ai/flux-2"


@pytest.fixture
def fal(live_site: str, settings: Any) -> Iterator[FalClient]:
    # Media URLs are built from SITE_URL; point it at the live server so they can be fetched.
    settings.SITE_URL = live_site
    with fresh_fal_simulator(settings, latency=0.2, image_scale=0.5):
        yield FalClient(f"{live_site}/_sim/fal", platform_key(), timeout=10)


def raised(coroutine: Any) -> ProviderError:
    with pytest.raises(ProviderError) as caught:
        sync(coroutine)
    return caught.value


def wait_done(fal: FalClient, submission: FalSubmission) -> FalStatus:
    def done() -> FalStatus | None:
        status = sync(fal.status(submission))
        return status if status.done else None

    return wait_until(done, 60, f"{submission.request_id} did not complete")


def fetch_image(url: str) -> Image.Image:
    response = httpx.get(url, timeout=10)
    assert response.status_code == 200
    return Image.open(io.BytesIO(response.content))


# --- The whole queue protocol --------------------------------------------------------------

def test_submit_poll_and_fetch_a_real_png_of_the_requested_size(fal: FalClient,
                                                                sim_clock: SimClock) -> None:
    submission = sync(fal.submit(FLUX, {"prompt": "a fox [sim latency=2s]",
                                        "image_size": "landscape_16_9"}))

    queued = sync(fal.status(submission))
    sim_clock.advance(0.7)  # past the job's 0.4 s in the queue, short of its 2 s
    running = sync(fal.status(submission.status_url))
    sim_clock.advance(2)
    done = wait_done(fal, submission)
    output = sync(fal.result(submission.response_url))

    assert queued.status == "IN_QUEUE" and queued.queue_position == 0
    assert running.status == "IN_PROGRESS" and "step 1/10" in running.logs
    assert running.progress is not None and 0 < running.progress < 1
    assert (done.status, done.progress, done.failed) == ("COMPLETED", 1.0, False)
    image = fetch_image(output["images"][0]["url"])
    assert (image.format, image.size) == ("PNG", (512, 288))
    assert output["simulated"] is True


def test_the_upscaler_output_is_exactly_twice_its_input(fal: FalClient) -> None:
    buffer = io.BytesIO()
    Image.new("RGB", (50, 34), "purple").save(buffer, format="PNG")
    source = save_media(buffer.getvalue(), "png", "image/png", folder="test")

    submission = sync(fal.submit("clarityai/crystal-upscaler", {"image_url": source}))
    wait_done(fal, submission)
    output = sync(fal.result(submission.response_url))

    assert fetch_image(output["images"][0]["url"]).size == (100, 68)


def test_a_rate_limit_is_retryable_with_its_retry_after_then_succeeds(fal: FalClient) -> None:
    payload = {"prompt": "a fox [sim fail=429x2]"}

    errors = [raised(fal.submit(FLUX, payload)) for _ in range(2)]
    submission = sync(fal.submit(FLUX, payload))

    assert [(e.http_status, e.retryable, e.retry_after) for e in errors] == [(429, True, 1.0)] * 2
    assert submission.request_id
    assert simulator_stats()["submissions"] == 1


def test_a_validation_error_is_permanent_and_carries_the_detail(fal: FalClient) -> None:
    error = raised(fal.submit(FLUX, {"prompt": "a fox [sim fail=400]"}))

    assert (error.http_status, error.retryable, error.retry_after) == (422, False, None)
    assert error.message == "body.prompt: Simulated validation error ([sim fail=400])"
    assert str(error) == error.message


def test_a_server_error_is_retryable(fal: FalClient) -> None:
    error = raised(fal.submit(FLUX, {"prompt": "[sim fail=500]"}))

    assert (error.http_status, error.retryable) == (500, True)
    assert "Simulated HTTP 500" in error.message


def test_a_missing_field_names_it_in_the_message(fal: FalClient) -> None:
    error = raised(fal.submit(FLUX, {"image_size": "square"}))

    assert (error.http_status, error.retryable) == (422, False)
    assert error.message.startswith("body.prompt: ")


def test_a_job_that_fails_reports_its_error_in_status_and_result(fal: FalClient) -> None:
    submission = sync(fal.submit(FLUX, {"prompt": "[sim fail=job]"}))

    status = wait_done(fal, submission)
    error = raised(fal.result(submission.response_url))

    assert status.failed
    assert (status.error_type, status.error) == ("runtime_error",
                                                 "Simulated model failure ([sim fail=job])")
    assert (error.http_status, error.message) == (500, status.error)


def test_cancel_stops_a_running_job_once(fal: FalClient, sim_clock: SimClock) -> None:
    # The simulator's clock stands still: the job is certainly still running when cancelled.
    submission = sync(fal.submit(FLUX, {"prompt": "[sim latency=5s]"}))

    first = sync(fal.cancel(submission.cancel_url))
    status = sync(fal.status(submission))
    second = sync(fal.cancel(submission.cancel_url))

    assert (first, second) == (True, False)
    assert (status.status, status.error_type) == ("COMPLETED", "request_cancelled")
    assert simulator_stats()["cancelled"] == [submission.request_id]


def test_a_hanging_job_stays_in_progress(fal: FalClient, sim_clock: SimClock) -> None:
    submission = sync(fal.submit(FLUX, {"prompt": "[sim hang latency=100ms]"}))
    sim_clock.advance(3600)  # an hour past its latency

    status = sync(fal.status(submission))
    error = raised(fal.result(submission.response_url))

    assert status.status == "IN_PROGRESS" and not status.done
    assert status.progress is not None and status.progress < 1
    assert (error.http_status, error.retryable) == (400, False)


def test_an_unknown_request_is_a_permanent_404(fal: FalClient, live_site: str) -> None:
    error = raised(fal.status(f"{live_site}/_sim/fal/fal-ai/flux-2/requests/nope/status"))

    assert (error.http_status, error.retryable) == (404, False)
    assert "not found" in error.message


def test_the_key_travels_as_a_key_authorization_header(live_site: str, settings: Any) -> None:
    settings.FAL_KEY = "abc:123"  # the key the simulator then wants
    sent: list[httpx.Request] = []

    async def go() -> None:
        async def record(request: httpx.Request) -> None:
            sent.append(request)

        async with httpx.AsyncClient(event_hooks={"request": [record]}) as http:
            await FalClient(f"{live_site}/_sim/fal", "abc:123", http=http).submit(
                FLUX, {"prompt": "x"})

    sync(go())

    assert sent[0].headers["Authorization"] == "Key abc:123"


def test_a_client_without_a_key_gets_a_permanent_401(live_site: str) -> None:
    error = raised(FalClient(f"{live_site}/_sim/fal", "").submit(FLUX, {"prompt": "x"}))

    assert (error.http_status, error.retryable) == (401, False)


def test_the_default_client_uses_the_simulator_when_no_key_is_set(
        live_site: str, settings: Any) -> None:
    settings.FAL_KEY, settings.FAL_QUEUE_URL = "", f"{live_site}/_sim/fal"

    submission = sync(fal_client().submit(FLUX, {"prompt": "x"}))

    assert submission.status_url.startswith(f"{live_site}/_sim/fal/fal-ai/flux-2/requests/")


def test_the_client_can_share_an_http_client(fal: FalClient, live_site: str) -> None:
    async def go() -> FalSubmission:
        async with httpx.AsyncClient() as http:
            return await FalClient(f"{live_site}/_sim/fal", platform_key(), http=http).submit(
                FLUX, {"prompt": "shared"})

    assert sync(go()).request_id
    assert simulator_stats()["submissions"] == 1


# --- Webhooks ------------------------------------------------------------------------------

@pytest.fixture
def inbox(settings: Any) -> Iterator[Inbox]:
    with webhook_inbox(settings, "/fal") as receiver:
        yield receiver


def test_the_completion_webhook_arrives_and_parses(fal: FalClient, inbox: Inbox) -> None:
    url, received = inbox
    submission = sync(fal.submit(FLUX, {"prompt": "a fox"}, webhook_url=url))

    hook = parse_webhook(received.get(timeout=60))

    assert (hook.request_id, hook.ok, hook.error) == (submission.request_id, True, None)
    assert hook.payload == sync(fal.result(submission.response_url))


def test_parse_webhook_reads_an_error_delivery() -> None:
    hook = parse_webhook({"request_id": "r1", "status": "ERROR",
                          "error": "Invalid status code: 422",
                          "payload": {"detail": [{"loc": ["body", "image_url"],
                                                  "msg": "could not download", "type": "x"}]}})

    assert (hook.ok, hook.error) == (False, "body.image_url: could not download")


@pytest.mark.parametrize("body", [{}, {"request_id": "r1"}, {"request_id": "r1", "status": "?"},
                                  {"request_id": 5, "status": "OK"}])
def test_parse_webhook_refuses_what_is_not_a_delivery(body: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="not a fal webhook"):
        parse_webhook(body)


# --- Transport failures and error parsing --------------------------------------------------

def test_a_refused_connection_is_retryable() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # bound but not listening: connections are refused

        error = raised(FalClient(f"http://127.0.0.1:{port}", "k").submit(FLUX, {}))

    assert (error.retryable, error.http_status) == (True, None)


def test_a_server_that_never_answers_is_a_retryable_timeout() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()  # accepts the connection, never replies

        error = raised(FalClient(f"http://127.0.0.1:{sock.getsockname()[1]}", "k",
                                 timeout=0.3).submit(FLUX, {}))

    assert error.retryable and "in time" in error.message


def test_retry_after_is_read_as_seconds_or_as_an_http_date() -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)

    assert parse_retry_after("3") == 3.0
    assert parse_retry_after(format_datetime(now + timedelta(seconds=90), usegmt=True),
                             now) == 90.0
    assert parse_retry_after(format_datetime(now - timedelta(seconds=5), usegmt=True), now) == 0
    assert [parse_retry_after(v) for v in (None, "", "soon", "-1")] == [None] * 4


def test_detail_is_read_from_a_string_or_a_list_of_problems() -> None:
    problems = [{"loc": ["body", "prompt"], "msg": "field required", "type": "missing"},
                {"loc": ["body", "num_images"], "msg": "too many", "type": "x"}]

    assert detail_message({"detail": "Bad key"}) == "Bad key"
    assert detail_message({"detail": problems}) == \
        "body.prompt: field required; body.num_images: too many"
    no_detail: tuple[object, ...] = ({}, [], "text", {"detail": []})
    assert [detail_message(b) for b in no_detail] == [None] * 4

"""When the simulated provider does its work: it draws a job's output while the job runs (as a
provider's GPU does through its latency), and it sends the webhooks of jobs finishing together
side by side, as a provider does, not a few at a time."""

import queue
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from typing import Any

import pytest
from django.test import Client

from executions.simulators import fal_jobs, state
from executions.simulators.deliveries import MAX_IN_FLIGHT
from tests.harness import LocalHTTPServer, wait_until

from .fal_sim import fresh_fal_simulator, submit

pytestmark = pytest.mark.django_db
BURST = 12  # more than the few threads that once sent every delivery


@pytest.fixture(autouse=True)
def fresh_simulator(settings: Any) -> Iterator[None]:
    with fresh_fal_simulator(settings, latency=0.1):
        yield


@pytest.mark.parametrize("latency", [2.0, 8.0])
def test_a_job_s_output_is_drawn_while_it_runs_before_it_is_due(
        client: Client, monkeypatch: pytest.MonkeyPatch, latency: float) -> None:
    """Not among the submits of the burst it came in with, nor among that burst's
    completions (a long job is drawn halfway through its run), yet before it is due, so its
    due time is left only the webhook."""
    stored: dict[str, float] = {}
    real_put = state.outcome_put

    def timed_put(request_id: str, outcome: state.Outcome) -> state.Outcome:
        stored.setdefault(request_id, time.time())
        return real_put(request_id, outcome)

    monkeypatch.setattr(state, "outcome_put", timed_put)
    submitted = submit(client, "fal-ai/flux-2",
                       {"prompt": f"a fox [sim latency={latency:g}s]"}).json()
    job = state.job_get(submitted["request_id"])
    assert job is not None

    outcome = wait_until(lambda: state.outcome_get(job.request_id), latency + 30,
                         "the output was never drawn")

    drawn_after = stored[job.request_id] - job.submitted_at
    assert drawn_after >= state.queued_seconds(latency)  # it runs first
    assert drawn_after >= state.drawing_seconds(latency)
    assert drawn_after < latency  # drawn while it ran, not by its due-time call
    assert outcome.ok and outcome.body["images"][0]["url"]


def test_a_long_job_is_drawn_halfway_a_short_one_once_it_runs() -> None:
    # Halfway: a burst of long jobs is drawn after its submits and before its completions.
    assert state.drawing_seconds(30) == 15
    assert state.drawing_seconds(4) == 4 - state.DRAWING_LEAD_SECONDS == 2
    assert state.drawing_seconds(3) == 3 - state.DRAWING_LEAD_SECONDS
    assert state.drawing_seconds(1) == state.queued_seconds(1)
    assert all(latency - state.drawing_seconds(latency) >= state.DRAWING_LEAD_SECONDS
               for latency in (4, 5, 10, 60, 600))
    assert all(state.queued_seconds(latency) <= state.drawing_seconds(latency) < latency
               for latency in (0.1, 0.5, 1, 2, 2.5, 3, 10, 60, 600))


class _Receiver(BaseHTTPRequestHandler):
    received: "queue.Queue[str]"

    def do_POST(self) -> None:  # noqa: N802 (the stdlib's name)
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.received.put(self.path)
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        return


def test_a_job_s_webhook_never_waits_for_the_drawing_of_another(
        client: Client, settings: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    received: queue.Queue[str] = queue.Queue()
    server = LocalHTTPServer(("127.0.0.1", 0),
                                 type("Receiver", (_Receiver,), {"received": received}))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    port = server.server_address[1]
    settings.SITE_URL = f"http://127.0.0.1:{port}"  # the receiver is the site itself
    drawing_stuck = threading.Event()
    unstick = threading.Event()
    real_prepare = fal_jobs.prepare

    def stuck_on_the_big_one(job: Any) -> None:
        if "big one" in job.payload["prompt"]:
            drawing_stuck.set()
            unstick.wait(60)
        real_prepare(job)

    monkeypatch.setattr(fal_jobs, "prepare", stuck_on_the_big_one)
    try:
        assert submit(client, "fal-ai/flux-2",
                      {"prompt": "the big one [sim latency=4s]"}).status_code == 200
        assert drawing_stuck.wait(30)
        assert submit(client, "fal-ai/flux-2", {"prompt": "a small one"},
                      f"?fal_webhook=http://127.0.0.1:{port}/small").status_code == 200

        assert received.get(timeout=30) == "/small"  # its own drawing, at its due time
        assert not unstick.is_set()
    finally:
        unstick.set()
        server.shutdown()
        server.server_close()


class _Gate(BaseHTTPRequestHandler):
    """Answers a POST only once BURST of them are in flight together."""

    gate: threading.Barrier
    passed: list[str]

    def do_POST(self) -> None:  # noqa: N802 (the stdlib's name)
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        try:
            self.gate.wait()
            self.passed.append(self.path)
            status = 200
        except threading.BrokenBarrierError:
            status = 503
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        return


@pytest.fixture
def gate() -> Iterator[tuple[int, list[str]]]:
    passed: list[str] = []
    handler = type("Gate", (_Gate,), {"gate": threading.Barrier(BURST, timeout=30),
                                      "passed": passed})
    server = LocalHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_address[1], passed
    server.shutdown()
    server.server_close()


def test_webhooks_of_jobs_finishing_together_are_sent_side_by_side(
        client: Client, gate: tuple[int, list[str]], settings: Any) -> None:
    port, passed = gate
    settings.SITE_URL = f"http://127.0.0.1:{port}"  # the receiver is the site itself
    assert BURST <= MAX_IN_FLIGHT
    for i in range(BURST):
        response = submit(client, "fal-ai/flux-2", {"prompt": f"fox {i}"},
                          f"?fal_webhook=http://127.0.0.1:{port}/hook/{i}")
        assert response.status_code == 200

    # Each receipt waits for all the others: only deliveries in flight together get through.
    wait_until(lambda: len(passed) == BURST or None, 60,
               lambda: f"the deliveries did not arrive together ({len(passed)} of {BURST} got "
                       "through)")
    wait_until(lambda: state.simulator_stats()["webhooks"] == BURST or None, 60,
               "the deliveries were not counted")
    assert sorted(passed) == sorted(f"/hook/{i}" for i in range(BURST))

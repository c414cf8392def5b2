"""The simulators' timers: calls run at their time, in order, from one waiting thread that is
woken only when the next due time moves earlier. What a test's end must wait for (a call
running, a webhook in flight) is visible, and what is left for later can be dropped."""

import threading
import time
from http.server import BaseHTTPRequestHandler
from typing import Any

from executions.simulators import deliveries
from executions.simulators.timers import Timers
from tests.harness import CountingCondition, serving, wait_until


def test_calls_run_in_due_order_whatever_order_they_were_made_in() -> None:
    timers, ran = Timers(workers=1), list[str]()
    now = time.time()
    for delay, name in ((0.3, "c"), (0.1, "a"), (0.2, "b")):
        timers.call_at(now + delay, ran.append, name)

    wait_until(lambda: len(ran) == 3, 10, f"only {ran} ran")
    assert ran == ["a", "b", "c"]


def test_the_waiting_thread_is_woken_only_for_a_call_due_sooner_than_all_before() -> None:
    timers, ran = Timers(workers=1), list[str]()
    condition = timers._ready = CountingCondition()
    now = time.time()

    timers.call_at(now + 600, ran.append, "later")
    timers.call_at(now + 900, ran.append, "later still")
    assert condition.notified == 1  # the first: the thread had nothing to wait for
    timers.call_at(now + 0.05, ran.append, "soon")
    assert condition.notified == 2

    wait_until(lambda: ran == ["soon"], 10, f"ran {ran}")


def test_a_call_that_raises_does_not_stop_the_next() -> None:
    timers, ran = Timers(workers=1), list[str]()

    def broken() -> None:
        raise RuntimeError("boom")

    now = time.time()
    timers.call_at(now, broken)
    timers.call_at(now + 0.05, ran.append, "next")

    wait_until(lambda: ran == ["next"], 10, f"ran {ran}")


def test_a_running_call_keeps_the_timers_busy_and_discarded_calls_never_run() -> None:
    timers, ran = Timers(workers=2), list[str]()
    started, release = threading.Event(), threading.Event()

    def long_call() -> None:
        started.set()
        release.wait(30)

    assert not timers.busy()
    timers.call_at(time.time(), long_call)
    wait_until(started.is_set, 10, "the due call did not start")
    timers.call_at(time.time() + 0.2, ran.append, "dropped")
    timers.discard_pending()
    timers.call_at(time.time() + 0.4, ran.append, "kept")
    assert timers.busy()  # not due, yet running

    release.set()
    wait_until(lambda: ran == ["kept"], 10, lambda: f"ran {ran}")
    wait_until(lambda: not timers.busy(), 10, "the timers stayed busy with nothing to run")
    assert ran == ["kept"]


class _Held(BaseHTTPRequestHandler):
    """Answers each POST once the test lets it."""

    release = threading.Event()

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.release.wait(30)
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        return


def test_a_webhook_is_in_flight_until_its_answer_is_counted(settings: Any) -> None:
    outcomes: list[bool] = []
    release = threading.Event()
    handler = type("Held", (_Held,), {"release": release})
    with serving(handler) as url:
        settings.SSRF_ALLOW_HOSTS = ["127.0.0.1"]
        before = deliveries.in_flight()
        finished = deliveries.post(f"{url}/hook", {"status": "succeeded"}, what="a test",
                                   timeout=30, max_answer=1024, done=outcomes.append)
        assert deliveries.in_flight() == before + 1
        release.set()
        assert finished.result(timeout=30) is True
    assert outcomes == [True] and deliveries.in_flight() == before

"""Sending an execution's events to its live listeners (executions/events.broadcast): the engine
does not wait for the send; a layer that is behind holds at most SENDS_IN_FLIGHT sends per
process, and a broadcast past that is dropped (listeners read the stored events), never piled
up; a send that fails is logged, and one that hangs is given up after SEND_SECONDS."""

import asyncio
import threading
from collections.abc import Iterator
from functools import partial
from typing import Any

import pytest

from executions import events
from tests.harness import wait_until
from wireflow_site.perprocess import PerProcess


class _HeldLayer:
    """A channel layer whose sends end only when the test lets them."""

    def __init__(self, fail: bool = False) -> None:
        self.release = threading.Event()
        self.started: list[str] = []
        self.sent: list[str] = []
        self.fail = fail

    async def group_send(self, group: str, message: dict[str, Any]) -> None:
        self.started.append(group)
        while not self.release.is_set():
            await asyncio.sleep(0.01)
        if self.fail:
            raise ConnectionError("Redis went away")
        self.sent.append(group)


@pytest.fixture
def layer(monkeypatch: pytest.MonkeyPatch) -> Iterator[_HeldLayer]:
    held = _HeldLayer()
    monkeypatch.setattr(events, "get_channel_layer", lambda: held)
    monkeypatch.setattr(events, "_send_slots",
                        PerProcess(lambda: threading.BoundedSemaphore(2)))
    yield held
    held.release.set()


def test_a_broadcast_returns_while_its_send_is_under_way(
        layer: _HeldLayer, caplog: pytest.LogCaptureFixture) -> None:
    events.broadcast("e1", [{"type": "node", "seq": 1, "data": {}}])
    # The engine has its pass back while the send is still held by the layer (a broadcast
    # that waited for it would have given up on it, and said so).
    wait_until(lambda: layer.started, 10, "the send never started")
    assert layer.sent == [] and "could not broadcast" not in caplog.text
    layer.release.set()
    wait_until(lambda: layer.sent == [events.group_name("e1")], 10, "the send never ended")
    assert "could not broadcast" not in caplog.text


def test_a_layer_that_is_behind_gets_no_more_than_the_sends_in_flight(
        layer: _HeldLayer, monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setattr(events, "SLOT_WAIT_SECONDS", 0.2)
    for execution_id in ("e1", "e2", "e3"):
        events.broadcast(execution_id, [])
    wait_until(lambda: len(layer.started) == 2, 10, "the first two sends never started")
    assert "the channel layer is behind" in caplog.text  # the third was dropped
    layer.release.set()
    wait_until(lambda: len(layer.sent) == 2, 10, "the held sends never ended")
    events.broadcast("e4", [])  # their slots are free again
    wait_until(lambda: events.group_name("e4") in layer.sent, 10, "a later send was refused")
    assert events.group_name("e3") not in layer.started


def test_a_send_that_fails_is_logged_and_frees_its_slot(
        monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    failing = _HeldLayer(fail=True)
    failing.release.set()
    monkeypatch.setattr(events, "get_channel_layer", lambda: failing)
    slots = threading.BoundedSemaphore(1)
    monkeypatch.setattr(events, "_send_slots", PerProcess(lambda: slots))
    for execution_id in ("e1", "e2", "e3"):
        events.broadcast(execution_id, [])
        wait_until(partial(_logged, caplog, f"could not broadcast events for {execution_id}"),
                   10, "the failed send was not logged (or its slot never came back)")


def _logged(caplog: pytest.LogCaptureFixture, text: str) -> bool:
    return text in caplog.text


def test_a_send_that_hangs_is_given_up_after_its_time_and_frees_its_slot(
        layer: _HeldLayer, monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setattr(events, "SEND_SECONDS", 0.2)
    slots = threading.BoundedSemaphore(1)
    monkeypatch.setattr(events, "_send_slots", PerProcess(lambda: slots))
    events.broadcast("e1", [])  # the layer never lets it end
    wait_until(partial(_logged, caplog, "could not broadcast events for e1"), 10,
               "the hung send was not given up (or not logged)")
    assert layer.sent == []
    wait_until(lambda: slots.acquire(blocking=False), 10, "its slot never came back")
    slots.release()


class _NowLayer(_HeldLayer):
    """A layer that can also send on the caller's thread (as Redis's can), or fails to."""

    def __init__(self, now: str = "sends") -> None:
        super().__init__()
        self.release.set()
        self.now = now
        self.sent_now: list[tuple[str, dict[str, Any], int]] = []

    def group_send_now(self, group: str, message: dict[str, Any]) -> bool:
        if self.now == "fails":
            raise ConnectionError("Redis went away")
        if self.now == "cannot":
            return False
        self.sent_now.append((group, message, threading.get_ident()))
        return True


@pytest.fixture
def now_layer(monkeypatch: pytest.MonkeyPatch) -> _NowLayer:
    layer = _NowLayer()
    monkeypatch.setattr(events, "get_channel_layer", lambda: layer)
    monkeypatch.setattr(events, "_now_paused_until", 0.0)
    return layer


def test_a_layer_that_can_send_at_once_sends_on_the_callers_thread(now_layer: _NowLayer) -> None:
    messages = [{"type": "node", "seq": 1, "data": {}}]
    events.broadcast("e1", messages)
    assert now_layer.sent_now == [(events.group_name("e1"),
                                   {"type": "execution.events", "events": messages},
                                   threading.get_ident())]
    assert now_layer.started == []  # nothing went through an event loop


def test_a_send_at_once_that_fails_is_logged_and_the_next_ones_go_through_the_loop(
        now_layer: _NowLayer, monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture) -> None:
    now_layer.now = "fails"
    events.broadcast("e1", [])
    assert "could not broadcast events for e1" in caplog.text
    assert now_layer.started == []  # dropped, not sent twice
    now_layer.now = "sends"  # Redis is back, but the pause is not over
    events.broadcast("e2", [])
    wait_until(lambda: now_layer.sent == [events.group_name("e2")], 10,
               "the send during the pause did not go through the loop")
    assert now_layer.sent_now == []
    monkeypatch.setattr(events, "_now_paused_until", 0.0)  # the pause is over
    events.broadcast("e3", [])
    assert [group for group, _, _ in now_layer.sent_now] == [events.group_name("e3")]


def test_a_layer_that_cannot_send_at_once_sends_through_the_loop(now_layer: _NowLayer) -> None:
    now_layer.now = "cannot"
    events.broadcast("e1", [])
    wait_until(lambda: now_layer.sent == [events.group_name("e1")], 10,
               "the send never went through the loop")


def test_a_broadcast_on_an_event_loops_thread_does_not_hold_it_up(now_layer: _NowLayer) -> None:
    async def on_a_loop() -> None:
        events.broadcast("e1", [])

    asyncio.run(on_a_loop())
    wait_until(lambda: now_layer.sent == [events.group_name("e1")], 10,
               "the send never went through the loop")
    assert now_layer.sent_now == []

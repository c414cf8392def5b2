"""The sweeper and a backlog (engine/backlog.py): advances note how late they start, and the
sweeper takes a wake-up for lost only once it is overdue by its grace plus that lateness, so a
queue of wake-ups waiting their turn is not sent a second time. A sweep lets go of what it
found in one statement; a wake-up far off is left to the sweeper rather than held by the
broker."""

import base64
import json
import time
from datetime import timedelta
from typing import Any

import pytest
import redis
from django.conf import settings as django_settings
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from pytest_django import Settings

from executions import tasks
from executions.engine import backlog, nodectx
from executions.engine.backlog import LAG_KEY, note_start, recent_lag
from executions.engine.runner import advance
from executions.models import Execution, NodePhase, NodeRun
from executions.services import sweep_stalled
from tests.conftest import ApiClient
from tests.harness import flush_broker

from .helpers import create_workflow, edge, execute, node

pytestmark = pytest.mark.django_db(transaction=True)


def _running(api: ApiClient, overdue_s: float) -> str:
    """A running execution, lease free, whose wake-up was due `overdue_s` seconds ago."""
    nodes = [node("p", "input:text", text="x"), node("out", "output:result")]
    execution_id = execute(api, create_workflow(api, nodes, [edge("p", "text", "out", "value")]))
    Execution.objects.filter(pk=execution_id).update(
        wake_at=timezone.now() - timedelta(seconds=overdue_s), lease_owner="")
    return execution_id


# --- Noting the lateness ---------------------------------------------------------------------

@pytest.mark.parametrize("lag", [-5.0, 0.0, 0.2, 0.99])
def test_an_advance_that_starts_about_on_time_notes_nothing(lag: float) -> None:
    note_start(lag)
    assert cache.get(LAG_KEY) is None and recent_lag() == 0.0


@pytest.mark.parametrize("lag", [1.0, 12.5, 600.0])
def test_an_advance_that_starts_late_notes_how_late(lag: float) -> None:
    note_start(lag)
    assert recent_lag() == pytest.approx(lag)


def test_the_first_advance_on_time_again_clears_the_backlog() -> None:
    note_start(20.0)
    note_start(0.1)
    assert recent_lag() == 0.0


def test_a_growing_backlog_is_noted_at_once_a_shrinking_one_once_a_second(
        monkeypatch: pytest.MonkeyPatch) -> None:
    clock = [1000.0]
    monkeypatch.setattr("executions.engine.backlog._clock", lambda: clock[0])
    note_start(5.0)
    note_start(9.0)  # later than noted: the sweeper must know now
    assert recent_lag() == pytest.approx(9.0)
    note_start(3.0)  # within the second: no write
    assert recent_lag() == pytest.approx(9.0)
    clock[0] += 1.0
    note_start(3.0)
    assert recent_lag() == pytest.approx(3.0)


@pytest.mark.parametrize("value", ["soon", None, [], -4, 10**9])
def test_a_measure_that_is_not_a_lag_reads_as_none_or_capped(value: Any) -> None:
    cache.set(LAG_KEY, value, 30)
    assert 0.0 <= recent_lag() <= backlog.MOST_SECONDS


def test_a_cache_that_is_away_costs_only_the_measure(monkeypatch: pytest.MonkeyPatch) -> None:
    def away(*_: object, **__: object) -> None:
        raise ConnectionError("the cache is away")

    monkeypatch.setattr(cache, "set", away)
    monkeypatch.setattr(cache, "get", away)
    note_start(30.0)  # does not raise
    assert recent_lag() == 0.0


def test_the_task_notes_how_late_it_started(sent: list[str], api: ApiClient) -> None:
    execution_id = _running(api, 0)
    tasks.advance_task.run(execution_id, None, time.time() - 15)
    assert recent_lag() == pytest.approx(15, abs=2)


@pytest.mark.parametrize("args", [(), (0,), (3,), (None, "tomorrow"), (None, True)])
def test_a_message_without_a_due_time_runs_and_notes_nothing(
        sent: list[str], api: ApiClient, args: tuple[Any, ...]) -> None:
    # (), (0,), (3,): the shapes queued by earlier releases.
    execution_id = _running(api, 0)
    tasks.advance_task.run(execution_id, *args)
    assert recent_lag() == 0.0
    assert Execution.objects.get(pk=execution_id).status == "COMPLETED"


@pytest.mark.parametrize("delay", [0.0, 2.5])
def test_the_task_is_sent_with_its_due_time(monkeypatch: pytest.MonkeyPatch,
                                            delay: float) -> None:
    sends: list[tuple[tuple[Any, ...], dict[str, Any]]] = []
    monkeypatch.setattr(tasks.advance_task, "apply_async",
                        lambda args, **options: sends.append((args, options)))
    before = time.time()
    tasks.send_advance("e1", delay)
    (args, options), = sends
    assert args[0] == "e1" and args[1] is None
    assert before + delay <= args[2] <= time.time() + delay
    assert options.get("countdown", 0) == delay
    # What monitoring shows of it, given rather than computed by Celery for each send.
    assert options["argsrepr"] == repr(args) and options["kwargsrepr"] == "{}"


def test_the_message_shows_its_arguments(monkeypatch: pytest.MonkeyPatch) -> None:
    """Through Celery to the message it would publish (caught there: nothing is queued)."""
    built: list[Any] = []
    monkeypatch.setattr(tasks.advance_task.app.amqp, "send_task_message",
                        lambda producer, name, message, **_: built.append(message))
    tasks.send_advance("e1", 0.0)
    (message,) = built
    assert message.headers["task"] == "executions.advance"
    assert message.headers["argsrepr"].startswith("('e1', None, ")
    assert message.headers["kwargsrepr"] == "{}"


def test_on_redis_a_send_queues_the_task_and_declares_nothing() -> None:
    """Through Celery and kombu to the broker, with no queue declared before: the message is on
    the queue's list (which the first push creates) and kombu recorded no binding."""
    flush_broker()
    client = redis.Redis.from_url(django_settings.CELERY_BROKER_URL)
    try:
        tasks.send_advance("e1", 0.0)
        assert client.llen("celery") == 1
        assert client.keys("_kombu.binding.*") == []
        queued = client.lindex("celery", 0)
        assert isinstance(queued, bytes)
        envelope = json.loads(queued)
        assert envelope["headers"]["task"] == "executions.advance"
        args, kwargs, _ = json.loads(base64.b64decode(envelope["body"]))
        assert args[:2] == ["e1", None] and kwargs == {}
    finally:
        flush_broker()


@pytest.mark.parametrize(("broker", "declared"), [
    ("redis://127.0.0.1:6379/0", False), ("rediss://cache.example:6380/0", False),
    ("sentinel://sentinel.example:26379", False),
    ("amqp://guest:guest@127.0.0.1:5672//", True), ("pyamqp://127.0.0.1//", True),
])
def test_the_queue_is_declared_on_every_broker_but_redis(
        monkeypatch: pytest.MonkeyPatch, broker: str, declared: bool) -> None:
    """On AMQP a message for a queue nobody has declared yet would be dropped."""
    sends: list[dict[str, Any]] = []
    monkeypatch.setattr(tasks.advance_task, "apply_async",
                        lambda args, **options: sends.append(options))
    monkeypatch.setitem(tasks.advance_task.app.conf, "broker_url", broker)
    tasks._publish_options.cache_clear()
    try:
        tasks.send_advance("e1", 0.0)
    finally:
        tasks._publish_options.cache_clear()
    (options,) = sends
    assert ("declare" not in options) is declared


# --- The sweeper ---------------------------------------------------------------------------

@pytest.mark.parametrize(("overdue", "lag", "swept"), [
    (8, 0, True),      # lost: overdue by more than the grace, no backlog
    (8, 20, False),    # queued behind 20 s of others: not lost yet
    (40, 20, True),    # overdue by more than the grace and the backlog: lost
    (3, 0, False),     # within the grace
])
def test_the_sweeper_waits_out_the_backlog_before_taking_a_wake_up_for_lost(
        sent: list[str], api: ApiClient, settings: Settings,
        overdue: float, lag: float, swept: bool) -> None:
    settings.SWEEP_GRACE_SECONDS = 5
    execution_id = _running(api, overdue)
    if lag:
        note_start(lag)
    sent.clear()
    assert sweep_stalled() == int(swept)
    assert (execution_id in sent) is swept
    if swept:  # pushed ahead by the grace and the backlog, so the next sweep leaves it
        wake_at = Execution.objects.get(pk=execution_id).wake_at
        assert wake_at is not None
        assert wake_at >= timezone.now() + timedelta(seconds=5 + lag - 1)
        sent.clear()
        assert sweep_stalled() == 0


def test_a_dead_worker_s_lease_is_swept_whatever_the_backlog(
        sent: list[str], api: ApiClient) -> None:
    execution_id = _running(api, -600)  # its wake-up far off
    Execution.objects.filter(pk=execution_id).update(
        lease_owner="dead", lease_expires_at=timezone.now() - timedelta(seconds=1))
    note_start(120)
    sent.clear()
    assert sweep_stalled() == 1 and sent == [execution_id]


def test_a_sweep_lets_go_of_all_it_found_in_one_statement(
        sent: list[str], api: ApiClient) -> None:
    found = {_running(api, 60) for _ in range(12)}
    sent.clear()
    with CaptureQueriesContext(connection) as queries:
        assert sweep_stalled() == 12
    updates = [query["sql"] for query in queries.captured_queries
               if query["sql"].startswith("UPDATE")]
    assert len(updates) == 1, updates
    assert set(sent) == found


# --- A wake-up far off ---------------------------------------------------------------------

def _submitted(api: ApiClient, sent: list[str]) -> tuple[str, NodeRun]:
    workflow = create_workflow(api, [node("g", "generate:flux_2", prompt="a fox [sim hang]")], [])
    execution_id = execute(api, workflow)
    sent.clear()
    advance(execution_id)
    run = NodeRun.objects.get(execution_id=execution_id)
    assert run.phase == NodePhase.SUBMITTED
    return execution_id, run


def test_a_safety_net_poll_minutes_off_is_left_to_the_sweeper(
        sent: list[str], sim_site: str, api: ApiClient, settings: Settings,
        monkeypatch: pytest.MonkeyPatch) -> None:
    # The provider's callbacks reach us: polls a minute apart. (Renewed now, whatever an
    # earlier test of this process noted: the mark is written at most once a minute.)
    monkeypatch.setattr(nodectx, "_noted_at", None)
    nodectx.note_webhook_arrived()
    assert nodectx.webhooks_arrive()
    execution_id, run = _submitted(api, sent)
    wake_at = Execution.objects.get(pk=execution_id).wake_at
    assert wake_at is not None and wake_at == run.next_check_at
    assert (wake_at - timezone.now()).total_seconds() >= settings.ENGINE_SWEEPER_WAKES_AFTER_SECONDS
    assert sent == []  # no message held by the broker for it
    # Once overdue by the grace, the sweeper sends it.
    settings.SWEEP_GRACE_SECONDS = 5
    Execution.objects.filter(pk=execution_id).update(
        wake_at=timezone.now() - timedelta(seconds=6))
    assert sweep_stalled() == 1 and sent == [execution_id]


def test_a_poll_seconds_off_is_sent_with_a_countdown(
        sent: list[str], sim_site: str, api: ApiClient, monkeypatch: pytest.MonkeyPatch) -> None:
    cache.delete(nodectx.WEBHOOKS_ARRIVE_KEY)
    monkeypatch.setattr(nodectx, "_noted_at", None)  # no webhook seen: a poll in 10 s
    execution_id, _ = _submitted(api, sent)
    assert sent == [execution_id]

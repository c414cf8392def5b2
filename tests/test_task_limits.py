"""Task time limits on the pools Celery does not enforce them on (wireflow_site/task_limits.py):
the soft limit interrupts the task's own thread, the hard limit ends the process."""

import threading
import time
from types import SimpleNamespace
from typing import Any

import pytest
from celery.concurrency.prefork import TaskPool as PreforkPool
from celery.concurrency.thread import TaskPool as ThreadPool
from celery.exceptions import SoftTimeLimitExceeded

from tests.harness import CountingCondition
from wireflow_site import task_limits
from wireflow_site.celery import app
from wireflow_site.task_limits import EXIT_HARD_LIMIT, Watchdog


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_the_soft_limit_interrupts_the_thread_running_the_task_and_no_other() -> None:
    watchdog = Watchdog(exit_process=lambda status: pytest.fail(f"exited {status}"))
    outcomes: dict[str, str] = {}
    registered, done = threading.Barrier(3), threading.Event()

    def task(name: str, soft: float) -> None:
        watchdog.started(name, "executions.advance", soft=soft, hard=60)
        registered.wait()
        deadline = time.monotonic() + 30
        try:
            while not done.is_set() and time.monotonic() < deadline:  # as a pass between calls
                time.sleep(0.01)
            outcomes[name] = "ran to its end"
        except SoftTimeLimitExceeded:
            outcomes[name] = "interrupted"
        finally:
            watchdog.finished()

    slow = threading.Thread(target=task, args=("slow", 0.2))
    patient = threading.Thread(target=task, args=("patient", 25))
    slow.start()
    patient.start()
    registered.wait()
    enforcing = threading.Thread(target=watchdog.run, daemon=True)
    enforcing.start()
    slow.join(timeout=20)
    assert outcomes == {"slow": "interrupted"}
    done.set()
    patient.join(timeout=20)
    assert outcomes == {"slow": "interrupted", "patient": "ran to its end"}
    watchdog.stop()
    enforcing.join(timeout=5)
    assert not enforcing.is_alive()


def test_the_soft_limit_is_raised_once_and_the_hard_limit_exits_the_process() -> None:
    clock, exits = Clock(), list[int]()
    raised: list[tuple[int, type[BaseException]]] = []
    watchdog = Watchdog(exit_process=exits.append, clock=clock)
    watchdog.started("t1", "executions.advance", soft=300, hard=360, thread=12345)
    original = task_limits.raise_in_thread

    def record(thread: int, exc_type: type[BaseException]) -> bool:
        raised.append((thread, exc_type))
        return True

    task_limits.raise_in_thread = record
    try:
        clock.now += 299
        assert watchdog.check() == pytest.approx(1.0)
        assert raised == [] and exits == []
        clock.now += 1
        watchdog.check()
        clock.now += 30
        watchdog.check()
        assert raised == [(12345, SoftTimeLimitExceeded)]  # once, not at every check
        assert exits == []
        clock.now += 30
        watchdog.check()
        assert exits == [EXIT_HARD_LIMIT]
        watchdog.check()
        assert exits == [EXIT_HARD_LIMIT]
    finally:
        task_limits.raise_in_thread = original


def test_a_task_that_ended_in_time_is_never_interrupted() -> None:
    clock, exits = Clock(), list[int]()
    watchdog = Watchdog(exit_process=exits.append, clock=clock)
    watchdog.started("t1", "executions.advance", soft=1, hard=2, thread=1)
    watchdog.finished(thread=1)
    clock.now += 100
    assert watchdog.check() == pytest.approx(1.0)
    assert exits == []


def test_the_next_check_comes_at_the_nearest_deadline() -> None:
    clock = Clock()
    watchdog = Watchdog(exit_process=lambda status: None, clock=clock)
    watchdog.started("a", "x", soft=0.5, hard=0.9, thread=1)
    watchdog.started("b", "x", soft=None, hard=0.3, thread=2)
    assert watchdog.check() == pytest.approx(0.3)


def test_limits_come_from_the_message_then_the_task_then_the_settings() -> None:
    task = app.tasks["executions.advance"]
    by_settings = SimpleNamespace(request=SimpleNamespace(timelimit=None), app=app,
                                  soft_time_limit=None, time_limit=None, name=task.name)
    assert task_limits.limits_of(by_settings) == (app.conf.task_soft_time_limit,
                                                  app.conf.task_time_limit)
    own = SimpleNamespace(**{**vars(by_settings), "soft_time_limit": 5, "time_limit": 9})
    assert task_limits.limits_of(own) == (5, 9)
    sent = SimpleNamespace(**{**vars(own), "request": SimpleNamespace(timelimit=(20, 10))})
    assert task_limits.limits_of(sent) == (10, 20)


def test_a_thread_pool_gets_the_watchdog_and_a_green_pool_is_refused(
        monkeypatch: pytest.MonkeyPatch) -> None:
    started: list[Any] = []
    monkeypatch.setattr(task_limits, "_watchdog", None)
    monkeypatch.setattr(threading, "Thread",
                        lambda **kwargs: SimpleNamespace(start=lambda: started.append(kwargs)))
    task_limits.install(SimpleNamespace(pool_cls=PreforkPool))
    assert task_limits._watchdog is None  # prefork enforces its own
    with pytest.raises(RuntimeError, match="cannot enforce task time limits"):
        task_limits.install(SimpleNamespace(pool_cls="gevent"))
    try:
        task_limits.install(SimpleNamespace(pool_cls=ThreadPool))
        assert task_limits._watchdog is not None
        assert [kwargs["name"] for kwargs in started] == ["task-time-limits"]
        task_limits.install(SimpleNamespace(pool_cls="threads"))  # once per process
        assert len(started) == 1
    finally:
        from celery import signals

        signals.task_prerun.disconnect(task_limits._started)
        signals.task_postrun.disconnect(task_limits._finished)


def test_the_signals_register_the_task_on_its_own_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    watchdog = Watchdog(exit_process=lambda status: None)
    monkeypatch.setattr(task_limits, "_watchdog", watchdog)
    task = SimpleNamespace(request=SimpleNamespace(timelimit=(8, 4)), app=app,
                           soft_time_limit=None, time_limit=None, name="executions.advance")
    task_limits._started(task_id="abc", task=task)
    running = watchdog._running[threading.get_ident()]
    assert (running.task_id, running.name) == ("abc", "executions.advance")
    assert running.hard_at is not None and running.soft_at is not None
    assert running.hard_at - running.soft_at == pytest.approx(4, abs=0.5)
    task_limits._finished()
    assert watchdog._running == {}


def test_a_task_wakes_the_watchdog_only_when_due_before_its_next_check() -> None:
    # Every delivery starts a task: waking the watchdog's thread for each would take the GIL
    # from the tasks' threads for nothing when it will look in time anyway.
    clock = Clock()
    watchdog = Watchdog(exit_process=lambda status: None, clock=clock)
    changed = watchdog._changed = CountingCondition()
    assert watchdog.check() == pytest.approx(1.0)  # nothing running: it looks again in 1 s
    watchdog.started("patient", "x", soft=300, hard=360, thread=1)
    watchdog.started("no limits", "x", soft=None, hard=None, thread=2)
    assert changed.notified == 0
    watchdog.started("hasty", "x", soft=0.5, hard=0.9, thread=3)
    assert changed.notified == 1
    assert watchdog.check() == pytest.approx(0.5)
    watchdog.started("hastier", "x", soft=None, hard=0.2, thread=4)  # before that, too
    assert changed.notified == 2

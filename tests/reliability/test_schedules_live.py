"""Schedules fire for real (docs/api.md "Schedules"): a `* * * * *` schedule starts its execution
within 70 seconds with real Celery beat and worker processes on the test database; two beat
processes at once still start exactly one execution for that minute; and the embedded mode's
in-process scheduler fires schedules too (no broker involved)."""

import os
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from django.conf import settings as django_settings
from django.utils import timezone

from executions.inprocess import scheduler, scheduler_stop
from executions.models import Execution, ExecutionStatus, Schedule
from tests.api.run_helpers import create_workflow
from tests.conftest import ApiClient
from tests.harness import (
    CELERY,
    ROOT,
    Worker,
    _database_url,
    flush_broker,
    quiesce,
    stop_group,
    wait_until,
)

pytestmark = pytest.mark.django_db(transaction=True)
FIRE_WITHIN = 70  # seconds: the next minute boundary, plus a tick and the worker's pickup
START_TIMEOUT = 120  # bounds a hang: a loaded two-core machine starts Celery slowly
TICK = "Sending due task fire-due-schedules"


class Beat:
    """A `celery beat` process with a schedule file of its own, ticking every second, on the
    test database and Redis like the harness's workers."""

    def __init__(self, name: str, directory: Path, site: str) -> None:
        env = {**os.environ, "DJANGO_SETTINGS_MODULE": "wireflow_site.settings_test",
               "DATABASE_URL": _database_url(), "REDIS_URL": django_settings.REDIS_URL,
               "SECRET_KEY": django_settings.SECRET_KEY, "SITE_URL": site,
               "WIREFLOW_SCHEDULE_TICK_SECONDS": "1"}
        self.name = name
        self.log_path = directory / f"{name}.log"
        with self.log_path.open("w") as log:
            self.process = subprocess.Popen(
                [CELERY, "-A", "wireflow_site", "beat", "--loglevel", "INFO",
                 "--schedule", str(directory / f"{name}-schedule"),
                 "--pidfile", str(directory / f"{name}.pid"), "--max-interval", "1"],
                cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True)

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace")

    def never_ticked(self) -> str:
        return f"{self.name} never ticked:\n{self.log_text()[-3000:]}"

    def ticks(self) -> int:
        """How many times it has sent the schedules' task so far."""
        if self.process.poll() is not None:
            raise AssertionError(f"beat {self.name} exited with {self.process.returncode}:\n"
                                 f"{self.log_text()[-3000:]}")
        return self.log_text().count(TICK)

    def stop(self) -> None:
        stop_group(self.process, timeout=10)


@pytest.fixture
def beats(live_site: str, tmp_path: Path) -> Iterator[list[Beat]]:
    started = [Beat(name, tmp_path, live_site) for name in ("beat-a", "beat-b")]
    try:
        for beat in started:
            wait_until(beat.ticks, START_TIMEOUT, beat.never_ticked)
        yield started
    finally:
        for beat in started:
            beat.stop()


def _queue_length() -> int:
    return int(redis.Redis.from_url(django_settings.CELERY_BROKER_URL).llen("celery"))


def _add_schedule(api: ApiClient, cron: str = "* * * * *") -> str:
    workflow = create_workflow(api)
    response = api.post(f"/workflows/{workflow['id']}/schedules", {"cron": cron})
    assert response.status_code == 201, response.content
    return str(response.json()["id"])


def _runs(schedule_id: str) -> list[Execution]:
    return list(Execution.objects.filter(schedule_id=schedule_id, trigger="schedule"))


def test_two_beats_fire_an_every_minute_schedule_once_within_70_seconds(
        live_site: str, api: ApiClient, worker_factory: Callable[..., Worker],
        beats: list[Beat]) -> None:
    worker_factory("sched", beat=False, concurrency=2)
    schedule_id = _add_schedule(api)
    [execution] = wait_until(lambda: _runs(schedule_id), FIRE_WITHIN,
                             "the schedule did not fire within the minute")
    # Both beats tick twice more after the fire, and the worker has taken every tick they sent:
    # any pass that could have raced for the same minute has run by then.
    seen = {beat.name: beat.ticks() for beat in beats}
    wait_until(lambda: all(beat.ticks() >= seen[beat.name] + 2 for beat in beats), 30,
               lambda: f"the beats stopped ticking: {seen}")
    wait_until(lambda: _queue_length() == 0, 30, "the worker did not take the ticks")
    assert len(_runs(schedule_id)) == 1
    wait_until(lambda: Execution.objects.get(pk=execution.pk).status
               == ExecutionStatus.COMPLETED, 60, "the scheduled run did not complete")
    schedule = Schedule.objects.get(pk=schedule_id)
    assert schedule.last_execution_id == execution.pk and schedule.last_error == ""
    assert schedule.next_run_at is not None and schedule.next_run_at > execution.created_at
    quiesce()


@pytest.fixture
def embedded(live_site: str, settings: Any) -> Iterator[str]:
    """The embedded mode, its in-process scheduler started as the ASGI app starts it, looking
    for due schedules every half second. Stopped afterwards."""
    flush_broker()
    settings.EMBEDDED = True
    settings.SCHEDULE_TICK_SECONDS = 0.5
    scheduler()
    yield live_site
    settings.EMBEDDED = False
    scheduler_stop()
    flush_broker()


def test_the_embedded_scheduler_fires_a_due_schedule_without_a_broker(embedded: str,
                                                                      api: ApiClient) -> None:
    schedule_id = _add_schedule(api)
    # Due now rather than at the next minute: the cron arithmetic is covered elsewhere; this is
    # about who fires it.
    Schedule.objects.filter(pk=schedule_id).update(next_run_at=timezone.now())
    [execution] = wait_until(lambda: _runs(schedule_id), 30,
                             "the in-process scheduler did not fire the schedule")
    wait_until(lambda: Execution.objects.get(pk=execution.pk).status
               == ExecutionStatus.COMPLETED, 60, "the scheduled run did not complete")
    assert len(_runs(schedule_id)) == 1
    assert _queue_length() == 0, "a Celery task was sent in the embedded mode"

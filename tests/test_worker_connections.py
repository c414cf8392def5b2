"""A worker's kept database connection between its tasks (wireflow_site/celery.py): with
CONN_HEALTH_CHECKS, Django checks a kept connection with a `SELECT 1` before each task's first
query; one that served the thread's last task a moment ago goes without it, one idle for longer
is checked as before."""

import time
from collections.abc import Iterator

import pytest
from django.db import connection

from wireflow_site import celery as worker

pytestmark = pytest.mark.django_db(transaction=True)  # autocommit, as a worker's connection is


@pytest.fixture
def checks(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """The health checks made on the connection, once it is kept and checked as a worker's is
    (the test settings close it after each use instead)."""
    monkeypatch.setitem(connection.settings_dict, "CONN_MAX_AGE", 60)
    monkeypatch.setitem(connection.settings_dict, "CONN_HEALTH_CHECKS", True)
    connection.close()  # the next one is made with those settings
    made: list[str] = []
    is_usable = connection.is_usable

    def counted() -> bool:
        made.append(connection.alias)
        return is_usable()

    monkeypatch.setattr(connection, "is_usable", counted)
    yield made
    connection.close()


def a_task() -> None:
    worker._connections_before_a_task()
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    worker._connections_after_a_task()


def test_a_task_right_after_the_last_one_uses_its_connection_without_a_check(
        checks: list[str]) -> None:
    a_task()
    kept = connection.connection
    a_task()
    a_task()
    assert connection.connection is kept  # the same connection, kept throughout
    assert checks == []


def test_a_connection_idle_for_longer_is_checked_before_the_next_task(
        checks: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    a_task()
    monkeypatch.setattr(worker, "FRESH_SECONDS", 0.0)  # any idle time is longer now
    a_task()
    assert checks == ["default"]


def test_a_connection_other_than_the_one_kept_is_checked(checks: list[str]) -> None:
    a_task()
    worker._kept.by_alias = {"default": (object(), time.monotonic())}  # not this one
    a_task()
    assert checks == ["default"]

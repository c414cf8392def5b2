"""A worker keeps its PostgreSQL connection from task to task, as a web process does from
request to request: Celery's Django fixup would close it (and psycopg's whole pool) around every
task, so that each advance opened a new connection. Django's own rule applies instead."""

import pytest
from celery import signals
from celery.fixups.django import DjangoWorkerFixup  # type: ignore[attr-defined]  # not in celery-types
from django.db import connection

from wireflow_site.celery import app


@pytest.mark.django_db(transaction=True)
def test_celerys_fixup_leaves_the_connection_and_django_decides() -> None:
    connection.ensure_connection()
    DjangoWorkerFixup(app).close_database()  # what Celery runs before and after each task
    assert connection.connection is not None

    # After the task, Django's per-request rule: here CONN_MAX_AGE is 0 (the tests' settings),
    # so the connection goes; in production it is kept for a minute and checked before reuse.
    signals.task_postrun.send(sender=None)
    assert connection.connection is None

import os
import threading
import time
from typing import Any

from celery import Celery, signals
from django.db import close_old_connections, connections

from wireflow_site import brokerfix, heap, task_limits

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "wireflow_site.settings")

brokerfix.install()  # a lost Redis connection must not end the worker (see the module)
app = Celery("wireflow")
app.config_from_object("wireflow_site.celery_settings:SETTINGS", namespace="CELERY")
app.autodiscover_tasks()

# Celery's Django fixup closes the database connection before and after every task, and with
# psycopg's pool closes the whole pool: each advance then opened a new PostgreSQL connection
# (a backend to fork, authentication, a pool's threads to start). Its closing is pushed out of
# reach, and connections are handled per task as Django handles them per request: reused within
# CONN_MAX_AGE (health-checked), handed back to the pool, dropped when unusable. After a fork
# the fixup still closes what the child inherited.
app.conf["CELERY_DB_REUSE_MAX"] = 2**62


@signals.task_prerun.connect
def _connections_before_a_task(**_: Any) -> None:
    close_old_connections()
    _trust_the_fresh()


@signals.task_postrun.connect
def _connections_after_a_task(**_: Any) -> None:
    close_old_connections()
    _note_the_kept()


# With CONN_HEALTH_CHECKS (a worker's plain connections), Django checks a kept connection with a
# `SELECT 1` round trip before its first query in each task: one more statement for every
# advance, most of them a few milliseconds after the last task on the same connection. One
# that ended its last task less than FRESH_SECONDS ago, without an error (close_old_connections
# checks and drops those itself), is taken as alive: a PostgreSQL restart takes longer than that,
# and a connection that dies meanwhile fails its task, which the engine takes up again (a lease
# that expires, the sweeper). One idle for longer is checked as before.
FRESH_SECONDS = 1.0
_kept = threading.local()  # by_alias: this thread's kept connections, alias -> (connection, when)


def _note_the_kept() -> None:
    now = time.monotonic()
    _kept.by_alias = {conn.alias: (conn.connection, now)
                      for conn in connections.all(initialized_only=True)
                      if conn.connection is not None}


def _trust_the_fresh() -> None:
    kept: dict[str, tuple[Any, float]] = getattr(_kept, "by_alias", {})
    now = time.monotonic()
    for conn in connections.all(initialized_only=True):
        connection, when = kept.get(conn.alias, (None, 0.0))
        if conn.connection is not None and conn.connection is connection \
                and now - when < FRESH_SECONDS:
            conn.health_check_done = True  # type: ignore[attr-defined]  # Django's own flag


# The threads pool (many passes overlapping their I/O in one process) enforces no time limit:
# task_limits does, as prefork would (engine.md: every task has a hard time limit).
signals.worker_init.connect(task_limits.install, weak=False)


@signals.worker_ready.connect  # the consumer, and the threads pool's tasks: the pool started
def _settle_heap(**_: Any) -> None:
    heap.settle()


@signals.worker_process_init.connect  # each prefork child, after its fork
def _settle_forked_heap(**_: Any) -> None:
    heap.settle(collect=False)

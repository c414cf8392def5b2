import os
from typing import Any

from celery import Celery, signals
from django.db import close_old_connections

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
@signals.task_postrun.connect
def _connections_as_a_request_would(**_: Any) -> None:
    close_old_connections()


# The threads pool (many passes overlapping their I/O in one process) enforces no time limit:
# task_limits does, as prefork would (engine.md: every task has a hard time limit).
signals.worker_init.connect(task_limits.install, weak=False)


@signals.worker_ready.connect  # the consumer, and the threads pool's tasks: the pool started
def _settle_heap(**_: Any) -> None:
    heap.settle()


@signals.worker_process_init.connect  # each prefork child, after its fork
def _settle_forked_heap(**_: Any) -> None:
    heap.settle(collect=False)

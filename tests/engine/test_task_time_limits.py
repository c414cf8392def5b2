"""A pass stuck on a provider is cut short at the task's soft time limit, on Celery's prefork
pool (Celery enforces it) and on its threads pool (wireflow_site/task_limits.py does): the one
slot of the worker is free again, and the job is not submitted a second time."""

import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler

import pytest

from executions.models import Execution
from tests.conftest import ApiClient
from tests.harness import POOLS, LocalHTTPServer, Worker, flush_broker, wait_until
from wireflow_site.celery import app

from .helpers import create_workflow, edge, execute, node, wait_for

pytestmark = pytest.mark.django_db(transaction=True)


class StuckProvider:
    """A provider whose submit endpoint takes every request and answers none (until closed)."""

    def __init__(self) -> None:
        self.submits = 0
        self.released = threading.Event()
        provider = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (the stdlib's name)
                provider.submits += 1
                provider.released.wait(120)
                self.send_response(503)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = LocalHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.released.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def stuck() -> Iterator[StuckProvider]:
    provider = StuckProvider()
    yield provider
    provider.close()


@pytest.mark.parametrize("pool", POOLS)
def test_a_pass_stuck_on_a_provider_is_cut_short_at_the_soft_limit_and_frees_the_slot(
        pool: str, sim_site: str, api: ApiClient, stuck: StuckProvider,
        worker_factory: Callable[..., Worker], monkeypatch: pytest.MonkeyPatch) -> None:
    flush_broker()
    # A task's limits travel in its message, from the sender's task object (which caches them
    # once it has sent one): this process's and the worker's alike.
    task = app.tasks["executions.advance"]
    monkeypatch.setattr(task, "soft_time_limit", 2)
    monkeypatch.setattr(task, "time_limit", 60)
    monkeypatch.setattr(task, "_exec_options", None)
    worker = worker_factory(f"limits-{pool}", concurrency=1, pool=pool, env={
        "FAL_QUEUE_URL": stuck.url, "CELERY_TASK_SOFT_TIME_LIMIT": "2",
        "CELERY_TASK_TIME_LIMIT": "60"})
    waiting = execute(api, create_workflow(api, [node("g", "generate:flux_2",
                                                      prompt="never answered")], []))
    wait_until(lambda: stuck.submits, 60, "the worker never submitted the job")
    # Well before the provider's own 30 s timeout would end that call.
    wait_until(lambda: f"advancing {waiting} was cut short" in worker.log_text(), 20,
               lambda: f"the pass was not cut short:\n{worker.log_text()}")
    # The one slot is free again: a quick run goes through.
    quick = create_workflow(api, [node("t", "input:text", text="hi"),
                                  node("u", "utility:prompt_concat"),
                                  node("o", "output:result")],
                            [edge("t", "text", "u", "texts"), edge("u", "text", "o", "value")])
    poll = wait_for(api, execute(api, quick), timeout=60)
    assert poll["status"] == "COMPLETED", poll
    assert stuck.submits == 1
    assert Execution.objects.get(pk=waiting).status == "RUNNING"  # its node ends at its deadline
    assert worker.process.poll() is None  # a soft limit does not end the worker

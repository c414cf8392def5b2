"""Engine tests run the production path: the API in this process, a real Celery worker (with
beat, for the sweeper) in another, PostgreSQL and Redis, and the fal simulator served by the
live ASGI server as the remote side."""

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from django.conf import settings

ROOT = Path(__file__).resolve().parents[2]
CELERY = str(Path(sys.executable).with_name("celery"))


def _database_url() -> str:
    db = settings.DATABASES["default"]
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    return (f"postgres://{db['USER']}{password}@{db['HOST'] or '127.0.0.1'}:"
            f"{db['PORT'] or 5432}/{db['NAME']}")


class Worker:
    """A Celery worker process on the test database; `kill()` is SIGKILL, no goodbyes."""

    def __init__(self, site: str, name: str, concurrency: int = 2, beat: bool = True) -> None:
        env = {**os.environ,
               "DJANGO_SETTINGS_MODULE": "wireflow_site.settings_test",
               "DATABASE_URL": _database_url(), "REDIS_URL": settings.REDIS_URL,
               "SECRET_KEY": settings.SECRET_KEY, "SITE_URL": site,
               "FAL_QUEUE_URL": f"{site}/_sim/fal", "WIREFLOW_SIMULATORS": "1",
               "WIREFLOW_SWEEP_SECONDS": "1", "WIREFLOW_LEASE_SECONDS": "5"}
        args = [CELERY, "-A", "wireflow_site", "worker", "--loglevel", "WARNING",
                "--concurrency", str(concurrency), "-n", f"{name}@%h", "--without-gossip",
                "--without-mingle", "--without-heartbeat"]
        if beat:
            schedule = ROOT / "var" / f"beat-{name}-{os.getpid()}"
            args += ["-B", "--schedule", str(schedule)]
        self.log = (ROOT / "var" / f"worker-{name}.log").open("w")
        self.process = subprocess.Popen(args, cwd=ROOT, env=env, stdout=self.log,
                                        stderr=subprocess.STDOUT, start_new_session=True)

    def kill(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill()
        self.log.close()


def _flush_broker() -> None:
    redis.Redis.from_url(settings.REDIS_URL).flushdb()


def _start(site: str, name: str, **kwargs: Any) -> Worker:
    worker = Worker(site, name, **kwargs)
    time.sleep(1.5)  # let it connect to the broker before work is queued
    return worker


@pytest.fixture
def worker_factory(_asgi_server: str) -> Iterator[Callable[..., Worker]]:
    """Start workers for one test; they are stopped, and the broker emptied, when it ends."""
    started: list[Worker] = []

    def start(name: str = "w1", **kwargs: Any) -> Worker:
        started.append(_start(_asgi_server, name, **kwargs))
        return started[-1]

    yield start
    for worker in started:
        worker.stop()
    _flush_broker()


@pytest.fixture(scope="module")
def _module_worker(_asgi_server: str) -> Iterator[Worker]:
    _flush_broker()
    worker = _start(_asgi_server, "module")
    yield worker
    worker.stop()
    _flush_broker()


@pytest.fixture
def sim_site(live_site: str, settings: Any) -> str:
    """The live site with the simulator as fal and a clean simulator."""
    settings.SITE_URL = live_site
    settings.FAL_QUEUE_URL = f"{live_site}/_sim/fal"
    from executions.simulators.state import reset_simulator

    reset_simulator()
    return live_site


@pytest.fixture
def engine(sim_site: str, _module_worker: Worker) -> Iterator[str]:
    """The live site with the simulator as fal, and a worker running executions. Afterwards,
    executions still running are cancelled and waited for, so that the worker is not writing
    while the test database is emptied."""
    yield sim_site
    _quiesce()


def _quiesce(timeout: float = 15.0) -> None:
    from executions.models import Execution, ExecutionStatus
    from executions.services import execution_cancel

    deadline = time.monotonic() + timeout
    running = Execution.objects.filter(status=ExecutionStatus.RUNNING)
    while running.exists() and time.monotonic() < deadline:
        for execution in running.filter(cancel_requested=False):
            execution_cancel(execution)
        time.sleep(0.1)
    time.sleep(0.3)  # let the last advance commit and release its lease

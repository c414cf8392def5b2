"""The engine harness: real Celery worker processes (with beat, for the sweeper) on the test
database and Redis, for tests that run executions through the production path. Its fixtures
live in tests/conftest.py."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import redis
from django.conf import settings

ROOT = Path(__file__).resolve().parents[1]
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


def flush_broker() -> None:
    redis.Redis.from_url(settings.REDIS_URL).flushdb()


def start_worker(site: str, name: str, **kwargs: Any) -> Worker:
    worker = Worker(site, name, **kwargs)
    time.sleep(1.5)  # let it connect to the broker before work is queued
    return worker


def quiesce(timeout: float = 15.0) -> None:
    from executions.models import Execution, ExecutionStatus
    from executions.services import execution_cancel

    deadline = time.monotonic() + timeout
    running = Execution.objects.filter(status=ExecutionStatus.RUNNING)
    while running.exists() and time.monotonic() < deadline:
        for execution in running.filter(cancel_requested=False):
            execution_cancel(execution)
        time.sleep(0.1)
    time.sleep(0.3)  # let the last advance commit and release its lease

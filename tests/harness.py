"""The engine harness: real Celery worker processes (with beat, for the sweeper) on the test
database and Redis, for tests that run executions through the production path. Its fixtures
live in tests/conftest.py. `wait_until` is the one polling loop of the suite. Also the process
helpers the tests share: stopping a process group, manage.py as a `make dev` checkout runs it,
a management command's output, and the local HTTP server every test receiver is."""

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from io import StringIO
from pathlib import Path
from typing import Any, TypeVar

import httpx
import redis
from celery.utils.nodenames import host_format
from django.conf import settings
from django.core.management import call_command

ROOT = Path(__file__).resolve().parents[1]
CELERY = str(Path(sys.executable).with_name("celery"))
T = TypeVar("T")
# What the test run exports that a `make dev` checkout does not (it reads var/dev.env).
DEV_UNSET = {"SECRET_KEY", "DEBUG", "DATABASE_URL", "REDIS_URL", "SITE_URL", "WIREFLOW_ENV_FILE",
             "DJANGO_SETTINGS_MODULE", "WIREFLOW_SIMULATORS"}


class LocalHTTPServer(ThreadingHTTPServer):
    """The stdlib's threading HTTP server with a listen backlog that holds a burst. Its own is
    5: when more connections arrive together than its accept loop has taken (a simulator's
    webhooks side by side, on a loaded machine), the kernel drops the rest and each waits out
    TCP's SYN retransmission, 1 s, then 3, 7, 15: a test's deadline passes for no fault of the
    code under test."""

    request_queue_size = 128


@contextlib.contextmanager
def serving(handler: type[BaseHTTPRequestHandler]) -> Iterator[str]:
    """`handler` on a LocalHTTPServer of a free loopback port, on a thread: its base URL,
    until the block ends (the server then stops and lets go of its port)."""
    httpd = LocalHTTPServer(("127.0.0.1", 0), handler)
    httpd.daemon_threads = True  # a request still being answered does not hold up the end
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


class CountingCondition(threading.Condition):
    """A condition that counts its notifications: whether a change woke a waiting thread."""

    def __init__(self) -> None:
        super().__init__()
        self.notified = 0

    def notify(self, n: int = 1) -> None:
        self.notified += 1
        super().notify(n)


def wait_until(condition: Callable[[], T | None], timeout: float,
               message: str | Callable[[], str], interval: float = 0.05) -> T:
    """Poll `condition` until it returns something truthy, and return that. The timeout only
    bounds a hang (keep it generous: a loaded machine is slow, not wrong); past it, fail with
    `message` (a callable is called then, to describe the state at that moment)."""
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            text = message() if callable(message) else message
            raise AssertionError(f"{text} (still not so after {timeout:g} s)")
        time.sleep(interval)


def kill_group(process: subprocess.Popen[Any]) -> None:
    """SIGKILL to the process group `process` leads (started with start_new_session), if it
    is still running, and reap it."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)


def stop_group(process: subprocess.Popen[Any], timeout: float) -> None:
    """SIGTERM to the process group `process` leads, if it is still running; killed if it has
    not ended within `timeout` seconds."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            kill_group(process)


def command_output(name: str, *args: str) -> str:
    """What `manage.py <name> <args>` prints, run in this process (on the test database)."""
    out = StringIO()
    call_command(name, *args, stdout=out)
    return out.getvalue()


def dev_checkout(var: Path) -> None:
    """The var/dev.env `make dev` leaves in `var`."""
    (var / "dev.env").write_text("DEBUG=1\nSITE_URL=http://127.0.0.1:8000\n")


def dev_manage(var: Path, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """manage.py as a second terminal of a `make dev` checkout runs it: nothing exported, its
    var/ directory at `var`."""
    env = {k: v for k, v in os.environ.items() if k not in DEV_UNSET}
    return subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT,
                          env={**env, "WIREFLOW_VAR_DIR": str(var)},
                          capture_output=True, text=True, timeout=timeout, check=False)


def dev_shell_json(var: Path, script: str, timeout: float) -> Any:
    """What `script` prints last (one line of JSON), run by `manage.py shell` in a fresh `make
    dev` checkout in `var`: on its embedded SQLite database, migrated first."""
    dev_checkout(var)
    migrated = dev_manage(var, "migrate", "--noinput", "-v0", timeout=timeout)
    assert migrated.returncode == 0, migrated.stderr
    done = dev_manage(var, "shell", "-c", script, timeout=timeout)
    assert done.returncode == 0, done.stderr[-4000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def _database_url() -> str:
    db = settings.DATABASES["default"]
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    return (f"postgres://{db['USER']}{password}@{db['HOST'] or '127.0.0.1'}:"
            f"{db['PORT'] or 5432}/{db['NAME']}")

# The worker pools `make serve` supports (CELERY_POOL): what must hold of workers holds on each.
POOLS = ("prefork", "threads")


class Worker:
    """A Celery worker process on the test database; `kill()` is SIGKILL, no goodbyes."""

    def __init__(self, site: str, name: str, concurrency: int = 2, beat: bool = True,
                 pool: str = "prefork", env: dict[str, str] | None = None) -> None:
        env = {**os.environ,
               "DJANGO_SETTINGS_MODULE": "wireflow_site.settings_test",
               "DATABASE_URL": _database_url(), "REDIS_URL": settings.REDIS_URL,
               "SECRET_KEY": settings.SECRET_KEY, "SITE_URL": site,
               "FAL_QUEUE_URL": f"{site}/_sim/fal", "WIREFLOW_SIMULATORS": "1",
               "WIREFLOW_SWEEP_SECONDS": "1", "WIREFLOW_LEASE_SECONDS": "5",
               # Its log as it is written: a test may read it while the worker runs.
               "PYTHONUNBUFFERED": "1", **(env or {})}
        self.nodename = host_format(f"{name}@%h")
        args = [CELERY, "-A", "wireflow_site", "worker", "--loglevel", "WARNING",
                "--pool", pool, "--concurrency", str(concurrency), "-n", self.nodename,
                "--without-gossip",
                "--without-mingle", "--without-heartbeat"]
        if beat:
            schedule = ROOT / "var" / f"beat-{name}-{os.getpid()}"
            args += ["-B", "--schedule", str(schedule)]
        # One log per test process: another test run on this machine may start the same names.
        self.log_path = ROOT / "var" / f"worker-{name}-{os.getpid()}.log"
        self.log = self.log_path.open("w")
        self.process = subprocess.Popen(args, cwd=ROOT, env=env, stdout=self.log,
                                        stderr=subprocess.STDOUT, start_new_session=True)

    def wait_ready(self, timeout: float = 120) -> None:
        """Until the worker answers a control ping: its task consumer is started before its
        remote control, and one loop serves both. Fails with its log if it dies or never
        answers."""
        from wireflow_site.celery import app

        def answered() -> bool:
            if self.process.poll() is not None:
                raise RuntimeError(f"worker {self.nodename} exited with "
                                   f"{self.process.returncode}:\n{self.log_text()}")
            return bool(app.control.ping(destination=[self.nodename], timeout=0.5))

        wait_until(answered, timeout, lambda: f"worker {self.nodename} never answered a "
                                              f"ping; its log:\n{self.log_text()}")

    def log_text(self) -> str:
        self.log.flush()
        return self.log_path.read_text(errors="replace")[-5000:]

    def kill(self) -> None:
        kill_group(self.process)

    def stop(self) -> None:
        stop_group(self.process, timeout=10)
        self.log.close()


def flush_broker() -> None:
    redis.Redis.from_url(settings.REDIS_URL).flushdb()


def start_worker(site: str, name: str, **kwargs: Any) -> Worker:
    worker = Worker(site, name, **kwargs)
    try:
        worker.wait_ready()
    except BaseException:
        worker.stop()
        raise
    return worker


def settle_simulators(timeout: float = 60) -> None:
    """Until the in-process simulators have nothing due, running or being delivered, then
    drop what they had left for later: an ended test's jobs must not call back into the site
    (a webhook arriving while the test database is emptied deadlocks with it)."""
    from executions.simulators import deliveries
    from executions.simulators.timers import drawing, timers

    def busy() -> bool:
        return bool(deliveries.in_flight() or timers.busy() or drawing.busy())

    def settled() -> bool:
        if busy():
            return False
        timers.discard_pending()
        drawing.discard_pending()
        return not busy()  # a call that started meanwhile is waited for too

    wait_until(settled, timeout, lambda: f"the simulators did not settle: "
                                         f"{deliveries.in_flight()} webhooks in flight")


def quiesce(timeout: float = 120) -> None:
    """Cancel every execution still running and wait until the engine is done with them: none
    RUNNING and no lease held (an advance that ended one still writes until it lets go)."""
    from executions.models import Execution, ExecutionStatus
    from executions.services import execution_cancel

    running = Execution.objects.filter(status=ExecutionStatus.RUNNING)
    leased = Execution.objects.exclude(lease_owner="")

    def settled() -> bool:
        for execution in running.filter(cancel_requested=False):
            execution_cancel(execution)
        return not running.exists() and not leased.exists()

    wait_until(settled, timeout, lambda: f"the engine did not settle: "
                                         f"{running.count()} running, {leased.count()} leased")


class ProductionWeb:
    """The site as `make serve` runs it (production settings, DEBUG off, uvicorn with several
    worker processes, each with its own PostgreSQL connection pool) on the test database. Or
    another ASGI application of the project (`app`, its `settings_module`), ready once
    `ready_path` answers 200 to a GET with `ready_headers`."""

    def __init__(self, workers: int = 2, *, app: str = "wireflow_site.asgi:application",
                 settings_module: str = "wireflow_site.settings", ready_path: str = "/healthz",
                 ready_headers: dict[str, str] | None = None, **env: str) -> None:
        self.ready_path, self.ready_headers = ready_path, ready_headers or {}
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = int(sock.getsockname()[1])
        self.url = f"http://127.0.0.1:{self.port}"
        unset = {"DJANGO_SETTINGS_MODULE", "DEBUG", "WIREFLOW_DB_POOL_SIZE"}
        full_env = {**{k: v for k, v in os.environ.items() if k not in unset},
                    "DJANGO_SETTINGS_MODULE": settings_module, "WIREFLOW_ENV_FILE": "",
                    "DATABASE_URL": _database_url(), "REDIS_URL": settings.REDIS_URL,
                    "SECRET_KEY": settings.SECRET_KEY, "SITE_URL": self.url,
                    "ALLOWED_HOSTS": "127.0.0.1", "LOG_LEVEL": "WARNING", **env}
        self.log_path = ROOT / "var" / f"web-{self.port}-{os.getpid()}.log"
        self.log = self.log_path.open("w")
        self.process = subprocess.Popen(
            [str(Path(sys.executable).with_name("uvicorn")), app, "--host", "127.0.0.1",
             "--port", str(self.port), "--workers", str(workers), "--timeout-keep-alive", "75",
             "--log-level", "warning"],
            cwd=ROOT, env=full_env, stdout=self.log, stderr=subprocess.STDOUT,
            start_new_session=True)
        wait_until(self._ready, 120, lambda: f"the web server never answered:\n{self.log_text()}")

    def _ready(self) -> bool:
        if self.process.poll() is not None:
            raise RuntimeError(f"the web server exited:\n{self.log_text()}")
        try:
            answer = httpx.get(f"{self.url}{self.ready_path}", headers=self.ready_headers,
                               timeout=2)
        except httpx.HTTPError:
            return False
        return answer.status_code == 200

    def log_text(self) -> str:
        self.log.flush()
        return self.log_path.read_text(errors="replace")[-5000:]

    def stop(self) -> None:
        stop_group(self.process, timeout=30)
        self.log.close()

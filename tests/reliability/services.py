"""Throwaway backing services and a whole Wireflow deployment on them, for tests that stop and
start PostgreSQL or Redis under running executions (the shared ones on this machine are never
touched: other test runs use them).

- `RedisServer`: a redis-server of our own, in-memory only (no RDB, no AOF), so a restart loses
  everything it held, as a crashed or replaced Redis does: queued Celery tasks included.
- `PostgresCluster`: an initdb'ed cluster of our own (trust auth, 127.0.0.1 only), run as the
  `postgres` user when the tests run as root (PostgreSQL refuses to run as root).
- `Deployment`: what `make serve` runs (uvicorn web processes with their connection pools, a
  Celery worker, Celery beat) on those services, plus the fal simulator as a separate "provider"
  site with a Redis of its own: the real fal keeps its jobs when our Redis restarts, and so must
  the simulated one, or a Redis restart would fail jobs for a reason production never sees.
Every process logs to a file in the deployment's directory; `logs()` gives their tails for
failure messages.
"""

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from contextlib import ExitStack
from glob import glob
from pathlib import Path
from typing import Any

import httpx
import psycopg
import redis
from celery import Celery

from tests.conftest import _free_port
from tests.harness import ROOT, stop_group, wait_until

BIN = Path(sys.executable).parent
START_TIMEOUT = 120  # bounds a hang: a loaded two-core machine starts Django slowly
SECRET_KEY = "reliability-restarts-only-insecure-key"


class ServiceError(AssertionError):
    """A throwaway service could not be set up (a failure of the test, never a skip)."""


def _run(args: list[str], timeout: float = START_TIMEOUT, **kwargs: Any) -> str:
    done = subprocess.run(args, capture_output=True, text=True, timeout=timeout, check=False,
                          **kwargs)
    if done.returncode != 0:
        raise ServiceError(f"{' '.join(args)} exited with {done.returncode}:\n"
                           f"{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    return str(done.stdout)


def _tail(path: Path, chars: int = 3000) -> str:
    try:
        return path.read_text(errors="replace")[-chars:]
    except OSError:
        return "(no log)"


# What a process said about its own life (a lost broker, a shutdown, a crash): a long
# traceback at the end of its log must not hide why it began.
LANDMARKS = ("CRITICAL", "ERROR", "Warm shutdown", "Cold shutdown", "Unrecoverable",
             "Connection to broker lost", "Restarting", "exited", "signal")


def _landmarks(path: Path, lines: int = 30) -> str:
    try:
        found = [line[:300] for line in path.read_text(errors="replace").splitlines()
                 if any(mark in line for mark in LANDMARKS)]
    except OSError:
        return ""
    return "".join(f"| {line}\n" for line in found[:lines // 2] + found[-lines // 2:]) \
        if len(found) > lines else "".join(f"| {line}\n" for line in found)


class Process:
    """A long-running child in a session of its own, logging to a file."""

    def __init__(self, name: str, args: list[str], log_path: Path,
                 env: dict[str, str] | None = None) -> None:
        self.name = name
        self.log_path = log_path
        with log_path.open("a") as log:
            self.process = subprocess.Popen(args, cwd=ROOT, env=env, stdout=log,
                                            stderr=subprocess.STDOUT, start_new_session=True)

    def check_alive(self) -> None:
        if self.process.poll() is not None:
            raise ServiceError(f"{self.name} exited with {self.process.returncode}:\n"
                               f"{_tail(self.log_path)}")

    def stop(self, timeout: float = 30) -> None:
        stop_group(self.process, timeout)


class Restartable:
    """A service that stops and starts again in place (same port, same files)."""

    def start(self) -> None:
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError

    def restart(self, while_down: Callable[[], object] | None = None) -> None:
        """Stop, call `while_down` (if given) while the service is down, start again."""
        self.stop()
        if while_down is not None:
            while_down()
        self.start()


# --- Redis --------------------------------------------------------------------------------

class RedisServer(Restartable):
    def __init__(self, directory: Path, name: str = "redis") -> None:
        self.name = name
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)
        self.port = _free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.log_path = directory / f"{name}.log"
        self.process: Process | None = None

    def start(self) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise ServiceError("redis-server is not installed (apt-get install redis-server)")
        self.process = Process(self.name, [
            binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
            "--appendonly", "no", "--dir", str(self.directory), "--protected-mode", "no",
            "--daemonize", "no"], self.log_path)
        wait_until(self._answers, START_TIMEOUT,
                   lambda: f"{self.name} never answered:\n{_tail(self.log_path)}", interval=0.1)

    def _answers(self) -> bool:
        assert self.process is not None
        self.process.check_alive()
        try:
            return bool(redis.Redis(port=self.port, socket_timeout=1).ping())
        except redis.RedisError:
            return False

    def stop(self) -> None:
        if self.process is not None:
            self.process.stop()
            self.process = None


# --- PostgreSQL -------------------------------------------------------------------------------

def postgres_bindir() -> Path:
    """The newest installed PostgreSQL's binaries; a clear failure if there are none."""
    candidates = sorted(glob("/usr/lib/postgresql/*/bin/initdb"),
                        key=lambda path: int(Path(path).parts[-3]) if Path(path).parts[-3]
                        .isdigit() else 0)
    found = Path(candidates[-1]).parent if candidates else None
    if found is None and shutil.which("initdb") and shutil.which("pg_ctl"):
        found = Path(str(shutil.which("initdb"))).parent
    if found is None:
        raise ServiceError("PostgreSQL server binaries (initdb, pg_ctl) were not found under "
                           "/usr/lib/postgresql/*/bin or on PATH: install postgresql to run "
                           "the restart tests")
    return found


class PostgresCluster(Restartable):
    """initdb, pg_ctl start/stop on a port of our own; as `postgres` when we are root."""

    def __init__(self, directory: Path) -> None:
        self.bindir = postgres_bindir()
        self.directory = directory
        self.data = directory / "data"
        self.log_path = directory / "postgres.log"
        self.port = _free_port()
        self.url = f"postgres://postgres@127.0.0.1:{self.port}/wireflow"
        self.started = False
        directory.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            shutil.chown(directory, "postgres", "postgres")
            self.prefix = ["runuser", "-u", "postgres", "--"]
        else:
            self.prefix = []

    def _pg(self, tool: str, *args: str, timeout: float = START_TIMEOUT) -> str:
        return _run([*self.prefix, str(self.bindir / tool), *args], timeout=timeout)

    def init(self) -> None:
        self._pg("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres", "-E", "UTF8",
                 "--no-sync", "--no-instructions")
        self.start()
        with psycopg.connect(f"postgres://postgres@127.0.0.1:{self.port}/postgres",
                             autocommit=True) as conn:
            conn.execute("CREATE DATABASE wireflow")

    def start(self) -> None:
        # No durability needed for a throwaway cluster; the socket stays inside its directory.
        options = (f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.directory} "
                   "-c fsync=off -c synchronous_commit=off -c full_page_writes=off "
                   "-c max_connections=200")
        self._pg("pg_ctl", "-D", str(self.data), "-l", str(self.log_path), "-o", options,
                 "-w", "-t", str(START_TIMEOUT), "start")
        self.started = True

    def stop(self, mode: str = "fast") -> None:
        """`fast`: the server ends every session and stops, as a restart by an operator does."""
        if self.started:
            self._pg("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "-t", "60", "stop")
            self.started = False

    def query(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]] | None:
        """Rows, or None while the server is not answering."""
        try:
            with psycopg.connect(self.url, connect_timeout=3) as conn:
                return list(conn.execute(sql, params).fetchall())
        except psycopg.OperationalError:
            return None

    def log_text(self) -> str:
        return _tail(self.log_path)


def throwaway_services(cleanup: ExitStack,
                       prefix: str) -> tuple[Path, PostgresCluster, RedisServer]:
    """A new temporary directory with a PostgreSQL cluster and a Redis of our own in it, both
    started: (the directory, the cluster, the Redis). `cleanup` stops them and removes it."""
    base = Path(tempfile.mkdtemp(prefix=prefix))
    base.chmod(0o755)  # the postgres user must reach its cluster's directory inside
    cleanup.callback(shutil.rmtree, base, ignore_errors=True)
    postgres = PostgresCluster(base / "postgres")
    cleanup.callback(postgres.stop, "immediate")
    postgres.init()
    redis_server = RedisServer(base / "redis")
    cleanup.callback(redis_server.stop)
    redis_server.start()
    return base, postgres, redis_server


# --- The deployment ---------------------------------------------------------------------------

class Deployment:
    """Web (uvicorn, production settings), a Celery worker and Celery beat on `postgres` and
    `redis`, and the fal simulator as an outside provider on a Redis of its own."""

    def __init__(self, directory: Path, postgres: PostgresCluster, redis_server: RedisServer,
                 provider_redis: RedisServer) -> None:
        self.directory = directory
        self.postgres = postgres
        self.redis = redis_server
        self.provider_redis = provider_redis
        self.web_port = _free_port()
        self.provider_port = _free_port()
        self.url = f"http://127.0.0.1:{self.web_port}"
        self.provider_url = f"http://127.0.0.1:{self.provider_port}"
        self.processes: list[Process] = []
        self.api_key = ""

    def env(self, **extra: str) -> dict[str, str]:
        unset = {"DJANGO_SETTINGS_MODULE", "DEBUG", "WIREFLOW_DB_POOL_SIZE", "FAL_KEY",
                 "CELERY_BROKER_URL", "MEDIA_ROOT"}
        return {**{k: v for k, v in os.environ.items() if k not in unset},
                "DJANGO_SETTINGS_MODULE": "wireflow_site.settings", "WIREFLOW_ENV_FILE": "",
                "DATABASE_URL": self.postgres.url, "REDIS_URL": self.redis.url,
                "SECRET_KEY": SECRET_KEY, "SITE_URL": self.url, "ALLOWED_HOSTS": "127.0.0.1",
                "LOG_LEVEL": "WARNING", "WIREFLOW_SIMULATORS": "1",
                "FAL_QUEUE_URL": f"{self.provider_url}/_sim/fal",
                # The provider and the site are both on 127.0.0.1, on different ports.
                "WIREFLOW_SSRF_ALLOW_HOSTS": "127.0.0.1",
                "WIREFLOW_RATE_LIMITS": "0", "WIREFLOW_SIGNUP_CREDITS": "1000000",
                "MEDIA_ROOT": str(self.directory / "media"),
                # The engine's timers, short as in the harness: sweeps every second, leases of
                # 5 s, so that recovery is seen within the test's bounds.
                "WIREFLOW_SWEEP_SECONDS": "1", "WIREFLOW_LEASE_SECONDS": "5",
                "WIREFLOW_SWEEP_GRACE_SECONDS": "3", **extra}

    def _start(self, name: str, args: list[str], env: dict[str, str]) -> Process:
        process = Process(name, args, self.directory / f"{name}.log", env)
        self.processes.append(process)
        return process

    def manage(self, *args: str) -> str:
        return _run([str(BIN / "python"), "manage.py", *args], cwd=ROOT,
                    env=self.env(WIREFLOW_DB_POOL_SIZE="0"))

    def start(self) -> None:
        self.manage("migrate", "--noinput")
        self.api_key = self.manage("createapikey", "--email", "restarts@example.com",
                                   "--name", "restarts").strip().splitlines()[-1]
        self.manage("setplan", "restarts@example.com", "enterprise")
        self._start_provider()
        web = self._start("web", [
            str(BIN / "uvicorn"), "wireflow_site.asgi:application", "--host", "127.0.0.1",
            "--port", str(self.web_port), "--workers", "2", "--timeout-keep-alive", "75",
            "--log-level", "warning"], self.env())
        # Workers hold one plain connection per process, as scripts/serve.sh runs them.
        worker_env = self.env(WIREFLOW_DB_POOL_SIZE="0")
        self._start("worker", [
            str(BIN / "celery"), "-A", "wireflow_site", "worker", "--loglevel", "WARNING",
            "--concurrency", "3", "-n", f"restarts-{os.getpid()}@%h", "--without-gossip",
            "--without-mingle"], worker_env)
        self._start("beat", [
            str(BIN / "celery"), "-A", "wireflow_site", "beat", "--loglevel", "WARNING",
            "--schedule", str(self.directory / "celerybeat-schedule")], worker_env)
        wait_until(lambda: self._healthy(web, self.url), START_TIMEOUT,
                   lambda: f"the web server never answered:\n{self.logs()}", interval=0.2)
        wait_until(self._worker_answers, START_TIMEOUT,
                   lambda: f"the Celery worker never answered a ping:\n{self.logs()}")

    def _start_provider(self) -> None:
        # Its own Redis (the simulator keeps its jobs in the cache) and no PostgreSQL at all:
        # an empty SQLite under its directory, which its views never query.
        provider_dir = self.directory / "provider"
        provider_dir.mkdir(exist_ok=True)
        env = self.env(REDIS_URL=self.provider_redis.url, DATABASE_URL="",
                       SITE_URL=self.provider_url, WIREFLOW_VAR_DIR=str(provider_dir),
                       MEDIA_ROOT=str(provider_dir / "media"))
        provider = self._start("provider", [
            str(BIN / "uvicorn"), "wireflow_site.asgi:application", "--host", "127.0.0.1",
            "--port", str(self.provider_port), "--workers", "1", "--log-level", "warning"], env)
        wait_until(lambda: self._healthy(provider, self.provider_url), START_TIMEOUT,
                   lambda: f"the provider never answered:\n{self.logs()}", interval=0.2)

    def _healthy(self, process: Process, url: str) -> bool:
        process.check_alive()
        try:
            return httpx.get(f"{url}/healthz", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    def _worker_answers(self) -> bool:
        for process in self.processes:
            process.check_alive()
        app = Celery(broker=self.redis.url, set_as_current=False)  # ours stays current
        try:
            return bool(app.control.ping(timeout=1))
        finally:
            app.close()

    def ready(self) -> bool:
        """The site's readiness probe passes: database, cache and broker answer it."""
        try:
            return httpx.get(f"{self.url}/readyz", timeout=5).status_code == 200
        except httpx.HTTPError:
            return False

    def stop(self) -> None:
        for process in reversed(self.processes):
            process.stop()

    def logs(self) -> str:
        parts = [f"--- {p.name} (exit {p.process.poll()}) ---\n{_landmarks(p.log_path)}"
                 f"{_tail(p.log_path, 2500)}" for p in self.processes]
        parts.append(f"--- postgres ---\n{self.postgres.log_text()}")
        return "\n".join(parts)


def api(deployment: Deployment) -> httpx.Client:
    return httpx.Client(base_url=f"{deployment.url}/api/v1", timeout=30,
                        headers={"Authorization": f"Bearer {deployment.api_key}"})


def retrying(call: Callable[[], httpx.Response], timeout: float = 60) -> httpx.Response:
    """The answer to a request, retried while the site says it is briefly unavailable (503) or
    the connection fails, as a client honouring Retry-After does."""
    answers: list[str] = []

    def answered() -> httpx.Response | None:
        try:
            response = call()
        except httpx.HTTPError as exc:
            answers.append(f"{type(exc).__name__}: {exc}")
            return None
        if response.status_code == 503:
            answers.append(f"503: {response.text[:200]}")
            return None
        return response

    response = wait_until(answered, timeout, lambda: f"no answer but: {answers[-3:]}",
                          interval=0.5)
    assert response is not None
    return response

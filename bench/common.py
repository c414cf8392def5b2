"""What every benchmark shares: a production-like site (uvicorn + a Celery worker on Redis +
PostgreSQL + the provider simulator), an API client with a key, the machine's facts, and the
results table. Every figure is printed beside a baseline measured in the same run."""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import json
import math
import multiprocessing
import os
import platform
import re
import signal
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psycopg
import redis

from tests.builders import edge, node  # the graphs the tests build, built the same way

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
RESULTS = ROOT / "bench" / "results"
DB_NAME = "wireflow_bench"
PG_URL = os.environ.get("BENCH_POSTGRES_URL", "postgres://postgres:postgres@127.0.0.1:5432")
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/13")
EMAIL = "bench@wireflow.local"
PASSWORD = "bench-password-1"  # noqa: S105 - a throwaway account on a throwaway database


@dataclass
class Result:
    id: str
    what: str
    figure: float | None
    unit: str
    baseline: float | None
    goal: str
    met: bool | None
    note: str = ""
    ratio: float | None = None

    def __post_init__(self) -> None:
        if self.ratio is None and self.figure is not None and self.baseline:
            self.ratio = round(self.figure / self.baseline, 3)


def _signal_group(process: subprocess.Popen[bytes], signum: int) -> None:
    """Signal the process group `process` leads (started with start_new_session)."""
    with contextlib.suppress(ProcessLookupError):  # the group has already gone
        os.killpg(process.pid, signum)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def machine() -> dict[str, Any]:
    memory_kb = next((int(line.split()[1]) for line in Path("/proc/meminfo").read_text()
                      .splitlines() if line.startswith("MemTotal")), 0)
    return {"cores": os.cpu_count(), "memoryGiB": round(memory_kb / 1024 / 1024, 1),
            "python": platform.python_version(), "platform": platform.platform()}


def redis_rtt_ms(samples: int = 200) -> float:
    client = redis.Redis.from_url(REDIS_URL)
    times = []
    for _ in range(samples):
        start = time.perf_counter()
        client.ping()
        times.append((time.perf_counter() - start) * 1000)
    return round(statistics.median(times), 3)


BENCH_RECEIVER_HOST = "127.0.0.2"
# The platform's fal key on the bench site: the site sends it and its simulator accepts it, so a
# benchmark can submit to the simulator directly (B2's provider alone) with the same key.
FAL_KEY = "bench-fal-key"
SIMULATOR_SETTINGS = "executions.simulators.server_settings"


@dataclass
class Site:
    """The site under test. Start with `with Site() as site:`."""

    web_workers: int = 2
    celery_concurrency: int = 2
    celery_pool: str = "prefork"  # or "threads" (scripts/serve.sh's CELERY_POOL)
    quick: bool = False  # `--quick`: shorter runs and fewer samples, the same figures
    url: str = ""
    sim_url: str = ""  # the providers' simulators, as the site reaches them
    api_key: str = ""
    env: dict[str, str] = field(default_factory=dict)
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def __enter__(self) -> Site:
        port, sim_port = free_port(), free_port()
        self.url = f"http://127.0.0.1:{port}"
        # The providers' simulators answer from a server of their own, as a real provider
        # would: their latency and their webhooks cost the site under test nothing extra.
        sim = self.sim_url = f"http://127.0.0.1:{sim_port}/_sim"
        self.env = {**os.environ, "DJANGO_SETTINGS_MODULE": "wireflow_site.settings",
                    "DEBUG": "0", "SECRET_KEY": "bench-not-secret", "SITE_URL": self.url,
                    "DATABASE_URL": f"{PG_URL}/{DB_NAME}", "REDIS_URL": REDIS_URL,
                    "FAL_QUEUE_URL": f"{sim}/fal", "REPLICATE_API_URL": f"{sim}/replicate",
                    "OPENAI_BASE_URL": f"{sim}/openai/v1",
                    "ANTHROPIC_BASE_URL": f"{sim}/anthropic",
                    "STABILITY_API_URL": f"{sim}/stability", "WIREFLOW_SIMULATORS": "1",
                    "WIREFLOW_RATE_LIMITS": "0", "WIREFLOW_SIGNUP_CREDITS": "10000000",
                    # Where a benchmark's own receiver listens for the simulators' webhooks
                    # (B2's provider-alone floor): a loopback address the site never uses.
                    "WIREFLOW_SSRF_ALLOW_HOSTS": BENCH_RECEIVER_HOST, "FAL_KEY": FAL_KEY,
                    # A provider renders its pictures on its own machines, not on the site's:
                    # the simulators draw theirs small (64x64 for a square), a third of the
                    # CPU of make dev's default size. The site only passes their URLs on.
                    "WIREFLOW_SIM_IMAGE_SCALE": "0.125", "LOG_LEVEL": "WARNING"}
        _recreate_database()
        redis.Redis.from_url(REDIS_URL).flushdb()
        self._manage("migrate", "--noinput")
        self.api_key = self._manage("createapikey", "--email", EMAIL, "--name", "bench"
                                    ).strip().splitlines()[-1]
        log = (ROOT / "var" / "bench-web.log").open("w")
        self.processes.append(subprocess.Popen(
            [str(BIN / "uvicorn"), "wireflow_site.asgi:application", "--host", "127.0.0.1",
             "--port", str(port), "--workers", str(self.web_workers), "--log-level", "warning"],
            cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True))
        sim_log = (ROOT / "var" / "bench-simulators.log").open("w")
        # Their routes alone, without the site's middleware (executions/simulators/asgi.py).
        self.processes.append(subprocess.Popen(
            [str(BIN / "uvicorn"), "executions.simulators.asgi:application", "--host",
             "127.0.0.1", "--port", str(sim_port), "--log-level", "warning"],
            cwd=ROOT, env={**self.env, "DJANGO_SETTINGS_MODULE": SIMULATOR_SETTINGS},
            stdout=sim_log, stderr=subprocess.STDOUT, start_new_session=True))
        worker_log = (ROOT / "var" / "bench-worker.log").open("w")
        self.processes.append(subprocess.Popen(
            [str(BIN / "celery"), "-A", "wireflow_site", "worker", "-B", "--loglevel", "WARNING",
             "--pool", self.celery_pool, "--concurrency", str(self.celery_concurrency),
             "--without-gossip",
             "--without-mingle", "--without-heartbeat",
             "--schedule", str(ROOT / "var" / "bench-beat-schedule")],
            # One plain connection per process or thread, as make serve runs its workers
            # (scripts/serve.sh), not the web processes' pool.
            cwd=ROOT, env={**self.env, "WIREFLOW_DB_POOL_SIZE": "0"}, stdout=worker_log,
            stderr=subprocess.STDOUT, start_new_session=True))
        try:
            self._wait_until_up()
        except BaseException:  # interrupted or never up: leave no server behind
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        # Each server leads a process group of its own (uvicorn's workers, Celery's pool and
        # beat): the whole group goes, so that no child outlives a parent killed mid-shutdown
        # and goes on holding memory and connections through the next benchmarks.
        for process in self.processes:
            _signal_group(process, signal.SIGTERM)
        for process in self.processes:
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=15)
            _signal_group(process, signal.SIGKILL)
            process.wait()

    def _manage(self, *args: str, check: bool = True) -> str:
        done = subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=self.env,
                              capture_output=True, text=True, check=False)
        if check and done.returncode != 0:
            raise RuntimeError(f"manage.py {args[0]} failed: {done.stderr}")
        return done.stdout

    def _wait_until_up(self) -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                # The simulators' server is up once it answers at all (401 without a key).
                if httpx.get(f"{self.url}/readyz", timeout=2).status_code == 200 and httpx.get(
                        f"{self.sim_url}/fal/_stats", timeout=2).status_code < 500:
                    time.sleep(2)  # and give the worker a moment to join the broker
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        raise RuntimeError("the site did not come up; see var/bench-web.log and "
                           "var/bench-simulators.log")

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=f"{self.url}/api/v1", timeout=60,
                            headers={"Authorization": f"Bearer {self.api_key}"})

    def session_cookie(self, email: str = EMAIL) -> str:
        """`name=value` of a logged-in session of the bench user, for the session-authenticated
        WebSocket: made inside the site's own settings, so it lands in its session store."""
        code = ("from django.conf import settings; from django.test import Client; "
                "from accounts.models import User; client = Client(); "
                f"client.force_login(User.objects.get(email={email!r})); "
                "name = settings.SESSION_COOKIE_NAME; "
                "print(name + '=' + client.cookies[name].value)")
        return self._manage("shell", "-c", code).strip().splitlines()[-1]

    def cpu_seconds(self) -> dict[str, float]:
        """CPU seconds (user + system) used so far by the web server, the provider simulator
        and the worker, each with its children, by PostgreSQL and Redis (every process of
        theirs on the machine), and by the whole machine (the rest is the load's clients and
        the kernel). Take two readings and subtract."""
        web, simulator, worker = (_cpu_seconds([p.pid, *children(p.pid)])
                                  for p in self.processes[:3])
        return {"web": web, "simulator": simulator, "worker": worker,
                "postgres": _named_cpu_seconds("postgres"),
                "redis": _named_cpu_seconds("redis-server"), "machine": _busy_seconds()}

    def sql(self, query: str, *params: Any) -> list[tuple[Any, ...]]:
        """Read the site's database directly (counting finished executions, say)."""
        with psycopg.connect(f"{PG_URL}/{DB_NAME}", autocommit=True) as conn:
            return conn.execute(query, params).fetchall()

    def wait_until_idle(self, workflow_id: str | None = None, timeout: float = 300) -> int:
        """Until no execution of the workflow (of any, without one) is RUNNING: a benchmark's
        backlog (B6's executes under wrk, say) must not load the machine under the next one;
        returns how many were still running at the deadline."""
        deadline = time.monotonic() + timeout
        while True:
            running = int(self.sql(
                "SELECT count(*) FROM executions_execution WHERE status = 'RUNNING' "
                "AND (%s::uuid IS NULL OR workflow_id = %s::uuid)", workflow_id, workflow_id)[0][0])
            if running == 0 or time.monotonic() > deadline:
                return running
            time.sleep(0.5)


QUIET_BUSY = 0.15  # of the machine's cores, over a second
QUIET_WAIT_S = 90


def wait_until_quiet() -> float:
    """Until the machine is nearly idle (under QUIET_BUSY of its cores busy over a second),
    at most QUIET_WAIT_S: what a benchmark before left running (PostgreSQL vacuuming the rows
    B5 and B6 wrote, the site's sweeper) must not slow the next one down. The seconds waited."""
    started = time.monotonic()
    cores = os.cpu_count() or 1
    while time.monotonic() - started < QUIET_WAIT_S:
        before = _busy_seconds()
        time.sleep(1.0)
        if (_busy_seconds() - before) / cores < QUIET_BUSY:
            break
    return time.monotonic() - started


def _busy_seconds() -> float:
    fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    busy = sum(int(v) for i, v in enumerate(fields) if i not in (3, 4))  # not idle, iowait
    return busy / os.sysconf("SC_CLK_TCK")


def cpu_note(used: dict[str, float]) -> str:
    """Two cpu_seconds() readings' difference, for a result's note."""
    parts = ", ".join(f"{part} {seconds:.1f}" for part, seconds in used.items())
    return f"CPU seconds used: {parts} (of {os.cpu_count()} cores)"


def _cpu_seconds(pids: list[int]) -> float:
    ticks = 0
    for pid in pids:
        stat = _stat(Path(f"/proc/{pid}/stat"))
        if stat is not None:
            ticks += sum(stat[1][11:13])  # utime, stime
    return ticks / os.sysconf("SC_CLK_TCK")


def _named_cpu_seconds(command: str) -> float:
    """Every process running `command`, with the children it has reaped: a PostgreSQL
    backend that exits between two readings is counted in its postmaster's."""
    ticks = 0
    for path in Path("/proc").glob("[0-9]*/stat"):
        stat = _stat(path)
        if stat is not None and stat[0] == command:
            ticks += sum(stat[1][11:15])  # utime, stime, cutime, cstime
    return ticks / os.sysconf("SC_CLK_TCK")


def _stat(path: Path) -> tuple[str, list[int]] | None:
    """A /proc/<pid>/stat: the command's name and the fields after it, in order (the state,
    a letter, as 0: utime is [11]), or None if the process is gone."""
    try:
        name, rest = path.read_text().split(" (", 1)[1].rsplit(")", 1)
    except (OSError, IndexError, ValueError):  # gone between listing and reading
        return None
    return name, [int(v) if v.lstrip("-").isdigit() else 0 for v in rest.split()]


def children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*/children"):
        for child in task.read_text().split():
            found += [int(child), *children(int(child))]
    return found


def _recreate_database() -> None:
    with psycopg.connect(f"{PG_URL}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{DB_NAME}"')


def utility_pipeline(text: str = "hi") -> tuple[list[Any], list[Any]]:
    """The 3-node utility pipeline of B4-B6: input:text -> utility:prompt_concat -> output."""
    nodes = [node("t", "input:text", text=text), node("u", "utility:prompt_concat"),
             node("o", "output:result")]
    return nodes, [edge("t", "text", "u", "texts"), edge("u", "text", "o", "value")]


def create_workflow(client: httpx.Client, nodes: list[Any], edges: list[Any]) -> str:
    response = client.post("/workflows", json={"name": "bench", "nodes": nodes, "edges": edges})
    response.raise_for_status()
    return str(response.json()["id"])


def run_to_end(client: httpx.Client, workflow_id: str, poll_every: float = 0.005,
               timeout: float = 120) -> tuple[float, dict[str, Any]]:
    """Seconds from the execute request to seeing a terminal status, and the last poll."""
    start = time.perf_counter()
    response = client.post(f"/workflows/{workflow_id}/execute", json={})
    response.raise_for_status()
    execution_id = response.json()["executionId"]
    while True:
        poll = client.get(f"/workflows/executions/{execution_id}/poll").json()
        if poll["status"] != "RUNNING":
            return time.perf_counter() - start, poll
        if time.perf_counter() - start > timeout:
            raise RuntimeError(f"execution {execution_id} still running after {timeout}s")
        time.sleep(poll_every)


def run_site_timed(client: httpx.Client, workflow_id: str,
                   timeout: float = 120) -> tuple[float, str, str]:
    """Execute over the API and wait for the end by reading the site's database (one indexed
    row every 50 ms), never by polling the API, so the waiting costs the site under test
    nothing. (seconds from its startedAt to its finishedAt, the site's own times; its status;
    its error)."""
    response = client.post(f"/workflows/{workflow_id}/execute", json={})
    response.raise_for_status()
    execution_id = response.json()["executionId"]
    deadline = time.monotonic() + timeout
    with psycopg.connect(f"{PG_URL}/{DB_NAME}", autocommit=True) as conn:
        while True:
            row = conn.execute(
                "SELECT status, error, extract(epoch FROM finished_at - started_at) "
                "FROM executions_execution WHERE id = %s", (execution_id,)).fetchone()
            if row is None:
                raise RuntimeError(f"execution {execution_id} is not in the database")
            status, error, took = row
            if status != "RUNNING":
                return float(took), str(status), str(error)
            if time.monotonic() > deadline:
                raise RuntimeError(f"execution {execution_id} still running after {timeout}s")
            time.sleep(0.05)


FAL_FLUX = "fal-ai/flux-2"  # generate:flux_2's model on fal


def provider_accept_ms(site: Site, samples: int = 1000, in_flight: int = 8) -> dict[str, float]:
    """CPU milliseconds per submit the simulator accepts: `samples` submits of jobs that never
    run ([sim hang]), `in_flight` at a time on kept-alive connections. "submit" is the
    simulator process's own CPU, "client" the caller's (this process, with the client the
    engine's provider calls use: executions/providers/io.py), each over the submits. The least
    a submit costs: the network stack comes on top."""
    from executions.providers.io import PooledClient  # needs no settings

    hook = f"{site.url}/hooks/provider/bench-floor/"

    async def submit(n: int, tag: str) -> None:
        limit = asyncio.Semaphore(in_flight)
        async with PooledClient() as http:
            async def one(i: int) -> int:
                async with limit:
                    answer = await http.request(
                        "POST", f"{site.sim_url}/fal/{FAL_FLUX}", params={"fal_webhook": hook},
                        headers={"Authorization": f"Key {FAL_KEY}"}, timeout=60,
                        json={"prompt": f"floor {tag} {i} [sim hang]", "image_size": "square"})
                    return answer.status_code
            codes = await asyncio.gather(*(one(i) for i in range(n)))
        refused = [code for code in codes if code != 200]
        if refused:
            raise RuntimeError(f"the simulator refused {len(refused)} submits: {refused[:3]}")

    asyncio.run(submit(in_flight, "warm"))  # its connections and first-call costs
    before, client_before = site.cpu_seconds()["simulator"], time.process_time()
    asyncio.run(submit(samples, "measured"))
    return {"submit": (site.cpu_seconds()["simulator"] - before) * 1000 / samples,
            "client": (time.process_time() - client_before) * 1000 / samples}


def commit_cpu_ms(samples: int = 1000) -> float:
    """Machine CPU milliseconds of one committed single-row UPDATE on the benchmarks' database,
    through psycopg with nothing around it (no ORM), over `samples`: the least a durable write
    costs (the client's side and PostgreSQL's, the WAL flushed at each commit)."""
    with psycopg.connect(f"{PG_URL}/{DB_NAME}") as conn:
        conn.execute("CREATE TEMP TABLE bench_commit (id int PRIMARY KEY, n int NOT NULL)")
        conn.execute("INSERT INTO bench_commit VALUES (1, 0)")
        conn.commit()
        before = _busy_seconds()
        for _ in range(samples):
            conn.execute("UPDATE bench_commit SET n = n + 1 WHERE id = 1")
            conn.commit()
        return (_busy_seconds() - before) * 1000 / samples


def celery_round_trip_ms(samples: int = 50) -> float:
    """A raw Celery no-op task round trip on the same Redis: the B1 baseline."""
    from celery import Celery

    app = Celery("bench", broker=REDIS_URL, set_as_current=False)
    client = redis.Redis.from_url(REDIS_URL)
    times = []
    for i in range(samples):
        key = f"bench:pong:{os.getpid()}:{i}"
        start = time.perf_counter()
        app.send_task("executions.ping", args=[key])
        if client.blpop([key], timeout=10) is None:
            raise RuntimeError("no Celery worker answered the ping")
        times.append((time.perf_counter() - start) * 1000)
    return round(statistics.median(times), 3)


def percentile(values: list[float], pct: float) -> float:
    """The nearest-rank percentile (p50, p95, p99) of at least one value."""
    ordered = sorted(values)
    rank = max(1, math.ceil(pct / 100 * len(ordered)))
    return ordered[rank - 1]


def parse_iso(text: str) -> float:
    """An API timestamp (2026-12-01T13:17:26.123Z) as seconds since the epoch."""
    return datetime.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def write_results(facts: dict[str, Any], results: list[Result]) -> Path:
    """bench/results/latest.json, and the same as <YYYY-MM-DD>.json: a dated history."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    now = datetime.datetime.now(datetime.UTC)
    text = json.dumps({"date": now.isoformat(timespec="seconds"), "machine": facts,
                       "results": [asdict(r) for r in results]}, indent=2)
    path = RESULTS / "latest.json"
    path.write_text(text)
    (RESULTS / f"{now:%Y-%m-%d}.json").write_text(text)
    return path


def print_table(facts: dict[str, Any], results: list[Result]) -> None:
    print(f"\nmachine: {facts['cores']} cores, {facts['memoryGiB']} GiB; "
          f"Redis round trip {facts.get('redisRttMs')} ms")
    header = f"{'id':<4} {'what':<46} {'figure':>12} {'baseline':>12} {'ratio':>7}  goal / met"
    print(header)
    print("-" * len(header))
    for r in results:
        figure = "n/a" if r.figure is None else f"{r.figure:.3f} {r.unit}"
        baseline = "-" if r.baseline is None else f"{r.baseline:.3f} {r.unit}"
        ratio = "-" if r.ratio is None else f"{r.ratio:.2f}"
        met = {True: "MET", False: "NOT MET", None: "-"}[r.met]
        print(f"{r.id:<4} {r.what[:46]:<46} {figure:>12} {baseline:>12} {ratio:>7}  "
              f"{r.goal} / {met}")
        if r.note:
            print(f"     {r.note}")


def run_alone(db_name: str, redis_url: str, run: Callable[[Site], list[Result]]) -> int:
    """One benchmark on a site of its own, its table printed. Its own database and Redis db,
    so a run never drops the one the full bench is using."""
    global DB_NAME, REDIS_URL
    DB_NAME, REDIS_URL = db_name, redis_url
    facts = {**machine(), "redisRttMs": redis_rtt_ms()}
    with Site(web_workers=1, celery_concurrency=1) as site:
        results = run(site)
    print_table(facts, results)
    return 0


def noop_tasks_cpu_ms(site: Site, samples: int = 1000) -> float:
    """Machine CPU milliseconds per raw Celery no-op task run by the site's worker (sent,
    received, run, acknowledged; their replies counted without waiting on each), over
    `samples` of them: the least a worker task costs this machine."""
    from celery import Celery

    app = Celery("bench", broker=site.env["REDIS_URL"], set_as_current=False)
    client = redis.Redis.from_url(site.env["REDIS_URL"])
    key = f"bench:floor:{os.getpid()}"
    client.delete(key)

    def run(n: int) -> None:
        start = client.llen(key)
        for _ in range(n):
            app.send_task("executions.ping", args=[key])
        deadline = time.monotonic() + 120
        while client.llen(key) < start + n:
            if time.monotonic() > deadline:
                raise RuntimeError("the worker did not run the no-op tasks")
            time.sleep(0.05)

    run(8)  # the connection and the worker's first tasks
    before = site.cpu_seconds()["machine"]
    run(samples)
    used = site.cpu_seconds()["machine"] - before
    client.delete(key)
    return used * 1000 / samples


def least_cpu_ms(site: Site, samples: int, clients: int,
                 load: Callable[..., tuple[int, dict[str, float], dict[str, float]]] | None = None,
                 ) -> dict[str, float]:
    """Machine CPU milliseconds of one hello (GET /api/v1/team from `clients` client processes,
    or from `load`: the benchmark's own load tool) and of one raw no-op task on the site's
    worker, each over `samples`: what any execution costs at least (its request, the task that
    runs it)."""
    _, _, hello = (load or requests_from_processes)(site, "hello", "", samples, clients)
    return {"hello": hello["machine"] * 1000 / samples, "task": noop_tasks_cpu_ms(site, samples)}


def requests_from_processes(site: Site, kind: str, workflow_id: str, total: int,
                            clients: int = 8) -> tuple[int, dict[str, float], dict[str, float]]:
    """`total` requests (an execute of the workflow, or a hello) from `clients` processes,
    as fast as the site takes them: how many it accepted, the CPU reading when they started
    and the CPU each part used until the last was answered. The processes start, import and
    warm up (a first hello each) before the clock starts: their start-up is not measured."""
    context = multiprocessing.get_context("spawn")
    ready, answers, go = context.Queue(), context.Queue(), context.Event()
    counts = [total // clients + (i < total % clients) for i in range(clients)]
    processes = [context.Process(target=_request_client, daemon=True,
                                 args=(kind, site.url, site.api_key, workflow_id, n, ready, go,
                                       answers)) for n in counts]
    for process in processes:
        process.start()
    try:
        for _ in processes:
            ready.get(timeout=120)
        before = site.cpu_seconds()
        go.set()
        accepted = sum(answers.get(timeout=600) for _ in processes)
        used = {part: value - before[part] for part, value in site.cpu_seconds().items()}
    finally:
        for process in processes:
            process.join(timeout=30)
            if process.is_alive():
                process.kill()
    return accepted, before, used


HEY_STATUS = re.compile(r"\[(\d{3})\]\s+(\d{1,9}) responses")


def requests_from_hey(site: Site, kind: str, workflow_id: str, total: int,
                      clients: int = 8) -> tuple[int, dict[str, float], dict[str, float]]:
    """`total` requests (an execute of the workflow, or a hello) from `hey` (Go, outside
    Python) on `clients` kept-alive connections, as fast as the site takes them: how many it
    accepted, the CPU reading when they started and the CPU each part used until the last was
    answered. The load's own CPU is then a small part of the machine's, as on a site whose
    callers are elsewhere. `scripts/ensure-wrk.sh` installs hey (Debian package)."""
    api = f"{site.url}/api/v1"
    command = ["hey", "-n", str(total), "-c", str(clients), "-t", "60",
               "-H", f"Authorization: Bearer {site.api_key}"]
    if kind == "execute":
        command += ["-m", "POST", "-T", "application/json", "-d", "{}",
                    f"{api}/workflows/{workflow_id}/execute"]
        wanted = "201"
    else:
        command.append(f"{api}/team")
        wanted = "200"
    before = site.cpu_seconds()
    done = subprocess.run(command, capture_output=True, text=True, timeout=900, check=True)
    used = {part: value - before[part] for part, value in site.cpu_seconds().items()}
    answered = {code: int(count) for code, count in HEY_STATUS.findall(done.stdout)}
    return answered.get(wanted, 0), before, used


def _request_client(kind: str, url: str, api_key: str, workflow_id: str, count: int,
                    ready: Any, go: Any, answers: Any) -> None:
    accepted = 0
    with httpx.Client(base_url=f"{url}/api/v1", timeout=60,
                      headers={"Authorization": f"Bearer {api_key}"}) as client:
        client.get("/team").raise_for_status()
        ready.put(True)
        go.wait()
        for _ in range(count):
            if kind == "execute":
                accepted += client.post(f"/workflows/{workflow_id}/execute",
                                        json={}).status_code == 201
            else:
                accepted += client.get("/team").status_code == 200
    answers.put(accepted)

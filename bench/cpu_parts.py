"""CPU: what one request and one submit pass cost their process, measured in process — the
parts of B3's CPU per execution, steady enough to judge a change of a few per cent, which B3
itself cannot (its figure moves about a second from run to run, a tenth of the intake).

Each is the process CPU per unit of a process of its own (bench/cpu_driver.py) on this site's
database, Redis and simulator, the median of REPEATS runs (their spread in the note):

- a hello (GET /api/v1/team) and an execute (POST .../execute of B3's one-model workflow),
  the site's ASGI application called on a uvloop loop with no server in between, one at a time
  and CONCURRENT side by side (B3's 8 connections over 2 web processes);
- the submit pass of such an execution (`advance()`: the lease, the claim, the provider's
  submit, the request id recorded, the lease released), one thread and THREADS threads (B3's
  worker), executions started through the service and advanced without the broker;
- its job's completion webhook (the provider's POST to /hooks/provider/<token>/, fal's body),
  CONCURRENT side by side through the ASGI application: what each of B3's results costs the
  web;
- the result's pass once that webhook is recorded (`advance()`: the lease, the delivery read,
  the node completed and charged, the execution ended, the lease released), THREADS threads:
  what each of B3's results costs the worker beside its Celery message.

No goals: these are the measures to read before and after a change to the request path or the
engine's pass.

    python -m bench CPU
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
from typing import Any

import redis

from .common import EMAIL, REDIS_URL, ROOT, Result, Site, create_workflow, node, run_to_end

SITE_OPTIONS = {"celery_concurrency": 1}  # a site of its own: B3's workflow, nothing else
REPEATS = 3
REQUESTS, EXECUTES, PASSES = 3000, 1000, 600
CONCURRENT, THREADS = 4, 8
_SCRATCH_REDIS = REDIS_URL.rsplit("/", 1)[0] + "/11"  # no other use here or in make test


def run(site: Site) -> list[Result]:
    with site.client() as client:
        # As in B3: one model call first, whose webhook shows the site that its providers'
        # callbacks reach it (the steady state of a site in use).
        run_to_end(client, create_workflow(client, [node("g", "generate:flux_2",
                                                         image_size="square",
                                                         prompt="warm [sim latency=0s]")], []))
        # A job the simulator finishes long after the measurement: no webhook comes back.
        workflow = create_workflow(client, [node("g", "generate:flux_2", image_size="square",
                                                 prompt="waits [sim latency=900s]")], [])
    hello = ["request", "GET", "/api/v1/team", site.api_key]
    execute = ["request", "POST", f"/api/v1/workflows/{workflow}/execute", site.api_key]
    submit = ["pass", workflow, EMAIL]
    hook = ["hook", workflow, EMAIL]
    result = ["result", workflow, EMAIL]
    results = []
    for what, args, count, width in [
        ("a hello, one at a time", hello, REQUESTS, 1),
        (f"a hello, {CONCURRENT} side by side", hello, REQUESTS, CONCURRENT),
        ("an execute, one at a time", execute, EXECUTES, 1),
        (f"an execute, {CONCURRENT} side by side", execute, EXECUTES, CONCURRENT),
        ("a submit pass, one thread", submit, PASSES, 1),
        (f"a submit pass, {THREADS} threads", submit, PASSES, THREADS),
        (f"a provider webhook, {CONCURRENT} side by side", hook, EXECUTES, CONCURRENT),
        (f"a result's pass, {THREADS} threads", result, PASSES, THREADS),
    ]:
        runs = []
        for _ in range(REPEATS):
            runs.append(_drive(site, args, count, width))
            _set_aside(site, workflow)
        results.append(_result(what, count, runs))
    redis.Redis.from_url(_SCRATCH_REDIS).flushdb()
    return results


def _set_aside(site: Site, workflow: str) -> None:
    """The executions a run started end there: the site's sweeper would otherwise hand them to
    its worker as overdue, which would then load the machine during the next runs."""
    site.sql("UPDATE executions_execution SET status = 'CANCELLED', wake_at = NULL "
             "WHERE workflow_id = %s AND status = 'RUNNING' RETURNING 1", workflow)


def _drive(site: Site, args: list[str], count: int, width: int) -> dict[str, Any]:
    # A broker of its own (a Redis database no worker reads): the executes' advance tasks
    # queue there, so that the site's worker does not advance them (and load the machine).
    env = {**site.env, "CELERY_BROKER_URL": _SCRATCH_REDIS}
    done = subprocess.run([sys.executable, "-m", "bench.cpu_driver", *args, str(count),
                           str(width)], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=900, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"cpu_driver {' '.join(args[:2])} failed: {done.stderr[-2000:]}")
    out: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    if out.get("statuses", ["200"]) not in (["200"], ["201"]) \
            or out.get("submitted", count) != count or out.get("completed", count) != count:
        raise RuntimeError(f"cpu_driver {' '.join(args[:2])} did not do the work: {out}")
    return out


def _result(what: str, count: int, runs: list[dict[str, Any]]) -> Result:
    cpu = [run["cpuMs"] for run in runs]
    wall = [run["wallMs"] for run in runs]
    return Result(
        id="CPU", what=what, figure=round(statistics.median(cpu), 3), unit="ms", baseline=None,
        goal="-", met=None,
        note=f"its process's CPU, median of {len(runs)} runs of {count} each (from "
             f"{min(cpu):.3f} to {max(cpu):.3f} ms; wall time per unit "
             f"{statistics.median(wall):.3f} ms)")

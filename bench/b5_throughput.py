"""B5: throughput — 3-node utility pipelines (input:text -> utility:prompt_concat -> output)
completed per second, sustained for 60 s (15 s with --quick), against raw Celery no-op tasks per
second on the same broker and worker.

Load comes from client PROCESSES (never threads in one process): each executes over the API,
keeping at most IN_FLIGHT of its executions running. Clients learn that one finished from the
database, not by polling the API, so the API's only load is the executes themselves. The
figure counts executions whose finishedAt falls in the measured window (after a warm-up), read
from the database; the backlog is drained before the next benchmark.

The baseline: as many processes send `executions.ping` tasks, each keeping RAW_IN_FLIGHT
outstanding, and count the replies popped per second over the same kind of window.

Beside it, the ceiling: every execution costs the machine at least a request of the same
clients to the same server (a hello, GET /api/v1/team) and a worker task (a raw Celery no-op
on the same worker), each measured here just before the load. The cores divided by their sum is
the most executions per second this machine can give an engine that runs them from a worker
task; the figure's distance to it is the engine's own.
"""

from __future__ import annotations

import multiprocessing
import os
import time
from typing import Any

import httpx
import psycopg
import redis

from .common import (
    DB_NAME,
    PG_URL,
    REDIS_URL,
    Result,
    Site,
    create_workflow,
    least_cpu_ms,
    run_to_end,
    utility_pipeline,
)

CLIENTS = 8
IN_FLIGHT = 8  # per client: 64 executions in flight at most
DURATION_S, QUICK_DURATION_S = 60.0, 15.0
WARMUP_S = 3.0
RAW_IN_FLIGHT = 50  # per client process
GOAL_PER_S, GOAL_RATIO = 220.0, 0.5
CEILING_SAMPLES, QUICK_CEILING_SAMPLES = 1000, 300  # of each part of the ceiling


def run(site: Site) -> list[Result]:
    duration = QUICK_DURATION_S if site.quick else DURATION_S
    raw = raw_celery_per_s(duration)
    with site.client() as client:
        workflow_id = create_workflow(client, *utility_pipeline())
        run_to_end(client, workflow_id)  # warm up imports and connections
    ceiling = _ceiling(site)
    start = time.time() + 1.0  # every client starts at once, after the processes are up
    window = (start + WARMUP_S, start + WARMUP_S + duration)
    cpu_before = site.cpu_seconds()
    stats = _in_processes(_execute_client, CLIENTS,
                          (site.url, site.api_key, workflow_id, start, window[1]))
    left = site.wait_until_idle(workflow_id)
    cpu = {part: used - cpu_before[part] for part, used in site.cpu_seconds().items()}
    ran = int(site.sql("SELECT count(*) FROM executions_execution WHERE workflow_id = %s "
                       "AND status = 'COMPLETED'", workflow_id)[0][0]) - 1  # not the warm-up
    done = int(site.sql("SELECT count(*) FROM executions_execution WHERE workflow_id = %s "
                        "AND status = 'COMPLETED' AND finished_at >= to_timestamp(%s) "
                        "AND finished_at < to_timestamp(%s)",
                        workflow_id, window[0], window[1])[0][0])
    failed = int(site.sql("SELECT count(*) FROM executions_execution WHERE workflow_id = %s "
                          "AND status NOT IN ('COMPLETED', 'RUNNING')", workflow_id)[0][0])
    per_s = done / duration
    accepted = sum(s["accepted"] for s in stats)
    errors = sum(s["errors"] for s in stats)
    ratio = per_s / raw if raw else None
    note = (f"{CLIENTS} client processes x {IN_FLIGHT} in flight, {duration:g} s window after "
            f"{WARMUP_S:g} s warm-up; {accepted} executes accepted "
            f"({accepted / (WARMUP_S + duration):.1f}/s), {errors} refused, {failed} did not "
            f"complete" + (f", {left} still running 300 s after the load stopped" if left else "")
            + f". Baseline: {CLIENTS} processes x {RAW_IN_FLIGHT} outstanding ping tasks. "
            + _cpu_per_execution(cpu, ran))
    cores = os.cpu_count() or 1
    most = cores * 1000 / (ceiling["hello"] + ceiling["task"])
    reachable = most >= GOAL_PER_S and most >= GOAL_RATIO * raw
    note += (f". Ceiling {most:.0f}/s (the line below)"
             + ("" if reachable else ": the goal is out of reach on this machine"))
    ceiling_note = (
        f"Machine CPU an execution needs at least, each part measured on this site just before "
        f"the load ({ceiling['samples']} each): a hello from the same {CLIENTS} client "
        f"processes {ceiling['hello']:.2f} ms (an execute is that request and more) and a raw "
        f"Celery no-op task on the same worker {ceiling['task']:.2f} ms: "
        f"{ceiling['hello'] + ceiling['task']:.2f} ms, so at most {most:.0f}/s on {cores} "
        f"cores, {most / raw:.0%} of raw. " if raw else "")
    ceiling_note += ("Below the goal: out of reach here for an engine that runs executions from "
                     "a worker task" if not reachable else "Not below the goal: the machine "
                     "allows it") + "; the figure's distance to the ceiling is the engine's own"
    return [Result(
        id="B5", what="throughput: 3-node utility pipelines / s", figure=round(per_s, 2),
        unit="/s", baseline=round(raw, 2),
        goal=f">= {GOAL_PER_S:g}/s and >= {GOAL_RATIO:.0%} of raw",
        met=per_s >= GOAL_PER_S and ratio is not None and ratio >= GOAL_RATIO, note=note,
    ), Result(
        id="B5", what="ceiling: executions / s at their least CPU", figure=round(most, 1),
        unit="/s", baseline=round(raw, 2),
        goal=f"(reachable if >= {GOAL_PER_S:g}/s and >= {GOAL_RATIO:.0%} of raw)", met=None,
        note=ceiling_note,
    )]


def _ceiling(site: Site) -> dict[str, float]:
    """Machine CPU milliseconds of one hello (from CLIENTS processes) and of one raw no-op
    task on the site's worker."""
    samples = QUICK_CEILING_SAMPLES if site.quick else CEILING_SAMPLES
    return {"samples": samples, **least_cpu_ms(site, samples, CLIENTS)}


def _cpu_per_execution(cpu: dict[str, float], executions: int) -> str:
    """Where an execution's CPU goes (the clients' own share is in the machine's), against
    what GOAL_PER_S executions a second would leave each on this machine's cores."""
    if executions <= 0:
        return "No execution completed."
    each = {part: seconds * 1000 / executions for part, seconds in cpu.items()}
    budget = (os.cpu_count() or 1) * 1000 / GOAL_PER_S
    rest = each["machine"] - sum(each[part] for part in ("web", "worker", "simulator",
                                                          "postgres", "redis"))
    return (f"CPU per execution over the run ({executions}): web {each['web']:.1f} ms, "
            f"worker {each['worker']:.1f} ms, PostgreSQL {each['postgres']:.1f} ms, Redis "
            f"{each['redis']:.1f} ms, the rest (the clients, the kernel) {rest:.1f} ms: machine "
            f"{each['machine']:.1f} ms; {GOAL_PER_S:g}/s on {os.cpu_count()} cores "
            f"leaves {budget:.1f} ms of machine each")


def raw_celery_per_s(duration: float) -> float:
    start = time.time() + 1.0
    window = (start + WARMUP_S, start + WARMUP_S + duration)
    stats = _in_processes(_ping_client, CLIENTS, (start, window))
    return sum(s["counted"] for s in stats) / duration


def _in_processes(target: Any, count: int, args: tuple[Any, ...]) -> list[dict[str, int]]:
    context = multiprocessing.get_context("spawn")  # no inherited sockets or connections
    queue = context.Queue()
    processes = [context.Process(target=target, args=(queue, *args)) for _ in range(count)]
    for process in processes:
        process.start()
    stats = [queue.get(timeout=600) for _ in processes]
    for process in processes:
        process.join(timeout=30)
    return stats


def _execute_client(queue: Any, url: str, api_key: str, workflow_id: str, start: float,
                    stop: float) -> None:
    accepted = errors = 0
    running: set[str] = set()
    with httpx.Client(base_url=f"{url}/api/v1", timeout=60,
                      headers={"Authorization": f"Bearer {api_key}"}) as client, \
            psycopg.connect(f"{PG_URL}/{DB_NAME}", autocommit=True) as db:
        time.sleep(max(0.0, start - time.time()))
        while time.time() < stop:
            if len(running) >= IN_FLIGHT:
                time.sleep(0.01)
                rows = db.execute("SELECT id::text FROM executions_execution "
                                  "WHERE id = ANY(%s::uuid[]) AND status = 'RUNNING'",
                                  (list(running),)).fetchall()
                running = {row[0] for row in rows}
                continue
            response = client.post(f"/workflows/{workflow_id}/execute", json={})
            if response.status_code == 201:
                accepted += 1
                running.add(response.json()["executionId"])
            else:
                errors += 1
    queue.put({"accepted": accepted, "errors": errors})


def _ping_client(queue: Any, start: float, window: tuple[float, float]) -> None:
    from celery import Celery

    app = Celery("bench", broker=REDIS_URL, set_as_current=False)
    client = redis.Redis.from_url(REDIS_URL)
    key = f"bench:b5:{os.getpid()}"
    outstanding = counted = 0
    time.sleep(max(0.0, start - time.time()))
    while time.time() < window[1]:
        while outstanding < RAW_IN_FLIGHT:
            app.send_task("executions.ping", args=[key])
            outstanding += 1
        if client.blpop([key], timeout=10) is None:
            raise RuntimeError("no Celery worker answered the ping")
        outstanding -= 1
        if time.time() >= window[0]:
            counted += 1
    while outstanding:  # let the worker finish ours before the next client's work
        if client.blpop([key], timeout=30) is None:
            break
        outstanding -= 1
    queue.put({"counted": counted})

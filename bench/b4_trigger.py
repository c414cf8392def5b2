"""B4: trigger latency — an execute request until its first node is RUNNING, against a raw
Celery `apply_async` until the task has run (the `executions.ping` task's reply popped).

The first node's startedAt is written by the worker with its own clock; the bench takes the
request time from the same machine's wall clock, so the two agree. startedAt has millisecond
resolution. Executions run one at a time (each is waited for), so each is a cold trigger on an
idle site, not a queue.
"""

import os
import statistics
import time
from typing import Any

import httpx
import redis

from .common import (
    REDIS_URL,
    Result,
    Site,
    create_workflow,
    parse_iso,
    percentile,
    utility_pipeline,
)

SAMPLES, QUICK_SAMPLES = 200, 40
WARMUP = 5
P50_GOAL_MS, P99_GOAL_MS = 25.0, 100.0


def run(site: Site) -> list[Result]:
    samples = QUICK_SAMPLES if site.quick else SAMPLES
    baseline = celery_trigger_ms(samples)
    latencies = []
    with site.client() as client:
        workflow_id = create_workflow(client, *utility_pipeline())
        for i in range(WARMUP + samples):
            sent = time.time()
            response = client.post(f"/workflows/{workflow_id}/execute", json={})
            response.raise_for_status()
            poll = _until_done(client, response.json()["executionId"])
            starts = [parse_iso(s["startedAt"]) for s in poll["nodeStates"] if s["startedAt"]]
            if poll["status"] != "COMPLETED" or not starts:
                raise RuntimeError(f"execution {poll['executionId']} ended {poll['status']}")
            if i >= WARMUP:
                latencies.append((min(starts) - sent) * 1000)
    p50, p99 = percentile(latencies, 50), percentile(latencies, 99)
    base50, base99 = percentile(baseline, 50), percentile(baseline, 99)
    note = (f"{samples} executes of a 3-node utility pipeline one at a time: request sent -> "
            f"the first node's startedAt (ms resolution); mean {statistics.mean(latencies):.1f} "
            f"ms. Baseline: send_task('executions.ping') -> its reply popped, {samples} times")
    return [
        Result(id="B4", what="trigger latency p50 (execute -> node RUNNING)",
               figure=round(p50, 3), unit="ms", baseline=round(base50, 3),
               goal=f"p50 <= {P50_GOAL_MS:g} ms", met=p50 <= P50_GOAL_MS, note=note),
        Result(id="B4", what="trigger latency p99 (execute -> node RUNNING)",
               figure=round(p99, 3), unit="ms", baseline=round(base99, 3),
               goal=f"p99 <= {P99_GOAL_MS:g} ms", met=p99 <= P99_GOAL_MS),
    ]


def _until_done(client: httpx.Client, execution_id: str, timeout: float = 60
                ) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        poll = client.get(f"/workflows/executions/{execution_id}/poll").json()
        if poll["status"] != "RUNNING":
            return poll
        if time.monotonic() > deadline:
            raise RuntimeError(f"execution {execution_id} still running after {timeout}s")
        time.sleep(0.01)


def celery_trigger_ms(samples: int) -> list[float]:
    """Raw `send_task` -> the ping task has run and its reply is popped, one at a time."""
    from celery import Celery

    app = Celery("bench", broker=REDIS_URL, set_as_current=False)
    client = redis.Redis.from_url(REDIS_URL)
    times = []
    for i in range(WARMUP + samples):
        key = f"bench:b4:{os.getpid()}:{i}"
        start = time.perf_counter()
        app.send_task("executions.ping", args=[key])
        if client.blpop([key], timeout=10) is None:
            raise RuntimeError("no Celery worker answered the ping")
        if i >= WARMUP:
            times.append((time.perf_counter() - start) * 1000)
    return times

"""B7: live status latency — a node completes -> its WebSocket message is received, p95,
against a Redis PUBLISH -> SUBSCRIBE round trip.

Each run executes input:text -> generate:flux_2 (the simulator, LATENCY) -> output:result and
opens the session-authenticated WebSocket (/ws/executions/<id>/) while the model is working.
Every `node` message with status COMPLETED for a node that finished after the socket was open is
a sample: its finishedAt (written by the worker, millisecond resolution) to the moment it was
received. Same machine, so the clocks agree.
"""

from __future__ import annotations

import json
import time
from typing import Any
from urllib.parse import urlsplit

import redis
from websockets.sync.client import connect

from .common import (
    REDIS_URL,
    Result,
    Site,
    create_workflow,
    edge,
    node,
    parse_iso,
    percentile,
    run_to_end,
)

RUNS, QUICK_RUNS = 60, 20
LATENCY = "[sim latency=0.5s]"
RECEIVE_TIMEOUT_S = 60
BASELINE_SAMPLES = 500
P95_GOAL_MS = 50.0


def live_pipeline() -> tuple[list[Any], list[Any]]:
    nodes = [node("p", "input:text", text=f"live {LATENCY}"),
             node("g", "generate:flux_2", image_size="square"), node("out", "output:result")]
    return nodes, [edge("p", "text", "g", "prompt"), edge("g", "image", "out", "value")]


def run(site: Site) -> list[Result]:
    runs = QUICK_RUNS if site.quick else RUNS
    baseline = redis_pubsub_ms(BASELINE_SAMPLES)
    cookie = site.session_cookie()
    samples: list[float] = []
    missed = 0
    with site.client() as client:
        workflow_id = create_workflow(client, *live_pipeline())
        run_to_end(client, workflow_id, poll_every=0.05)  # warm up
        for _ in range(runs):
            response = client.post(f"/workflows/{workflow_id}/execute", json={})
            response.raise_for_status()
            got = _listen(site.url, cookie, response.json()["executionId"])
            samples.extend(got)
            missed += not got
    if not samples:
        raise RuntimeError(f"no node completed while a socket was open in {runs} runs")
    p95, base95 = percentile(samples, 95), percentile(baseline, 95)
    return [Result(
        id="B7", what="live status p95 (node done -> WebSocket msg)", figure=round(p95, 3),
        unit="ms", baseline=round(base95, 3), goal=f"p95 <= {P95_GOAL_MS:g} ms",
        met=p95 <= P95_GOAL_MS,
        note=f"{len(samples)} node completions over {runs} executions ({missed} runs gave "
             f"none); p50 {percentile(samples, 50):.1f} ms, max {max(samples):.1f} ms. "
             f"Baseline: PUBLISH -> a subscriber's receipt, p95 of {BASELINE_SAMPLES}",
    )]


def _listen(site_url: str, cookie: str, execution_id: str) -> list[float]:
    """Latencies (ms) of the node completions that this socket saw live."""
    host = urlsplit(site_url).netloc
    latencies = []
    with connect(f"ws://{host}/ws/executions/{execution_id}/",
                 additional_headers={"Cookie": cookie, "Origin": site_url},
                 open_timeout=RECEIVE_TIMEOUT_S) as socket:
        first = json.loads(socket.recv(timeout=RECEIVE_TIMEOUT_S))
        opened = time.time()
        if first["type"] == "snapshot" and first["data"]["status"] != "RUNNING":
            return []  # it finished before the socket was open
        while True:
            message = json.loads(socket.recv(timeout=RECEIVE_TIMEOUT_S))
            received = time.time()
            data = message.get("data") or {}
            if message["type"] == "node" and data.get("status") == "COMPLETED" \
                    and data.get("finishedAt"):
                finished = parse_iso(data["finishedAt"])
                if finished >= opened:
                    latencies.append((received - finished) * 1000)
            if message["type"] == "execution":
                return latencies


def redis_pubsub_ms(samples: int) -> list[float]:
    """PUBLISH on one connection -> the message read on a subscribed one, one at a time."""
    publisher = redis.Redis.from_url(REDIS_URL)
    pubsub = redis.Redis.from_url(REDIS_URL).pubsub(ignore_subscribe_messages=True)
    channel = "bench:b7:pubsub"
    pubsub.subscribe(channel)
    while pubsub.get_message(timeout=1) is not None:
        pass
    times = []
    try:
        for i in range(samples):
            start = time.perf_counter()
            publisher.publish(channel, str(i))
            message = pubsub.get_message(timeout=10)
            while message is not None and message["data"] != str(i).encode():
                message = pubsub.get_message(timeout=10)
            if message is None:
                raise RuntimeError("Redis did not deliver a published message")
            times.append((time.perf_counter() - start) * 1000)
    finally:
        pubsub.close()
    return times

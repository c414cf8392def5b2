"""B2: fan-out efficiency — N parallel model nodes of 1 s simulated latency each, against one
such node alone (ideal: the same wall time). Times are the site's own (the execution's startedAt
to its finishedAt); the end is watched in the database, so the waiting loads nothing.

Beside it, the provider alone at N=100: the same 100 jobs submitted straight to the simulator,
side by side, by this process, their webhooks received by a bare HTTP server here (no engine, no
Django on our side), from the first submit to the last webhook, with the simulator's CPU: how
long the provider itself takes over those jobs on these cores (not a strict floor: another
submission pattern might suit it better).
"""

import asyncio
import threading
import time
from http.server import BaseHTTPRequestHandler
from typing import Any

import httpx

from tests.harness import LocalHTTPServer

from .common import (
    BENCH_RECEIVER_HOST,
    FAL_FLUX,
    FAL_KEY,
    Result,
    Site,
    cpu_note,
    create_workflow,
    node,
    run_site_timed,
)

LATENCY = "[sim latency=1s]"


def fan_out(n: int) -> tuple[list, list]:
    """N independent model nodes (the prompt is a param: 100 nodes is the graph limit)."""
    nodes = [node(f"g{i}", "generate:flux_2", image_size="square", prompt=f"fan {i} {LATENCY}")
             for i in range(n)]
    return nodes, []


def run(site: Site) -> list[Result]:
    results = []
    with site.client() as client:
        single_id = create_workflow(client, *fan_out(1))
        run_site_timed(client, single_id)  # warm up
        single, _, _ = run_site_timed(client, single_id)
        for n in (10, 50, 100):
            workflow_id = create_workflow(client, *fan_out(n))
            before = site.cpu_seconds()
            wall, status, error = run_site_timed(client, workflow_id)
            after = site.cpu_seconds()
            assert status == "COMPLETED", error
            goal_met = wall <= 1.2 * single if n == 100 else None
            note = cpu_note({part: after[part] - before[part] for part in after}) + ". " \
                + _timeline(site, workflow_id)
            if n == 100:
                alone, used = provider_alone(site, n)
                note += (f". The provider alone, the same {n} jobs submitted side by side "
                         f"straight to the simulator and their webhooks received by a bare "
                         f"server (no engine): {alone:.3f} s, {alone / single:.2f}x one "
                         f"node ({cpu_note(used)}): the simulator, one Python process, spent "
                         f"{used['simulator']:.2f} s of CPU ({used['simulator'] / single:.2f}x "
                         f"one node) on those jobs with nothing of ours in the way")
            results.append(Result(
                id="B2", what=f"fan-out of {n} parallel 1 s model nodes", figure=round(wall, 3),
                unit="s", baseline=round(single, 3),
                goal="<= 1.2x one node at N=100" if n == 100 else "(trend)", met=goal_met,
                note=note,
            ))
    return results


def _timeline(site: Site, workflow_id: str) -> str:
    """When the run's nodes were claimed for submission and when their results were recorded,
    from the execution's start (the site's own clocks): each job is due 1 s after it is
    submitted, so the spread of the records past 1 s is what the results took to come in."""
    (claimed_first, claimed_last, first, middle, last), = site.sql(
        "WITH run AS (SELECT id, started_at FROM executions_execution WHERE workflow_id = %s "
        "ORDER BY started_at DESC LIMIT 1) "
        "SELECT extract(epoch FROM min(n.started_at) - run.started_at), "
        "extract(epoch FROM max(n.started_at) - run.started_at), "
        "extract(epoch FROM min(n.finished_at) - run.started_at), "
        "extract(epoch FROM percentile_cont(0.5) WITHIN GROUP "
        "(ORDER BY n.finished_at - run.started_at)), "
        "extract(epoch FROM max(n.finished_at) - run.started_at) "
        "FROM run JOIN executions_noderun n ON n.execution_id = run.id GROUP BY run.started_at",
        workflow_id)
    return (f"From the execution's start: nodes claimed for submission at "
            f"{claimed_first:.3f}-{claimed_last:.3f} s, results recorded from {first:.3f} s "
            f"(p50 {middle:.3f}, last {last:.3f} s)")


def provider_alone(site: Site, n: int) -> tuple[float, dict[str, float]]:
    """Seconds from the first of `n` submits to the last of their webhooks, with nothing of
    ours in between; and the CPU seconds each part of the machine used meanwhile."""
    arrived: list[float] = []
    lock = threading.Lock()

    class Receiver(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 (the stdlib's name)
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            with lock:
                arrived.append(time.monotonic())
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            return

    # A backlog that holds the webhooks arriving side by side (the stdlib's 5 dropped them
    # and each waited out TCP's 1 s retransmission).
    server = LocalHTTPServer((BENCH_RECEIVER_HOST, 0), Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    hook = f"http://{BENCH_RECEIVER_HOST}:{server.server_address[1]}/hook"
    try:
        _submit_all(site.sim_url, hook, 1, tag="warm")  # the simulator's first-call costs
        _wait_for(arrived, 1)
        arrived.clear()
        before = site.cpu_seconds()
        start = time.monotonic()
        _submit_all(site.sim_url, hook, n, tag="alone")
        _wait_for(arrived, n)
        took = max(arrived) - start
        after = site.cpu_seconds()
    finally:
        server.shutdown()
        server.server_close()
    return took, {part: after[part] - before[part] for part in after}


def _submit_all(sim_url: str, hook: str, n: int, tag: str) -> None:
    async def submit_all() -> None:
        async with httpx.AsyncClient(timeout=60, limits=httpx.Limits(max_connections=n)) as http:
            answers = await asyncio.gather(*(
                http.post(f"{sim_url}/fal/{FAL_FLUX}", params={"fal_webhook": f"{hook}/{i}"},
                          headers={"Authorization": f"Key {FAL_KEY}"},
                          json={"prompt": f"{tag} {i} {LATENCY}", "image_size": "square"})
                for i in range(n)))
        refused = [a.status_code for a in answers if a.status_code != 200]
        if refused:
            raise RuntimeError(f"the simulator refused {len(refused)} submits: {refused[:3]}")

    asyncio.run(submit_all())


def _wait_for(arrived: list[float], n: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while len(arrived) < n:
        if time.monotonic() > deadline:
            raise RuntimeError(f"{len(arrived)} of {n} webhooks arrived within {timeout:g} s")
        time.sleep(0.005)

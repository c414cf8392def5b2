"""B3: in-flight capacity — 1,000 executions, each one model call that the provider finishes
30 s after its submit, on ONE Celery worker process (its own site: `--concurrency 1`).

Goal: all done within 36 s of the first execute (the baseline is the 30 s wait itself), the
worker's resident memory at most 400 MB, and no worker slot held while they wait: halfway
through, a utility run is executed and must finish in the same second or so, on that one slot.

The executes come from client PROCESSES over the API, as fast as it takes them; their spread is
in the note, with each execution's own execute -> COMPLETED time. Times are the site's own
(executions' startedAt / finishedAt), memory is the worker's process tree read from /proc.
"""

from __future__ import annotations

import multiprocessing
import os
import threading
import time
from pathlib import Path
from typing import Any

import httpx

from .common import (
    Result,
    Site,
    children,
    cpu_note,
    create_workflow,
    node,
    run_to_end,
    utility_pipeline,
)

SITE_OPTIONS = {"celery_concurrency": 1}
EXECUTIONS = 1000
WAIT_S = 30
CLIENTS = 8
GOAL_S, GOAL_RSS_MB = 36.0, 400.0


def run(site: Site) -> list[Result]:
    with site.client() as client:
        waiting = create_workflow(client, [node("g", "generate:flux_2", image_size="square",
                                                prompt=f"waits [sim latency={WAIT_S}s]")], [])
        quick = create_workflow(client, *utility_pipeline())
        run_to_end(client, quick)  # warm up imports and connections
        # And the remote path's: one model call, whose webhook also shows the site that the
        # provider's callbacks reach it (the steady state of a site in use: polls then only
        # every minute or two as a safety net, retry.poll_delay).
        run_to_end(client, create_workflow(client, [node("g", "generate:flux_2",
                                                         image_size="square",
                                                         prompt="warm [sim latency=0s]")], []))
        memory = _MemoryWatch(site.processes[2].pid)
        memory.start()
        cpu_before = site.cpu_seconds()
        rss_before = memory.sample()
        per_client = [EXECUTIONS // CLIENTS + (i < EXECUTIONS % CLIENTS) for i in range(CLIENTS)]
        submitted = _in_processes(_submit, [(site.url, site.api_key, waiting, n)
                                            for n in per_client])
        intake = {part: used - cpu_before[part] for part, used in site.cpu_seconds().items()}
        time.sleep(WAIT_S / 2 - 5)  # halfway through the wait: is the one slot free?
        # Polled 4 times a second: 200 polls a second would take the web's CPU from the site.
        behind, behind_poll = run_to_end(client, quick, poll_every=0.25, timeout=WAIT_S * 10)
        done = site.wait_until_idle(waiting, timeout=WAIT_S * 10) == 0
        memory.stop()
        cpu = {part: used - cpu_before[part] for part, used in site.cpu_seconds().items()}
    refused = EXECUTIONS - sum(submitted)
    (first, last, slowest, submit_span), = site.sql(
        "SELECT min(started_at), max(finished_at), max(finished_at - started_at), "
        "max(started_at) - min(started_at) FROM executions_execution WHERE workflow_id = %s",
        waiting)
    statuses = dict(site.sql("SELECT status, count(*) FROM executions_execution "
                             "WHERE workflow_id = %s GROUP BY status", waiting))
    span = (last - first).total_seconds() if done else None
    completed = statuses.get("COMPLETED", 0)
    all_done = done and completed == EXECUTIONS
    note = (f"{EXECUTIONS} executes from {CLIENTS} client processes over "
            f"{submit_span.total_seconds():.1f} s ({refused} refused); statuses {statuses}; "
            f"slowest execute->COMPLETED {slowest.total_seconds():.1f} s; a utility run "
            f"halfway through the wait took {behind:.2f} s ({behind_poll['status']}); worker "
            f"RSS {rss_before:.0f} MB before, peak {memory.peak:.0f} MB "
            f"(main process + pool child, beat included). From the first execute to the last "
            f"completion, " + cpu_note(cpu) + ". " + _intake_note(intake, sum(submitted)))
    return [
        Result(id="B3", what=f"{EXECUTIONS} executions waiting {WAIT_S} s, one worker",
               figure=None if span is None else round(span, 2), unit="s",
               baseline=float(WAIT_S), goal=f"all done <= {GOAL_S:g} s",
               met=bool(all_done and span is not None and span <= GOAL_S), note=note),
        Result(id="B3", what="worker RSS at peak (one worker process)",
               figure=round(memory.peak, 1), unit="MB", baseline=round(rss_before, 1),
               goal=f"<= {GOAL_RSS_MB:g} MB", met=memory.peak <= GOAL_RSS_MB,
               note="baseline: the same worker before the executions"),
    ]


def _intake_note(cpu: dict[str, float], accepted: int) -> str:
    """What taking in one execution cost the machine while the executes came in (the
    execute, the pass that submits its job, the provider's accept), against what the goal
    leaves: all done GOAL_S after the first execute means every job submitted within
    GOAL_S - WAIT_S seconds."""
    if not accepted:
        return ""
    cores = os.cpu_count() or 1
    each = cpu["machine"] * 1000 / accepted
    budget = (GOAL_S - WAIT_S) * cores * 1000 / EXECUTIONS
    return (f"While the executes came in: {each:.1f} ms of machine CPU per execution "
            f"(web {cpu['web'] * 1000 / accepted:.1f}, worker "
            f"{cpu['worker'] * 1000 / accepted:.1f}, simulator "
            f"{cpu['simulator'] * 1000 / accepted:.1f}); submitting all {EXECUTIONS} within "
            f"{GOAL_S - WAIT_S:g} s on {cores} cores leaves {budget:.1f} ms each")


class _MemoryWatch(threading.Thread):
    """The peak resident memory of a process and its children, sampled twice a second."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid, self.peak, self._done = pid, 0.0, threading.Event()

    def sample(self) -> float:
        pids = [self.pid, *children(self.pid)]
        total = sum(_rss_mb(pid) for pid in pids)
        self.peak = max(self.peak, total)
        return total

    def run(self) -> None:
        while not self._done.wait(0.5):
            self.sample()

    def stop(self) -> None:
        self._done.set()
        self.join()
        self.sample()


def _rss_mb(pid: int) -> float:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:  # gone between listing and reading
        return 0.0
    kb = next((int(line.split()[1]) for line in status.splitlines()
               if line.startswith("VmRSS:")), 0)
    return kb / 1024


def _in_processes(target: Any, args: list[tuple[Any, ...]]) -> list[int]:
    context = multiprocessing.get_context("spawn")
    with context.Pool(len(args)) as pool:
        return list(pool.starmap(target, args))


def _submit(url: str, api_key: str, workflow_id: str, count: int) -> int:
    accepted = 0
    with httpx.Client(base_url=f"{url}/api/v1", timeout=60,
                      headers={"Authorization": f"Bearer {api_key}"}) as client:
        for _ in range(count):
            if client.post(f"/workflows/{workflow_id}/execute", json={}).status_code == 201:
                accepted += 1
    return accepted

"""B3: in-flight capacity — 1,000 executions, each one model call that the provider finishes
30 s after its submit, on ONE Celery worker process (its own site: `--pool threads
--concurrency 8`; `B3_POOL=prefork B3_THREADS=1` runs it on one prefork child instead).

Goal: all done within 36 s of the first execute (the baseline is the 30 s wait itself), the
worker's resident memory at most 400 MB, and no worker slot held while they wait: halfway
through, a utility run is executed and must finish in the same second or so, on that one slot.

The executes come from `hey` (Go, outside Python) over the API on CLIENTS kept-alive
connections, as fast as it takes them, so that the load's own CPU stays a small part of the
machine's; their spread is in the note, with each execution's own execute -> COMPLETED time.
Times are the site's own (executions' startedAt / finishedAt), memory is the worker's process
tree read from /proc.

Beside it, the floor: every execution's job is submitted only after these, each at least as
costly as one measured here, on the same site just before the executes (`_floor`): its execute,
a request of the same load tool to the same server (at least a hello, GET /api/v1/team); the
provider's accept of its job (the same simulator's own CPU for a submit) and the caller's side
of that request (httpx's, on kept-alive connections); the task that submits it (at least a raw
Celery no-op on the same worker); and the engine's committed writes up to the submit, which
engine.md requires (the execution stored before its execute answers, the node claimed and
committed before its call, its request id recorded after it: three single-row UPDATEs through
psycopg, no ORM, at their least). No completion comes before WAIT_S, so until then the
machine does only that: the last job is submitted at least EXECUTIONS x (their machine CPU) /
cores after the first execute, and ends WAIT_S later. When that floor exceeds GOAL_S, the goal
is out of reach on this machine for an engine as engine.md has it (durable, submitting from a
worker task); the figure's distance to it is the engine's.
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path
from typing import Any

from .common import (
    Result,
    Site,
    children,
    commit_cpu_ms,
    cpu_note,
    create_workflow,
    least_cpu_ms,
    node,
    percentile,
    provider_accept_ms,
    requests_from_hey,
    run_to_end,
    utility_pipeline,
)

# One worker process whose passes overlap their waits on the database and the provider: the
# threads pool, as docs/operating.md advises for executions that mostly wait on models
# (CELERY_POOL=threads; wireflow_site/task_limits.py enforces its time limits).
SITE_OPTIONS = {"celery_concurrency": int(os.environ.get("B3_THREADS", "8")),
                "celery_pool": os.environ.get("B3_POOL", "threads")}
EXECUTIONS = 1000
WAIT_S = 30
CLIENTS = 8
GOAL_S, GOAL_RSS_MB = 36.0, 400.0
FLOOR_SAMPLES = 1000  # of each part of the floor
COMMITS = 3  # the least committed writes of an execution up to its submit (engine.md)


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
        floor = _floor(site)
        memory = _MemoryWatch(site.processes[2].pid)
        memory.start()
        rss_before = memory.sample()
        submitted, cpu_before, intake = requests_from_hey(site, "execute", waiting,
                                                          EXECUTIONS, CLIENTS)
        time.sleep(WAIT_S / 2 - 5)  # halfway through the wait: is the one slot free?
        # Polled 4 times a second: 200 polls a second would take the web's CPU from the site.
        behind, behind_poll = run_to_end(client, quick, poll_every=0.25, timeout=WAIT_S * 10)
        done = site.wait_until_idle(waiting, timeout=WAIT_S * 10) == 0
        memory.stop()
        cpu = {part: used - cpu_before[part] for part, used in site.cpu_seconds().items()}
    refused = EXECUTIONS - submitted
    (first, last, slowest, submit_span), = site.sql(
        "SELECT min(started_at), max(finished_at), max(finished_at - started_at), "
        "max(started_at) - min(started_at) FROM executions_execution WHERE workflow_id = %s",
        waiting)
    lags = site.sql(
        "SELECT extract(epoch FROM n.started_at - e.started_at), "
        "extract(epoch FROM n.finished_at - n.started_at) - %s "
        "FROM executions_execution e JOIN executions_noderun n ON n.execution_id = e.id "
        "WHERE e.workflow_id = %s AND n.finished_at IS NOT NULL", WAIT_S, waiting)
    statuses = dict(site.sql("SELECT status, count(*) FROM executions_execution "
                             "WHERE workflow_id = %s GROUP BY status", waiting))
    span = (last - first).total_seconds() if done else None
    completed = statuses.get("COMPLETED", 0)
    all_done = done and completed == EXECUTIONS
    cores = os.cpu_count() or 1
    floor_ms = (floor["hello"] + floor["submit"] + floor["client"] + floor["task"]
                + COMMITS * floor["commit"])
    floor_s = WAIT_S + EXECUTIONS * floor_ms / 1000 / cores
    note = (f"{EXECUTIONS} executes from hey on {CLIENTS} connections over "
            f"{submit_span.total_seconds():.1f} s ({refused} refused); statuses {statuses}; "
            f"slowest execute->COMPLETED {slowest.total_seconds():.1f} s; a utility run "
            f"halfway through the wait took {behind:.2f} s ({behind_poll['status']}); worker "
            f"RSS {rss_before:.0f} MB before, peak {memory.peak:.0f} MB "
            f"({site.celery_pool} pool of {site.celery_concurrency}, beat included). "
            + _lag_note(lags)
            + ". From the first execute to the last "
            "completion, " + cpu_note(cpu) + ". " + _intake_note(intake, submitted)
            + f". Floor {floor_s:.1f} s (the line below)"
            + (": the goal is out of reach on this machine" if floor_s > GOAL_S else ""))
    floor_note = (
        f"CPU per execution before its job can be submitted, each part measured on this site "
        f"just before ({FLOOR_SAMPLES} each): a hello from hey on the same {CLIENTS} connections "
        f"{floor['hello']:.2f} ms of machine CPU (an execute is that request and more); the "
        f"simulator accepting a submit {floor['submit']:.2f} ms (its own process) and its "
        f"caller's side of it {floor['client']:.2f} ms (the engine's client, kept-alive); a raw "
        f"Celery no-op task on the same worker {floor['task']:.2f} ms of machine CPU; "
        f"{COMMITS} committed writes, each a single-row UPDATE through psycopg at "
        f"{floor['commit']:.2f} ms of machine CPU (engine.md: the execution stored before its "
        f"execute answers, the node claimed and committed before its call, its result recorded "
        f"by a second update): {floor_ms:.2f} ms in all. {EXECUTIONS} of them on {cores} cores "
        f"take {EXECUTIONS * floor_ms / 1000 / cores:.1f} s before the last job is submitted, "
        f"and it ends {WAIT_S} s later. "
        + (f"Above {GOAL_S:g} s: out of reach here for an engine as engine.md has it (durable, "
           f"submitting from a worker task)" if floor_s > GOAL_S
           else f"Not above {GOAL_S:g} s: the machine allows the goal")
        + "; the figure's distance to the floor is the engine's own")
    return [
        Result(id="B3", what=f"{EXECUTIONS} executions waiting {WAIT_S} s, one worker",
               figure=None if span is None else round(span, 2), unit="s",
               baseline=float(WAIT_S), goal=f"all done <= {GOAL_S:g} s",
               met=bool(all_done and span is not None and span <= GOAL_S), note=note),
        Result(id="B3", what=f"floor: the wait + {EXECUTIONS} intakes at their least",
               figure=round(floor_s, 2), unit="s", baseline=float(WAIT_S),
               goal=f"(reachable if <= {GOAL_S:g} s)", met=None, note=floor_note),
        Result(id="B3", what="worker RSS at peak (one worker process)",
               figure=round(memory.peak, 1), unit="MB", baseline=round(rss_before, 1),
               goal=f"<= {GOAL_RSS_MB:g} MB", met=memory.peak <= GOAL_RSS_MB,
               note="baseline: the same worker before the executions"),
    ]


def _lag_note(lags: list[tuple[Any, Any]]) -> str:
    """Where each execution's time beyond the wait went: from its execute to its job's claim
    (the pass that submits it), and from the provider's end (the claim + WAIT_S) to its result
    recorded."""
    if not lags:
        return "no node finished"
    submit = [float(row[0]) for row in lags]
    record = [float(row[1]) for row in lags]
    return (f"Execute -> job claimed for submission: p50 {percentile(submit, 50):.1f} s, max "
            f"{max(submit):.1f} s; the provider's end -> its result recorded: p50 "
            f"{percentile(record, 50):.1f} s, max {max(record):.1f} s")


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
    parts = ", ".join(f"{part} {cpu[part] * 1000 / accepted:.1f}"
                      for part in ("web", "worker", "simulator", "postgres", "redis"))
    return (f"While the executes came in: {each:.1f} ms of machine CPU per execution "
            f"({parts}); submitting all {EXECUTIONS} within "
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


def _floor(site: Site) -> dict[str, float]:
    """CPU milliseconds of one hello and one no-op task (the machine's, the load included), of
    one accepted submit (the simulator's own, and its caller's) and of one committed write
    (the machine's), each over FLOOR_SAMPLES of them."""
    return {**least_cpu_ms(site, FLOOR_SAMPLES, CLIENTS, load=requests_from_hey),
            **provider_accept_ms(site, FLOOR_SAMPLES, CLIENTS),
            "commit": commit_cpu_ms(FLOOR_SAMPLES)}

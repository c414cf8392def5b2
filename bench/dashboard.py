"""DASH: the statistics on a big history — 100,000 executions (three node runs each) spread over
30 days, bulk inserted into the bench database, then GET /api/v1/stats?days=30, the Dashboard page
and a workflow's statistics page, each timed (median of RUNS) against GET /api/v1/nodes, a
request that reads no statistics, in the same run.

    python -m bench DASH           # on a site of its own, after the other benchmarks
    python -m bench.dashboard      # alone, on its own database (wf_bench_dash) and Redis db 2
"""

from __future__ import annotations

import os
import re
import statistics
import subprocess
import sys
import time
from typing import Any

import httpx

from . import common
from .common import (
    EMAIL,
    PASSWORD,
    ROOT,
    Result,
    Site,
    create_workflow,
    edge,
    node,
)

# A fresh site: the counts checked below are of this benchmark's executions only.
SITE_OPTIONS: dict[str, Any] = {}
EXECUTIONS = 100_000
WORKFLOWS = 20
DAYS = 30
RUNS = 5
GOAL_S = 1.0
BATCH = 5_000


def graph() -> tuple[list[Any], list[Any]]:
    nodes = [node("prompt", "input:text", text="a red fox"),
             node("flux", "generate:flux_2"), node("result", "output:result")]
    return nodes, [edge("prompt", "text", "flux", "prompt"),
                   edge("flux", "image", "result", "value")]


# --- Seeding (runs inside `manage.py shell`, with Django set up) ---------------------------

def seed(email: str, executions: int = EXECUTIONS, days: int = DAYS) -> None:
    """Bulk insert `executions` finished (mostly) executions of the user's team's workflows,
    created at random moments of the last `days` days, with a node run per graph node."""
    import random
    from datetime import timedelta

    from django.utils import timezone

    from accounts.models import User
    from executions.stats_selectors import stats_window
    from workflows.models import Workflow

    user = User.objects.get(email=email)
    workflows = list(Workflow.objects.filter(team=user.current_team))
    rng = random.Random(42)
    now = timezone.now()
    since = stats_window(days, now).start  # the window /stats?days=30 counts: all of them
    for start in range(0, executions, BATCH):
        count = min(BATCH, executions - start)
        _seed_batch(rng, since, now - timedelta(minutes=1), workflows, count)


def _seed_batch(rng: Any, since: Any, now: Any, workflows: list[Any], count: int) -> None:
    from datetime import timedelta

    from executions.models import Execution, ExecutionStatus, NodeRun, NodeStatus

    statuses = ([ExecutionStatus.COMPLETED] * 85 + [ExecutionStatus.FAILED] * 10
                + [ExecutionStatus.CANCELLED] * 4 + [ExecutionStatus.RUNNING])
    span = (now - since).total_seconds()
    made, runs = [], []
    for _ in range(count):
        workflow = rng.choice(workflows)
        status = rng.choice(statuses)
        created = since + timedelta(seconds=rng.random() * span)
        duration = timedelta(milliseconds=rng.randrange(500, 60_000))
        done = status != ExecutionStatus.RUNNING
        credits = 6.0 if status == ExecutionStatus.COMPLETED else 0.0
        execution = Execution(workflow=workflow, team_id=workflow.team_id, status=status,
                              created_at=created, started_at=created,
                              finished_at=created + duration if done else None,
                              deadline_at=created + timedelta(hours=1), credits_used=credits)
        made.append(execution)
        flux = NodeStatus.FAILED if status == ExecutionStatus.FAILED else NodeStatus.COMPLETED
        for position, (node_id, node_type, state, cost) in enumerate((
                ("prompt", "input:text", NodeStatus.COMPLETED, 0.0),
                ("flux", "generate:flux_2", flux, credits),
                ("result", "output:result", NodeStatus.COMPLETED if credits
                 else NodeStatus.SKIPPED, 0.0))):
            ran = state != NodeStatus.SKIPPED
            runs.append(NodeRun(execution=execution, node_id=node_id, node_type=node_type,
                                label=node_id, position=position, status=state, credits=cost,
                                started_at=created if ran else None,
                                finished_at=created + duration / 3 if ran else None))
    Execution.objects.bulk_create(made, batch_size=1000)
    NodeRun.objects.bulk_create(runs, batch_size=2000)


def seed_site(site: Site) -> float:
    """Seconds it took to insert the history."""
    code = f"from bench.dashboard import seed; seed({EMAIL!r})"
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "manage.py", "shell", "-c", code], cwd=ROOT,
                          env=site.env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"seeding failed: {done.stderr[-500:]}")
    subprocess.run([sys.executable, "manage.py", "dbshell", "--", "-c", "ANALYZE"], cwd=ROOT,
                   env=site.env, capture_output=True, check=False)
    return time.perf_counter() - start


# --- Timing ---------------------------------------------------------------------------------

def logged_in(site: Site) -> httpx.Client:
    """A browser-like session: the login form, CSRF token and all."""
    from .b8_editor import ensure_password

    ensure_password(site)
    client = httpx.Client(base_url=site.url, timeout=60, follow_redirects=True)
    form = client.get("/accounts/login/").text  # closed by the caller
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form)
    if token is None:
        raise RuntimeError("no CSRF token on the login page")
    answer = client.post("/accounts/login/", data={
        "csrfmiddlewaretoken": token.group(1), "login": EMAIL, "password": PASSWORD},
        headers={"Referer": f"{site.url}/accounts/login/"})
    if "/accounts/login/" in str(answer.url):
        raise RuntimeError("could not log in")
    return client


def median_seconds(client: httpx.Client, path: str, runs: int = RUNS) -> float:
    client.get(path).raise_for_status()  # warm: connections, imports, the database's cache
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        client.get(path).raise_for_status()
        times.append(time.perf_counter() - start)
    return round(statistics.median(times), 4)


def run(site: Site) -> list[Result]:
    with site.client() as api:
        workflow_ids = [create_workflow(api, *graph()) for _ in range(WORKFLOWS)]
        seconds = seed_site(site)
        stats = api.get(f"/stats?days={DAYS}").json()
        if stats["runs"] != EXECUTIONS:
            raise RuntimeError(f"only {stats['runs']} runs counted")
        baseline = median_seconds(api, "/nodes")
        api_s = median_seconds(api, f"/stats?days={DAYS}")
        workflow_api_s = median_seconds(api, f"/workflows/{workflow_ids[0]}/stats?days={DAYS}")
    browser = logged_in(site)
    try:
        page_base = median_seconds(browser, "/settings/")
        dashboard_s = median_seconds(browser, f"/dashboard/?days={DAYS}")
        workflow_s = median_seconds(browser, f"/workflows/{workflow_ids[0]}/stats/?days={DAYS}")
    finally:
        browser.close()
    load = os.getloadavg()[0]  # these machines are shared: say how busy this one was
    note = (f"{EXECUTIONS:,} executions, {3 * EXECUTIONS:,} node runs over {DAYS} days, "
            f"{WORKFLOWS} workflows; inserted in {seconds:.0f} s; median of {RUNS}; "
            f"1-min load {load:.1f}")
    return [
        _result("DASH1", "GET /api/v1/stats?days=30", api_s, baseline, note),
        _result("DASH2", "GET /api/v1/workflows/{id}/stats?days=30", workflow_api_s, baseline,
                "baseline: GET /api/v1/nodes"),
        _result("DASH3", "Dashboard page (30 days)", dashboard_s, page_base,
                "baseline: the Settings page"),
        _result("DASH4", "workflow statistics page (30 days)", workflow_s, page_base,
                "baseline: the Settings page"),
    ]


def _result(bench_id: str, what: str, seconds: float, baseline: float, note: str) -> Result:
    return Result(id=bench_id, what=what, figure=seconds, unit="s", baseline=baseline,
                  goal=f"< {GOAL_S} s", met=seconds < GOAL_S, note=note)


# --- Alone: `python -m bench.dashboard` -----------------------------------------------------

def run_alone() -> int:
    return common.run_alone("wf_bench_dash", "redis://127.0.0.1:6379/2", run)


if __name__ == "__main__":
    sys.exit(run_alone())

"""B6: the API under load — 50 concurrent connections from `wrk` (C, outside Python, so the
load generator is not the bottleneck) on (a) the poll of a finished execution and (b) the
execute of a 3-node utility workflow, against (c) a hello endpoint on the same server.

Hello is GET /api/v1/team: the most trivial authenticated ninja GET the API has (API-key
auth, the caller's team and role, a small body). /healthz would be cheaper still but skips the
API's key authentication, which poll and execute both pay, so it would flatter the ratio.
`scripts/ensure-wrk.sh` installs wrk (Debian package) when it is missing.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from pathlib import Path

from .common import Result, Site, create_workflow, run_to_end, utility_pipeline

CONNECTIONS, THREADS = 50, 2
DURATION_S, QUICK_DURATION_S = 30, 10
WARMUP_S = 2
POLL_P99_GOAL_MS, POLL_SHARE_GOAL, EXECUTE_SHARE_GOAL = 25.0, 0.6, 0.3
EXECUTE_LUA = """wrk.method = "POST"
wrk.body = "{}"
wrk.headers["Content-Type"] = "application/json"
"""
_UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}


def run(site: Site) -> list[Result]:
    if shutil.which("wrk") is None:
        return [Result(id="B6", what="API under load (wrk)", figure=None, unit="",
                       baseline=None, goal="-", met=None,
                       note="wrk is not installed: run scripts/ensure-wrk.sh (make bench does)")]
    duration = QUICK_DURATION_S if site.quick else DURATION_S
    with site.client() as client:
        workflow_id = create_workflow(client, *utility_pipeline())
        _, done = run_to_end(client, workflow_id)
    api = f"{site.url}/api/v1"
    hello_url = f"{api}/team"
    poll_url = f"{api}/workflows/executions/{done['executionId']}/poll"
    execute_url = f"{api}/workflows/{workflow_id}/execute"
    auth = f"Authorization: Bearer {site.api_key}"
    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp) / "execute.lua"
        script.write_text(EXECUTE_LUA)
        wrk(hello_url, auth, WARMUP_S)  # warm every web worker's connections and imports
        hello = wrk(hello_url, auth, duration)
        poll = wrk(poll_url, auth, duration)
        execute = wrk(execute_url, auth, duration, script)
    left = site.wait_until_idle(workflow_id)  # the executes' backlog: not into what follows
    load = f"wrk -t{THREADS} -c{CONNECTIONS} -d{duration}s"
    drained = f"; {left} executions still running 300 s later" if left else ""
    poll_share = poll["rps"] / hello["rps"] if hello["rps"] else 0.0
    execute_share = execute["rps"] / hello["rps"] if hello["rps"] else 0.0
    return [
        Result(id="B6", what="poll of a finished execution: p99 latency", unit="ms",
               figure=poll["p99_ms"], baseline=hello["p99_ms"],
               goal=f"p99 <= {POLL_P99_GOAL_MS:g} ms", met=poll["p99_ms"] <= POLL_P99_GOAL_MS,
               note=f"{load}; baseline: hello (GET /api/v1/team) in the same run; "
                    f"p50 poll {poll['p50_ms']} ms, hello {hello['p50_ms']} ms. With "
                    f"{CONNECTIONS} requests always in flight, a request waits for the others "
                    f"(Little's law: {CONNECTIONS} / {hello['rps']:g} req/s = "
                    f"{_little_ms(hello['rps']):.0f} ms on average even for hello); p99 <= "
                    f"{POLL_P99_GOAL_MS:g} ms needs >= {_little_rps(POLL_P99_GOAL_MS):,.0f} "
                    "req/s"
                    + _errors(hello, "hello") + _errors(poll, "poll")),
        Result(id="B6", what="poll of a finished execution: requests/s", unit="/s",
               figure=poll["rps"], baseline=hello["rps"],
               goal=f">= {POLL_SHARE_GOAL:.0%} of hello", met=poll_share >= POLL_SHARE_GOAL),
        Result(id="B6", what="execute of a 3-node utility workflow: req/s", unit="/s",
               figure=execute["rps"], baseline=hello["rps"],
               goal=f">= {EXECUTE_SHARE_GOAL:.0%} of hello",
               met=execute_share >= EXECUTE_SHARE_GOAL,
               note=f"p50 {execute['p50_ms']} ms, p99 {execute['p99_ms']} ms"
                    + _errors(execute, "execute") + drained),
    ]


def _little_ms(rps: float) -> float:
    """The mean time in the system of CONNECTIONS requests always in flight at `rps`."""
    return CONNECTIONS / rps * 1000 if rps else float("inf")


def _little_rps(mean_ms: float) -> float:
    return CONNECTIONS / (mean_ms / 1000)


def wrk(url: str, header: str, duration: int, script: Path | None = None) -> dict[str, float]:
    """Run wrk and read its summary: requests/s, p50/p99 latency (ms), non-2xx and errors."""
    command = ["wrk", f"-t{THREADS}", f"-c{CONNECTIONS}", f"-d{duration}s", "--latency",
               "--timeout", "10s", "-H", header]
    if script is not None:
        command += ["-s", str(script)]
    done = subprocess.run([*command, url], capture_output=True, text=True, check=False,
                          timeout=duration + 60)
    if done.returncode != 0:
        raise RuntimeError(f"wrk failed: {done.stderr.strip()[-300:]}")
    stats = parse_wrk(done.stdout)
    if stats["non_2xx"] > 0.01 * stats["requests"]:  # a rate of refusals is not a figure
        raise RuntimeError(f"{url}: {int(stats['non_2xx'])} of {int(stats['requests'])} "
                           "responses were not 2xx")
    return stats


def parse_wrk(output: str) -> dict[str, float]:
    rps = re.search(r"^Requests/sec:\s+([\d.]+)", output, re.MULTILINE)
    total = re.search(r"^\s*(\d+) requests in", output, re.MULTILINE)
    if rps is None or total is None:
        raise RuntimeError(f"could not read wrk's output: {output[-300:]}")
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    socket_errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), "
                              r"timeout (\d+)", output)
    return {"rps": round(float(rps.group(1)), 1), "requests": int(total.group(1)),
            "p50_ms": _latency(output, "50"), "p99_ms": _latency(output, "99"),
            "non_2xx": int(non_2xx.group(1)) if non_2xx else 0,
            "errors": sum(int(n) for n in socket_errors.groups()) if socket_errors else 0}


def _latency(output: str, pct: str) -> float:
    found = re.search(rf"^\s+{pct}%\s+([\d.]+)(us|ms|s|m)\s*$", output, re.MULTILINE)
    if found is None:
        raise RuntimeError(f"wrk printed no {pct}% latency (was --latency given?)")
    return round(float(found.group(1)) * _UNITS_MS[found.group(2)], 3)


def _errors(stats: dict[str, float], name: str) -> str:
    if not stats["non_2xx"] and not stats["errors"]:
        return ""
    return (f"; {name}: {int(stats['non_2xx'])} non-2xx of {int(stats['requests'])}, "
            f"{int(stats['errors'])} socket errors")

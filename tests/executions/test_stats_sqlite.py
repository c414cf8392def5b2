"""The statistics in the embedded `make dev` mode, on SQLite: no percentile_cont there, so the
portable ranking query gives the percentiles; the numbers must be those PostgreSQL gives (the
same known runs as test_stats_api.py)."""

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
UNSET = {"SECRET_KEY", "DEBUG", "DATABASE_URL", "REDIS_URL", "SITE_URL", "WIREFLOW_ENV_FILE",
         "DJANGO_SETTINGS_MODULE", "WIREFLOW_SIMULATORS"}

SCRIPT = """
import json
from django.db import connection
from accounts.models import User
from executions.models import ExecutionStatus
from executions.stats_selectors import team_stats, workflow_stats
from tests.executions.stats_data import Run, flux_run, make_run, make_workflow

assert connection.vendor == "sqlite", connection.vendor
owner = User.objects.create_user(email="owner@example.com", password="correct-horse-battery")
team = owner.current_team
fox = make_workflow(team, owner)
for duration, flux_ms in ((1000, 100), (2000, 200), (3000, 300)):
    make_run(fox, flux_run(duration_ms=duration, flux_ms=flux_ms))
make_run(fox, Run(status=ExecutionStatus.RUNNING, duration_ms=None))
make_run(fox, flux_run(ExecutionStatus.FAILED, days_ago=1, duration_ms=4000, flux_ms=400))
make_run(fox, Run(status=ExecutionStatus.CANCELLED, days_ago=2, duration_ms=5000))
print(json.dumps({"team": team_stats(team, 30), "workflow": workflow_stats(fox, 7)}))
"""


def run_on_sqlite(var: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in UNSET}
    return subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT,
                          env={**env, "WIREFLOW_VAR_DIR": str(var)},
                          capture_output=True, text=True, timeout=300, check=False)


def test_the_stats_on_sqlite_are_those_of_postgresql(tmp_path: Path) -> None:
    (tmp_path / "dev.env").write_text("DEBUG=1\nSITE_URL=http://127.0.0.1:8000\n")
    migrated = run_on_sqlite(tmp_path, "migrate", "--noinput", "-v0")
    assert migrated.returncode == 0, migrated.stderr
    done = run_on_sqlite(tmp_path, "shell", "-c", SCRIPT)
    assert done.returncode == 0, done.stderr
    found = json.loads(done.stdout.strip().splitlines()[-1])
    team, workflow = found["team"], found["workflow"]
    assert (team["runs"], team["completed"], team["failed"], team["cancelled"]) == (6, 3, 1, 1)
    assert (team["successRate"], team["creditsUsed"]) == (0.6, 18)
    assert (team["p50DurationMs"], team["p95DurationMs"]) == (3000, 4800)
    assert team["byDay"][-1]["p50DurationMs"] == 2000
    assert team["byDay"][-2]["p50DurationMs"] == 4000
    assert len(team["byDay"]) == 30 and sum(d["runs"] for d in team["byDay"]) == 6
    assert team["byWorkflow"][0]["p50DurationMs"] == 3000
    flux = {row["nodeType"]: row for row in team["byNodeType"]}["generate:flux_2"]
    assert (flux["runs"], flux["failed"], flux["creditsUsed"]) == (4, 1, 18)
    by_node = {row["nodeId"]: row for row in workflow["byNode"]}
    assert by_node["flux"]["p50DurationMs"] == 250
    assert len(workflow["byDay"]) == 7

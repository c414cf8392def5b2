"""The statistics in the embedded `make dev` mode, on SQLite: no percentile_cont there, so the
portable ranking query gives the percentiles; the numbers must be those PostgreSQL gives (the
same known runs as test_stats_api.py)."""

from pathlib import Path

from tests.harness import dev_shell_json

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


def test_the_stats_on_sqlite_are_those_of_postgresql(tmp_path: Path) -> None:
    found = dev_shell_json(tmp_path, SCRIPT, timeout=300)
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

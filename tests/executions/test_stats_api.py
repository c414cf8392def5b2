"""docs/api.md "Runs and statistics": GET /stats and GET /workflows/{id}/stats on known runs — exact
counts, success rate, credits, percentiles, every day of the window, the breakdowns — and who
may read them."""

import random
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.db.models import Value
from django.test import Client

from accounts.models import Team, User
from accounts.scopes import EXECUTIONS_READ, WORKFLOWS_READ
from executions import stats_selectors
from executions.models import Execution, ExecutionStatus, NodeRun, NodeStatus
from executions.stats_selectors import DurationMs, PercentileCont
from tests.conftest import ApiClient
from workflows.models import Workflow

from .stats_data import Run, Step, flux_run, make_run, make_workflow, today

pytestmark = pytest.mark.django_db
WORKFLOW_NOT_FOUND = {"error": "Workflow not found", "code": "not_found"}


@pytest.fixture
def fox(team: Team, owner: User) -> Workflow:
    """Known runs of one workflow: 3 completed today, 1 running today, 1 failed yesterday, 1
    cancelled two days ago, and one 40 days ago (outside a 30-day window)."""
    workflow = make_workflow(team, owner)
    for duration, flux_ms in ((1000, 100), (2000, 200), (3000, 300)):
        make_run(workflow, flux_run(duration_ms=duration, flux_ms=flux_ms))
    make_run(workflow, Run(status=ExecutionStatus.RUNNING, duration_ms=None))
    make_run(workflow, flux_run(ExecutionStatus.FAILED, days_ago=1, duration_ms=4000,
                                flux_ms=400))
    make_run(workflow, Run(status=ExecutionStatus.CANCELLED, days_ago=2, duration_ms=5000))
    make_run(workflow, flux_run(days_ago=40, duration_ms=9000, flux_credits=100))
    return workflow


def day(days_ago: int) -> str:
    return (today() - timedelta(days=days_ago)).date().isoformat()


def ok(api: ApiClient, path: str) -> dict[str, Any]:
    response = api.get(path)
    assert response.status_code == 200, response.content
    return response.json()  # type: ignore[no-any-return]


def test_the_team_stats_count_the_known_runs_of_the_window(api: ApiClient, fox: Workflow
                                                           ) -> None:
    stats = ok(api, "/stats?days=30")
    assert {k: stats[k] for k in ("days", "runs", "completed", "failed", "cancelled")} == {
        "days": 30, "runs": 6, "completed": 3, "failed": 1, "cancelled": 1}
    assert stats["successRate"] == 0.6  # 3 of the 5 finished
    assert stats["creditsUsed"] == 18
    assert stats["avgCreditsPerRun"] == 3
    # Finished durations 1000..5000 ms: the median, and 4000 + 0.8 * 1000 for the 95th.
    assert (stats["p50DurationMs"], stats["p95DurationMs"]) == (3000, 4800)


def test_by_day_has_every_day_of_the_window_with_zeros(api: ApiClient, fox: Workflow) -> None:
    by_day = ok(api, "/stats?days=30")["byDay"]
    assert [d["date"] for d in by_day] == [day(n) for n in range(29, -1, -1)]
    assert by_day[-1] == {"date": day(0), "runs": 4, "completed": 3, "failed": 0,
                          "cancelled": 0, "creditsUsed": 18, "p50DurationMs": 2000}
    assert by_day[-2] == {"date": day(1), "runs": 1, "completed": 0, "failed": 1,
                          "cancelled": 0, "creditsUsed": 0, "p50DurationMs": 4000}
    assert by_day[-3]["cancelled"] == 1
    assert all(d["runs"] == 0 and d["creditsUsed"] == 0 and d["p50DurationMs"] is None
               for d in by_day[:-3])


def test_a_shorter_window_leaves_older_runs_out(api: ApiClient, fox: Workflow) -> None:
    stats = ok(api, "/stats?days=2")
    assert (stats["runs"], stats["failed"], stats["cancelled"]) == (5, 1, 0)
    assert [d["date"] for d in stats["byDay"]] == [day(1), day(0)]
    assert ok(api, "/stats?days=365")["runs"] == 7
    assert ok(api, "/stats?days=365")["creditsUsed"] == 118


def test_by_workflow_puts_the_most_credits_first(api: ApiClient, fox: Workflow, team: Team
                                                 ) -> None:
    portraits = make_workflow(team, name="Portraits")
    make_run(portraits, flux_run(flux_credits=20))
    rows = ok(api, "/stats")["byWorkflow"]
    assert rows == [
        {"workflowId": str(portraits.pk), "name": "Portraits", "runs": 1, "completed": 1,
         "failed": 0, "creditsUsed": 20, "p50DurationMs": 1000},
        {"workflowId": str(fox.pk), "name": "Fox pipeline", "runs": 6, "completed": 3,
         "failed": 1, "creditsUsed": 18, "p50DurationMs": 3000}]


def test_by_node_type_counts_the_nodes_that_ran(api: ApiClient, fox: Workflow) -> None:
    rows = {r["nodeType"]: r for r in ok(api, "/stats")["byNodeType"]}
    assert rows["generate:flux_2"] == {"nodeType": "generate:flux_2", "nodeTypeLabel": "FLUX.2",
                                       "category": "model", "runs": 4, "failed": 1,
                                       "creditsUsed": 18}
    assert (rows["input:text"]["runs"], rows["input:text"]["category"]) == (4, "input")
    assert rows["output:result"]["runs"] == 3  # skipped after the failure: did not run
    assert list(rows)[0] == "generate:flux_2"


def test_the_workflow_stats_have_totals_by_day_and_by_node(api: ApiClient, fox: Workflow
                                                           ) -> None:
    stats = ok(api, f"/workflows/{fox.pk}/stats?days=30")
    assert stats["workflowId"] == str(fox.pk)
    assert (stats["runs"], stats["completed"], stats["failed"], stats["cancelled"]) == (
        6, 3, 1, 1)
    assert (stats["successRate"], stats["creditsUsed"], stats["avgCreditsPerRun"]) == (
        0.6, 18, 3)
    assert (stats["p50DurationMs"], stats["p95DurationMs"]) == (3000, 4800)
    assert len(stats["byDay"]) == 30
    by_node = {r["nodeId"]: r for r in stats["byNode"]}
    assert by_node["flux"] == {"nodeId": "flux", "label": "FLUX", "nodeType": "generate:flux_2",
                               "nodeTypeLabel": "FLUX.2", "category": "model", "runs": 4,
                               "failed": 1, "creditsUsed": 18, "p50DurationMs": 250}
    assert by_node["result"]["runs"] == 3
    assert stats["byNode"][0]["nodeId"] == "flux"


def test_the_workflow_stats_count_only_that_workflow(api: ApiClient, fox: Workflow,
                                                     team: Team) -> None:
    other = make_workflow(team, name="Other")
    make_run(other, flux_run(flux_credits=50))
    assert ok(api, f"/workflows/{fox.pk}/stats")["creditsUsed"] == 18
    assert ok(api, f"/workflows/{other.pk}/stats")["creditsUsed"] == 50


def test_a_node_renamed_since_shows_its_new_label(api: ApiClient, fox: Workflow) -> None:
    fox.nodes[1]["data"]["label"] = "Renamed FLUX"
    fox.save(update_fields=["nodes"])
    by_node = {r["nodeId"]: r for r in ok(api, f"/workflows/{fox.pk}/stats")["byNode"]}
    assert by_node["flux"]["label"] == "Renamed FLUX"


def test_no_runs_are_zeros_and_nulls(api: ApiClient, team: Team, owner: User) -> None:
    workflow = make_workflow(team, owner)
    for path in ("/stats?days=7", f"/workflows/{workflow.pk}/stats?days=7"):
        stats = ok(api, path)
        assert (stats["runs"], stats["creditsUsed"], stats["avgCreditsPerRun"]) == (0, 0, 0)
        assert stats["successRate"] is stats["p50DurationMs"] is stats["p95DurationMs"] is None
        assert [d["runs"] for d in stats["byDay"]] == [0] * 7
    assert ok(api, "/stats")["byWorkflow"] == ok(api, "/stats")["byNodeType"] == []
    assert ok(api, f"/workflows/{workflow.pk}/stats")["byNode"] == []


def test_another_teams_runs_are_not_counted(api: ApiClient, fox: Workflow, stranger: User,
                                            api_for: Callable[..., ApiClient]) -> None:
    assert stranger.current_team is not None
    theirs = make_workflow(stranger.current_team, stranger)
    make_run(theirs, flux_run(flux_credits=70))
    assert ok(api, "/stats")["creditsUsed"] == 18
    assert [r["workflowId"] for r in ok(api, "/stats")["byWorkflow"]] == [str(fox.pk)]
    stranger_stats = ok(api_for(stranger), "/stats")
    assert (stranger_stats["runs"], stranger_stats["creditsUsed"]) == (1, 70)


def test_a_stranger_gets_404_for_the_workflow_stats(fox: Workflow, stranger: User,
                                                    api_for: Callable[..., ApiClient]) -> None:
    for path in (f"/workflows/{fox.pk}/stats", "/workflows/not-a-uuid/stats"):
        response = api_for(stranger).get(path)
        assert response.status_code == 404
        assert response.json() == WORKFLOW_NOT_FOUND


def test_members_of_every_role_may_read_the_stats(fox: Workflow, viewer: User, teammate: User,
                                                  api_for: Callable[..., ApiClient]) -> None:
    for user in (viewer, teammate):
        assert ok(api_for(user), "/stats")["runs"] == 6
        assert ok(api_for(user), f"/workflows/{fox.pk}/stats")["runs"] == 6


def test_the_browser_session_reads_its_current_teams_stats(owner: User, fox: Workflow) -> None:
    client = Client()
    client.force_login(owner)
    response = client.get("/api/v1/stats?days=7")
    assert response.status_code == 200
    assert response.json()["runs"] == 6


@pytest.mark.parametrize("days", ["0", "366", "-1", "abc", "1.5", "99999999999999999999"])
def test_days_outside_1_to_365_is_400(api: ApiClient, fox: Workflow, days: str) -> None:
    for path in (f"/stats?days={days}", f"/workflows/{fox.pk}/stats?days={days}"):
        response = api.get(path)
        assert response.status_code == 400, response.content
        body = response.json()
        assert body["code"] == "invalid_request"
        assert body["fields"] == ["days"]


def test_a_key_needs_the_executions_read_scope(fox: Workflow, owner: User,
                                               api_for: Callable[..., ApiClient]) -> None:
    reader = api_for(owner, scopes=[WORKFLOWS_READ])
    for path in ("/stats", f"/workflows/{fox.pk}/stats"):
        response = reader.get(path)
        assert response.status_code == 403
        assert response.json() == {"error": "Forbidden: missing scope executions:read",
                                   "code": "forbidden"}
        assert api_for(owner, scopes=[EXECUTIONS_READ]).get(path).status_code == 200


def test_no_key_is_401(fox: Workflow) -> None:
    response = ApiClient(None).get("/stats")
    assert response.status_code == 401
    assert response.json()["code"] == "missing_authorization"


def test_the_stats_take_a_fixed_number_of_queries(api: ApiClient, fox: Workflow, team: Team,
                                                  django_assert_max_num_queries: Any) -> None:
    for name in ("A", "B", "C"):
        make_run(make_workflow(team, name=name), flux_run())
    # Auth (key, membership, touch) plus one query per breakdown, however many runs.
    with django_assert_max_num_queries(14):
        assert ok(api, "/stats")["runs"] == 9


# --- The percentiles themselves -------------------------------------------------------------

def _durations_by_group(team: Team, owner: User, seed: int) -> Workflow:
    rng = random.Random(seed)
    workflow = make_workflow(team, owner)
    for _ in range(40):
        make_run(workflow, Run(days_ago=rng.randrange(3), duration_ms=rng.randrange(1, 90_000),
                               steps=[Step("a", "input:text",
                                           duration_ms=rng.randrange(0, 5000))]))
    return workflow


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_the_portable_percentiles_agree_with_percentile_cont(team: Team, owner: User,
                                                             seed: int) -> None:
    """The SQLite fallback's query, run on PostgreSQL, gives what percentile_cont gives."""
    _durations_by_group(team, owner, seed)
    duration = DurationMs("finished_at", "started_at")
    rows = Execution.objects.filter(team=team).annotate(group=Value(1))
    portable = stats_selectors.portable_percentiles(rows, "workflow_id", duration, (0, 50, 95))
    native = (rows.values("workflow_id").annotate(
        p0=PercentileCont(duration, 0), p50=PercentileCont(duration, 50),
        p95=PercentileCont(duration, 95)))
    for row in native:
        got = portable[stats_selectors.group_key(row["workflow_id"])]
        assert got == pytest.approx({0: row["p0"], 50: row["p50"], 95: row["p95"]}, abs=0.01)
    runs = NodeRun.objects.filter(execution__team=team, status=NodeStatus.COMPLETED)
    one = stats_selectors.portable_percentiles(runs, None, duration, (50,))
    assert one[None][50] == pytest.approx(
        runs.aggregate(p=PercentileCont(duration, 50))["p"], abs=0.01)


def test_a_single_run_is_its_own_percentiles(api: ApiClient, team: Team, owner: User) -> None:
    make_run(make_workflow(team, owner), Run(duration_ms=1234))
    stats = ok(api, "/stats")
    assert (stats["p50DurationMs"], stats["p95DurationMs"]) == (1234, 1234)

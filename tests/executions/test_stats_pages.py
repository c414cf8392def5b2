"""The Dashboard, a workflow's statistics page and Settings > Usage, server-rendered: with known
runs and with none, who may see them, the ledger's pages, the limits' meters."""

import json
import re
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.test import Client

from accounts.credits import as_number, credit_balance, credits_grant
from accounts.models import CreditEntry, CreditKind, Plan, Team, User
from accounts.usage_selectors import LEDGER_PAGE_SIZE
from executions.models import ExecutionStatus
from executions.presenters import format_duration
from executions.stats_views import format_credits, format_rate
from tests.accounts.helpers import logged_in
from tests.conftest import ApiClient
from wireflow_site import ratelimit
from workflows.models import Workflow
from workflows.templatetags import editor_assets

from .stats_data import flux_run, make_run, make_workflow

pytestmark = pytest.mark.django_db


def page(client: Client, path: str, status: int = 200) -> str:
    response = client.get(path)
    assert response.status_code == status, response.content[:500]
    return str(response.content.decode())


def chart_data(html: str) -> dict[str, Any]:
    found = re.search(r'<script id="chart-data" type="application/json">(.*?)</script>', html,
                      flags=re.S)
    assert found, "no chart data on the page"
    return json.loads(found.group(1))  # type: ignore[no-any-return]


def card_value(html: str, key: str) -> str:
    found = re.search(rf'data-testid="card-{key}" data-value="([^"]*)"', html)
    assert found, f"no card {key}"
    return found.group(1)


@pytest.fixture
def built_charts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    manifest = tmp_path / "manifest.json"
    manifest.write_text(json.dumps({
        "src/main.tsx": {"file": "assets/main-abc.js", "isEntry": True},
        editor_assets.CHARTS_ENTRY: {"file": "assets/charts-def.js", "isEntry": True}}))
    monkeypatch.setattr(editor_assets, "manifest_path", lambda: manifest)


@pytest.fixture
def fox(team: Team, owner: User) -> Workflow:
    workflow = make_workflow(team, owner)
    make_run(workflow, flux_run(duration_ms=1000, flux_credits=6))
    make_run(workflow, flux_run(duration_ms=3000, flux_credits=6.5))
    make_run(workflow, flux_run(ExecutionStatus.FAILED, days_ago=3, duration_ms=2000))
    make_run(workflow, flux_run(days_ago=20, duration_ms=500, flux_credits=1))
    return workflow


# --- Dashboard ------------------------------------------------------------------------------

def test_the_dashboard_shows_the_cards_the_api_computes(owner: User, fox: Workflow,
                                                        api: ApiClient, built_charts: None
                                                        ) -> None:
    html = page(logged_in(owner), "/dashboard/")
    stats = api.get("/stats?days=30").json()
    assert card_value(html, "runs") == str(stats["runs"]) == "4"
    assert card_value(html, "credits") == str(stats["creditsUsed"]) == "13.5"
    assert card_value(html, "success-rate") == str(stats["successRate"]) == "0.75"
    assert card_value(html, "p95") == str(stats["p95DurationMs"])
    assert 'data-testid="card-success-rate-text">75%<' in html
    assert chart_data(html)["byDay"] == stats["byDay"]
    assert chart_data(html)["byNodeType"] == stats["byNodeType"]
    assert '<script type="module" src="/static/editor/assets/charts-def.js">' in html
    for chart in ("runsPerDay", "creditsPerDay", "topWorkflows", "topNodeTypes"):
        assert f'data-chart="{chart}"' in html


def test_the_dashboard_switches_to_7_days(owner: User, fox: Workflow) -> None:
    html = page(logged_in(owner), "/dashboard/?days=7")
    assert card_value(html, "runs") == "3"  # the run of 20 days ago is out
    assert len(chart_data(html)["byDay"]) == 7
    assert 'href="?days=7" aria-current="true"' in html


@pytest.mark.parametrize("days", ["3", "abc", "-7", "99999"])
def test_the_dashboard_reads_any_other_range_as_30_days(owner: User, fox: Workflow,
                                                        days: str) -> None:
    html = page(logged_in(owner), f"/dashboard/?days={days}")
    assert len(chart_data(html)["byDay"]) == 30


def test_the_dashboard_links_each_workflow_to_its_statistics(owner: User, fox: Workflow
                                                             ) -> None:
    html = page(logged_in(owner), "/dashboard/")
    assert f'href="/workflows/{fox.pk}/stats/?days=30" data-testid="workflow-stats-link"' in html
    assert "Fox pipeline" in html
    assert 'class="cat-dot cat-model"' in html  # FLUX.2 in the palette's model colour


def test_an_empty_dashboard_says_what_to_do(owner: User) -> None:
    html = page(logged_in(owner), "/dashboard/")
    assert 'data-testid="dashboard-empty"' in html
    assert "No runs in the last 30 days" in html
    assert card_value(html, "runs") == "0"
    assert "data-chart=" not in html


def test_the_dashboard_shows_only_the_current_teams_runs(stranger: User, fox: Workflow
                                                         ) -> None:
    html = page(logged_in(stranger), "/dashboard/")
    assert card_value(html, "runs") == "0"
    assert "Fox pipeline" not in html


def test_a_viewer_sees_the_dashboard(viewer: User, fox: Workflow) -> None:
    assert card_value(page(logged_in(viewer), "/dashboard/"), "runs") == "4"


def test_the_pages_need_a_login(fox: Workflow) -> None:
    for path in ("/dashboard/", f"/workflows/{fox.pk}/stats/", "/settings/usage/"):
        response = Client().get(path)
        assert response.status_code == 302
        assert "/accounts/login/" in response["Location"]


# --- A workflow's statistics ----------------------------------------------------------------

def test_the_workflow_stats_page_has_the_cards_and_a_row_per_node(owner: User, fox: Workflow,
                                                                  api: ApiClient) -> None:
    html = page(logged_in(owner), f"/workflows/{fox.pk}/stats/")
    stats = api.get(f"/workflows/{fox.pk}/stats").json()
    assert card_value(html, "runs") == str(stats["runs"]) == "4"
    assert card_value(html, "credits") == "13.5"
    rows = re.findall(r'data-testid="workflow-stats-node-row" data-node-id="([^"]+)"', html)
    assert rows == [n["nodeId"] for n in stats["byNode"]]
    assert rows[0] == "flux"
    assert chart_data(html)["byNode"] == stats["byNode"]


def test_a_workflow_without_runs_shows_the_empty_state(owner: User, team: Team) -> None:
    workflow = make_workflow(team, owner, name="Quiet")
    html = page(logged_in(owner), f"/workflows/{workflow.pk}/stats/?days=7")
    assert 'data-testid="workflow-stats-empty"' in html
    assert "data-chart=" not in html


def test_a_stranger_gets_404_for_the_workflow_stats_page(stranger: User, fox: Workflow) -> None:
    page(logged_in(stranger), f"/workflows/{fox.pk}/stats/", status=404)
    page(logged_in(stranger), "/workflows/not-a-uuid/stats/", status=404)


# --- Settings > Usage -----------------------------------------------------------------------

def test_the_usage_page_shows_balance_plan_and_limits(owner: User, team: Team) -> None:
    team.plan = Plan.STARTER
    team.save(update_fields=["plan"])
    credits_grant(team, "12.5")
    balance = as_number(credit_balance(team.pk))
    html = page(logged_in(owner), "/settings/usage/")
    assert 'aria-current="page" data-testid="tab-usage"' in html
    assert re.search(r'data-testid="usage-plan" data-value="starter"', html)
    assert f'data-testid="usage-balance" data-value="{balance}"' in html
    assert re.search(r'data-testid="meter-requests" data-used="[0-9]*" data-limit="20"', html)
    assert re.search(r'data-testid="meter-executions-day" data-used="0" data-limit="200"', html)


def test_the_meters_read_the_rate_limiters_counters(owner: User, team: Team, settings: Any,
                                                    api_for: Callable[..., ApiClient]) -> None:
    settings.RATE_LIMITS_ENABLED = True
    ratelimit.limiter().count("warm-up", 1)  # the limiter of this Redis exists
    for key in (ratelimit.REQUESTS, ratelimit.EXECUTIONS, ratelimit.EXECUTIONS_DAY):
        _forget(ratelimit.bucket_key(team.pk, key))
    client = api_for(owner)
    for _ in range(3):
        assert client.get("/workflows").status_code == 200
    html = page(logged_in(owner), "/settings/usage/")
    assert re.search(r'data-testid="meter-requests" data-used="3" data-limit="10"', html)
    assert re.search(r'data-testid="meter-executions-minute" data-used="0" data-limit="10"', html)


def _forget(key: str) -> None:
    limiter = ratelimit.limiter()
    if isinstance(limiter, ratelimit.RedisLimiter):
        limiter.redis.delete(key)


def test_with_limits_off_the_meters_say_not_counted(owner: User, settings: Any) -> None:
    settings.RATE_LIMITS_ENABLED = False
    html = page(logged_in(owner), "/settings/usage/")
    assert re.search(r'data-testid="meter-requests" data-used="" data-limit="10"', html)
    assert "not counted" in html
    # The day falls back to the executions recorded in the database.
    assert re.search(r'data-testid="meter-executions-day" data-used="0" data-limit="50"', html)


def test_a_plan_without_a_daily_cap_counts_the_days_runs_from_the_database(
        owner: User, team: Team, settings: Any) -> None:
    settings.RATE_LIMITS_ENABLED = True
    team.plan = Plan.ENTERPRISE
    team.save(update_fields=["plan"])
    fox = make_workflow(team, owner)
    for _ in range(2):
        make_run(fox, flux_run())
    html = page(logged_in(owner), "/settings/usage/")
    assert re.search(r'data-testid="meter-executions-day" data-used="2" data-limit=""', html)


def test_the_ledger_is_paged_newest_first(owner: User, team: Team) -> None:
    for i in range(LEDGER_PAGE_SIZE + 5):
        credits_grant(team, i + 1, note=f"grant {i + 1}")
    entries = list(CreditEntry.objects.filter(team=team).order_by("-created_at", "-pk"))
    client = logged_in(owner)
    first = page(client, "/settings/usage/")
    ids = [int(i) for i in re.findall(r'data-testid="ledger-row" data-entry-id="(\d+)"', first)]
    assert ids == [e.pk for e in entries[:LEDGER_PAGE_SIZE]]
    assert 'data-testid="ledger-older"' in first and 'data-testid="ledger-newer"' not in first
    second = page(client, "/settings/usage/?page=2")
    ids = [int(i) for i in re.findall(r'data-testid="ledger-row" data-entry-id="(\d+)"', second)]
    assert ids == [e.pk for e in entries[LEDGER_PAGE_SIZE:]]
    assert 'data-testid="ledger-newer"' in second
    for junk in ("999", "abc", "-1"):
        assert 'data-testid="ledger-row"' in page(client, f"/settings/usage/?page={junk}")


def test_the_usage_chart_has_the_ledgers_charges_per_day(owner: User, team: Team) -> None:
    credits_grant(team, 100)
    workflow = make_workflow(team, owner)
    run = make_run(workflow, flux_run())
    CreditEntry.objects.create(team=team, amount=Decimal("-6.5"), kind=CreditKind.CHARGE,
                               execution=run, node_id="flux")
    html = page(logged_in(owner), "/settings/usage/")
    days = chart_data(html)["ledgerByDay"]
    assert len(days) == 30
    assert days[-1]["creditsUsed"] == 6.5
    assert sum(d["creditsUsed"] for d in days) == 6.5
    assert 'data-chart="ledgerPerDay"' in html


def test_a_team_without_charges_shows_no_chart(owner: User) -> None:
    html = page(logged_in(owner), "/settings/usage/")
    assert 'data-testid="usage-chart-empty"' in html


def test_the_usage_page_is_the_current_teams(stranger: User, owner: User, team: Team) -> None:
    credits_grant(team, 12345)
    assert "12345" not in page(logged_in(stranger), "/settings/usage/")


def test_the_nav_links_to_the_dashboard_and_usage(owner: User) -> None:
    html = page(logged_in(owner), "/workflows/")
    assert 'href="/dashboard/"' in html
    assert 'href="/settings/usage/" data-testid="menu-usage"' in html


# --- Formatting -----------------------------------------------------------------------------

def test_numbers_are_shown_plainly() -> None:
    assert [format_credits(v) for v in (0, 18, 12.5, 0.0001, 1234.5)] == [
        "0", "18", "12.5", "0.0001", "1,234.5"]
    assert [format_duration(v) for v in (None, 850, 1234, 65_000)] == [
        "—", "850 ms", "1.2 s", "1 min 5 s"]
    assert [format_rate(v) for v in (None, 1.0, 0.75, 0.6667)] == ["—", "100%", "75%", "66.7%"]


def test_without_a_built_bundle_the_page_still_has_its_numbers(
        owner: User, fox: Workflow, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(editor_assets, "manifest_path", lambda: tmp_path / "missing.json")
    html = page(logged_in(owner), "/dashboard/")
    assert '<script type="module"' not in html
    assert card_value(html, "runs") == "4"


def test_the_editor_entry_is_unchanged_by_the_charts_entry(built_charts: None) -> None:
    editor = editor_assets.editor_assets()
    charts = editor_assets.editor_assets(editor_assets.CHARTS_ENTRY)
    assert editor is not None and editor["script"] == "/static/editor/assets/main-abc.js"
    assert charts is not None and charts["script"] == "/static/editor/assets/charts-def.js"
    assert editor_assets.editor_assets("src/unknown.ts") is None

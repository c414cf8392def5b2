"""The Dashboard in Chromium: known runs, then the cards show the counts and credits GET /stats
returns for the same data, and the Chart.js charts are drawn with that data; the 7/30 days
switch; a workflow's statistics page; the Usage page's chart."""

from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from accounts.models import CreditEntry, CreditKind, Team, User
from executions.models import ExecutionStatus
from tests.conftest import ApiClient
from tests.executions.stats_data import flux_run, make_run, make_workflow

from .editor_page import open_page

# What each chart on the page holds: its labels, the data of each dataset, and its canvas size.
CHARTS = """() => Object.fromEntries(Object.entries(window.wireflowCharts ?? {}).map(
  ([name, chart]) => [name, {labels: chart.data.labels,
                             datasets: chart.data.datasets.map((d) => d.data),
                             width: chart.canvas.width, height: chart.canvas.height,
                             attached: chart.canvas.isConnected}]))"""


def charts_of(page: Page) -> dict[str, Any]:
    page.wait_for_function("document.body.dataset.chartsReady === 'true'")
    return page.evaluate(CHARTS)  # type: ignore[no-any-return]


def known_runs(team: Team, owner: User) -> None:
    fox = make_workflow(team, owner, name="Fox pipeline")
    make_run(fox, flux_run(duration_ms=1000, flux_credits=6))
    make_run(fox, flux_run(duration_ms=3000, flux_credits=6.5))
    make_run(fox, flux_run(ExecutionStatus.FAILED, days_ago=3, duration_ms=2000))
    make_run(fox, flux_run(days_ago=20, duration_ms=500, flux_credits=1))
    portraits = make_workflow(team, owner, name="Portraits")
    make_run(portraits, flux_run(days_ago=1, flux_credits=20))


def expect_cards(page: Page, stats: dict[str, Any]) -> None:
    expect(page.get_by_test_id("card-runs-text")).to_have_text(f"{stats['runs']:,}")
    expect(page.get_by_test_id("card-runs")).to_have_attribute("data-value", str(stats["runs"]))
    expect(page.get_by_test_id("card-credits")).to_have_attribute(
        "data-value", str(stats["creditsUsed"]))
    expect(page.get_by_test_id("card-credits-text")).to_have_text(
        f"{stats['creditsUsed']:g}")
    expect(page.get_by_test_id("card-success-rate")).to_have_attribute(
        "data-value", str(stats["successRate"]))


@pytest.mark.browser
def test_the_dashboard_shows_what_the_stats_api_returns(live_site: str, page: Page, owner: User,
                                                        team: Team,
                                                        api_for: Callable[..., ApiClient]
                                                        ) -> None:
    known_runs(team, owner)
    api = api_for(owner)
    stats = api.get("/stats?days=30").json()
    assert (stats["runs"], stats["creditsUsed"]) == (5, 33.5)

    open_page(page, live_site, owner, "/dashboard/")
    expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()
    expect_cards(page, stats)
    charts = charts_of(page)
    assert set(charts) == {"runsPerDay", "creditsPerDay", "topWorkflows", "topNodeTypes"}
    runs = charts["runsPerDay"]["datasets"]
    assert runs[0] == [day["completed"] for day in stats["byDay"]]
    assert runs[1] == [day["failed"] for day in stats["byDay"]]
    assert sum(runs[0]) + sum(runs[1]) == stats["completed"] + stats["failed"]
    assert charts["creditsPerDay"]["datasets"][0] == [d["creditsUsed"] for d in stats["byDay"]]
    assert charts["topWorkflows"]["labels"] == ["Portraits", "Fox pipeline"]
    assert charts["topWorkflows"]["datasets"][0] == [20, 13.5]
    assert charts["topNodeTypes"]["labels"][0] == "FLUX.2"
    for chart in charts.values():  # drawn on a real, laid-out canvas
        assert chart["attached"] and chart["width"] > 100 and chart["height"] > 100

    page.get_by_test_id("range-7").click()
    page.wait_for_url(f"{live_site}/dashboard/?days=7")
    week = api.get("/stats?days=7").json()
    assert week["runs"] == 4
    expect_cards(page, week)
    assert len(charts_of(page)["runsPerDay"]["labels"]) == 7


@pytest.mark.browser
def test_a_workflows_statistics_from_the_dashboard(live_site: str, page: Page, owner: User,
                                                   team: Team,
                                                   api_for: Callable[..., ApiClient]) -> None:
    known_runs(team, owner)
    open_page(page, live_site, owner, "/dashboard/")
    page.get_by_role("link", name="Fox pipeline").click()
    expect(page.get_by_test_id("workflow-stats-title")).to_have_text("Fox pipeline")
    workflow_id = page.url.split("/workflows/")[1].split("/")[0]
    stats = api_for(owner).get(f"/workflows/{workflow_id}/stats?days=30").json()
    expect_cards(page, stats)
    expect(page.get_by_test_id("workflow-stats-node-row")).to_have_count(len(stats["byNode"]))
    charts = charts_of(page)
    assert charts["topNodes"]["labels"][0] == "FLUX"
    assert charts["topNodes"]["datasets"][0][0] == 13.5


@pytest.mark.browser
def test_an_empty_dashboard_draws_no_chart(live_site: str, page: Page, owner: User) -> None:
    open_page(page, live_site, owner, "/dashboard/")
    expect(page.get_by_test_id("dashboard-empty")).to_be_visible()
    expect(page.get_by_test_id("card-runs-text")).to_have_text("0")
    assert charts_of(page) == {}


@pytest.mark.browser
def test_the_usage_page_charts_the_ledgers_charges(live_site: str, page: Page, owner: User,
                                                   team: Team) -> None:
    run = make_run(make_workflow(team, owner), flux_run())
    CreditEntry.objects.create(team=team, amount=Decimal("-6.5"), kind=CreditKind.CHARGE,
                               execution=run, node_id="flux")
    open_page(page, live_site, owner, "/workflows/")
    page.get_by_test_id("user-menu").click()
    page.get_by_test_id("menu-usage").click()
    page.wait_for_url(f"{live_site}/settings/usage/")
    expect(page.get_by_test_id("ledger-row").first).to_be_visible()
    ledger = charts_of(page)["ledgerPerDay"]
    assert len(ledger["labels"]) == 30
    assert ledger["datasets"][0][-1] == 6.5

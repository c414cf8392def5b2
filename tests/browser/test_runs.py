"""The Runs pages in Chromium, on the real engine (a Celery worker and the fal simulator): open
Runs, filter to failed, open the failed run, Retry from failed — the new run completes live, the
nodes that completed before show as cached and cost 0, only the node that failed is charged."""

from decimal import Decimal

import pytest
from playwright.sync_api import Page, expect

from accounts.models import CreditEntry, User
from executions.models import Execution, ExecutionStatus
from executions.services import ExecuteRequest, execution_start
from tests.harness import wait_until
from workflows.models import Workflow

from .editor_page import graph_edge, graph_node, log_in, open_page

pytestmark = pytest.mark.browser

RUN_TIMEOUT_MS = 60_000


def fails_once(owner: User) -> Workflow:
    """Prompt -> FLUX.2 (3 credits) -> FLUX.2 Edit (4 credits; its first submit is refused with
    a validation error, so the first run fails there) -> Result."""
    n, e = graph_node, graph_edge
    nodes = [n("prompt", "input:text", "Prompt", 0, text="a red fox"),
             n("gen", "generate:flux_2", "Generate", 320, image_size="square"),
             n("edit", "edit:flux_2_edit", "Edit", 640, prompt="make it blue [sim fail=400x1]"),
             n("result", "output:result", "Result", 960)]
    edges = [e("prompt", "text", "gen", "prompt"), e("gen", "image", "edit", "image_urls"),
             e("edit", "image", "result", "value")]
    assert owner.current_team is not None
    return Workflow.objects.create(team=owner.current_team, created_by=owner, name="Blue fox",
                                   nodes=nodes, edges=edges)


def quick(owner: User) -> Workflow:
    n, e = graph_node, graph_edge
    assert owner.current_team is not None
    return Workflow.objects.create(
        team=owner.current_team, created_by=owner, name="Hello",
        nodes=[n("words", "input:text", "Words", 0, text="hello"),
               n("out", "output:result", "Out", 320)],
        edges=[e("words", "text", "out", "value")])


def run_to_the_end(workflow: Workflow, owner: User) -> Execution:
    execution = execution_start(workflow, owner, ExecuteRequest(trigger="editor"))

    def ended() -> Execution | None:
        execution.refresh_from_db()
        return execution if execution.status != ExecutionStatus.RUNNING else None

    return wait_until(ended, RUN_TIMEOUT_MS / 1000, f"{execution.pk} still running")


def test_retry_from_failed_reuses_the_completed_nodes_uncharged(engine: str, page: Page,
                                                                owner: User) -> None:
    failed = run_to_the_end(fails_once(owner), owner)
    assert failed.status == ExecutionStatus.FAILED, failed.error
    completed = run_to_the_end(quick(owner), owner)
    assert completed.status == ExecutionStatus.COMPLETED

    open_page(page, engine, owner, "/runs/")
    rows = page.get_by_test_id("run-row")
    expect(rows).to_have_count(2)
    page.locator("select[name=status]").select_option("FAILED")
    page.get_by_test_id("apply-filters").click()
    expect(rows).to_have_count(1)
    expect(rows.first).to_have_attribute("data-execution-id", str(failed.pk))
    expect(rows.first.get_by_test_id("run-status")).to_have_text("Failed")
    rows.first.get_by_test_id("open-run").click()

    page.wait_for_url(f"{engine}/runs/{failed.pk}/")
    expect(page.get_by_test_id("run-status")).to_have_text("FAILED")
    expect(page.get_by_test_id("node-edit")).to_have_attribute("data-status", "failed")
    expect(page.get_by_test_id("node-gen")).to_have_attribute("data-status", "completed")
    expect(page.get_by_test_id("run-node-edit").get_by_test_id("node-error")).to_contain_text(
        "Simulated validation error")
    expect(page.get_by_test_id("timeline-gen")).to_be_visible()

    page.get_by_test_id("retry-from-failed").click()
    page.wait_for_url(lambda url: "/runs/" in url and str(failed.pk) not in url)
    retried = Execution.objects.get(rerun_of=failed)
    assert page.url == f"{engine}/runs/{retried.pk}/"
    expect(page.get_by_test_id("run-status")).to_have_text("COMPLETED", timeout=RUN_TIMEOUT_MS)
    for node_id in ("prompt", "gen", "edit", "result"):
        expect(page.get_by_test_id(f"node-{node_id}")).to_have_attribute("data-status",
                                                                          "completed")
    gen = page.get_by_test_id("run-node-gen")
    expect(gen).to_have_attribute("data-cached", "true")
    expect(gen.get_by_test_id("cached-badge")).to_be_visible()
    expect(gen.get_by_test_id("node-credits")).to_have_text("0 credits")
    edit = page.get_by_test_id("run-node-edit")
    expect(edit).to_have_attribute("data-cached", "false")
    expect(edit.get_by_test_id("node-credits")).to_have_text("4 credits")
    expect(page.get_by_test_id("run-credits")).to_have_text("4 credits")
    expect(page.get_by_test_id("rerun-of")).to_have_attribute("href", f"/runs/{failed.pk}/")
    # On the canvas too: the reused nodes say Cached, the one that ran again says Done.
    expect(page.get_by_test_id("node-gen").get_by_test_id("node-status-chip")).to_have_text(
        "Cached")
    expect(page.get_by_test_id("node-edit").get_by_test_id("node-status-chip")).to_contain_text(
        "Done")

    charged = CreditEntry.objects.filter(execution_id=retried.pk, kind="charge")
    assert [(entry.node_id, entry.amount) for entry in charged] == [("edit", Decimal(-4))]


def test_a_viewer_sees_a_run_without_its_buttons(engine: str, page: Page, owner: User,
                                                 viewer: User) -> None:
    failed = run_to_the_end(fails_once(owner), owner)
    open_page(page, engine, viewer, f"/runs/{failed.pk}/")
    expect(page.get_by_test_id("run-status")).to_have_text("FAILED")
    expect(page.get_by_test_id("node-edit")).to_have_attribute("data-status", "failed")
    expect(page.get_by_test_id("view-only")).to_be_visible()
    for button in ("retry-from-failed", "rerun", "cancel-run"):
        expect(page.get_by_test_id(button)).to_have_count(0)


def test_a_running_run_can_be_cancelled_from_its_page_then_retried(engine: str, page: Page,
                                                                   owner: User) -> None:
    n, e = graph_node, graph_edge
    assert owner.current_team is not None
    workflow = Workflow.objects.create(
        team=owner.current_team, created_by=owner, name="Slow",
        nodes=[n("prompt", "input:text", "Prompt", 0, text="a red fox [sim hang]"),
               n("gen", "generate:flux_2", "Generate", 320)],
        edges=[e("prompt", "text", "gen", "prompt")])
    execution = execution_start(workflow, owner, ExecuteRequest(trigger="editor"))
    open_page(page, engine, owner, f"/runs/{execution.pk}/")
    expect(page.get_by_test_id("node-gen")).to_have_attribute("data-status", "running",
                                                              timeout=RUN_TIMEOUT_MS)
    expect(page.get_by_test_id("retry-from-failed")).to_have_count(0)
    page.get_by_test_id("cancel-run").click()
    expect(page.get_by_test_id("run-status")).to_have_text("CANCELLED", timeout=RUN_TIMEOUT_MS)
    expect(page.get_by_test_id("node-gen")).to_have_attribute("data-status", "cancelled")
    expect(page.get_by_test_id("cancel-run")).to_have_count(0)
    expect(page.get_by_test_id("run-node-prompt")).to_have_attribute("data-status", "COMPLETED")
    expect(page.get_by_test_id("retry-from-failed")).to_be_visible()


def test_the_editors_run_panel_links_to_the_runs_page(engine: str, page: Page, owner: User) -> None:
    workflow = quick(owner)
    log_in(page, engine, owner, next_path=f"/workflows/{workflow.pk}/edit")
    page.get_by_test_id("run-button").click()
    page.get_by_test_id("run-dialog-submit").click()
    expect(page.get_by_test_id("run-status")).to_have_text("COMPLETED", timeout=RUN_TIMEOUT_MS)
    execution = Execution.objects.get(workflow=workflow)
    expect(page.get_by_test_id("run-page-link")).to_have_attribute("href",
                                                                   f"/runs/{execution.pk}/")

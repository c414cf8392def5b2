"""Running from the editor in Chromium: live node status over the WebSocket, the upscaled image
preview, "Run to here" reusing cached results, and Cancel. The engine runs for real: a Celery
worker (tests/harness.py) on the test database, with the fal simulator as provider."""

import re

import pytest
from playwright.sync_api import Page, expect

from accounts.models import User
from executions.models import Execution
from workflows.models import Workflow

from ..harness import wait_until
from .editor_page import graph_edge, graph_node, log_in, node, select_node

pytestmark = pytest.mark.browser

RUN_TIMEOUT_MS = 45_000


def pipeline(owner: User, prompt: str) -> Workflow:
    n, e = graph_node, graph_edge
    nodes = [n("prompt", "input:text", "Prompt", 0, text=prompt),
             n("flux", "generate:flux_2", "Flux", 320, image_size="square"),
             n("up", "upscale:crystal_upscaler", "Upscale", 640)]
    edges = [e("prompt", "text", "flux", "prompt"), e("flux", "image", "up", "image_url")]
    assert owner.current_team is not None
    return Workflow.objects.create(team=owner.current_team, created_by=owner, name="Run me",
                                   nodes=nodes, edges=edges)


def open_editor(page: Page, site: str, owner: User, workflow: Workflow) -> None:
    log_in(page, site, owner, next_path=f"/workflows/{workflow.pk}/edit")


def run_from_dialog(page: Page) -> None:
    page.get_by_test_id("run-button").click()
    page.get_by_test_id("run-dialog-submit").click()


def expect_status(page: Page, node_type: str, status: str) -> None:
    expect(node(page, node_type)).to_have_attribute("data-status", status, timeout=RUN_TIMEOUT_MS)


def submissions(model_id: str) -> int:
    from executions.simulators.state import simulator_stats

    return int(simulator_stats()["byModel"].get(model_id, 0))


def test_a_run_turns_every_node_completed_and_shows_the_upscaled_image(engine: str, page: Page,
                                                                       owner: User) -> None:
    workflow = pipeline(owner, "a red fox [sim latency=1s]")
    open_editor(page, engine, owner, workflow)

    run_from_dialog(page)
    expect(page.get_by_test_id("run-panel")).to_be_visible()
    for node_type in ("input:text", "generate:flux_2", "upscale:crystal_upscaler"):
        expect_status(page, node_type, "completed")
    preview = node(page, "upscale:crystal_upscaler").get_by_test_id("node-preview-image")
    expect(preview).to_be_visible()
    assert preview.evaluate("img => img.complete && img.naturalWidth > 0")
    expect(page.get_by_test_id("run-status")).to_have_text("COMPLETED")


def test_the_last_runs_outputs_show_when_the_editor_opens(engine: str, page: Page,
                                                          owner: User) -> None:
    workflow = pipeline(owner, "a blue heron")
    open_editor(page, engine, owner, workflow)
    run_from_dialog(page)
    expect_status(page, "upscale:crystal_upscaler", "completed")

    page.reload()
    expect_status(page, "upscale:crystal_upscaler", "completed")
    preview = node(page, "upscale:crystal_upscaler").get_by_test_id("node-preview-image")
    expect(preview).to_be_visible()


def test_run_to_here_reuses_the_cached_upstream_results(engine: str, page: Page,
                                                        owner: User) -> None:
    workflow = pipeline(owner, "a green owl")
    open_editor(page, engine, owner, workflow)
    run_from_dialog(page)
    expect_status(page, "upscale:crystal_upscaler", "completed")
    assert submissions("fal-ai/flux-2") == 1
    assert submissions("clarityai/crystal-upscaler") == 1

    select_node(page, "upscale:crystal_upscaler")
    page.get_by_test_id("run-to-here").click()
    # The first run's statuses stay on the canvas until the second one has started: wait for
    # the second execution, and for the run panel to follow it, before reading the canvas.
    second = wait_until(lambda: Execution.objects.filter(workflow=workflow)
                        .exclude(target_node_id="").first(), 60, "run to here never started")
    expect(page.get_by_test_id("run-page-link")).to_have_attribute(
        "href", re.compile(re.escape(str(second.pk))))
    expect(page.get_by_test_id("run-status")).to_have_text("COMPLETED", timeout=RUN_TIMEOUT_MS)
    expect_status(page, "upscale:crystal_upscaler", "completed")
    # Flux, upstream of the target, was served from the cache; the target itself ran again.
    assert submissions("fal-ai/flux-2") == 1
    assert submissions("clarityai/crystal-upscaler") == 2
    cached = {run.node_id: run.cached for run in second.node_runs.all()}
    assert (cached["flux"], cached["up"]) == (True, False)


def test_cancel_stops_a_run(engine: str, page: Page, owner: User) -> None:
    workflow = pipeline(owner, "never finishes [sim hang]")
    open_editor(page, engine, owner, workflow)
    run_from_dialog(page)
    expect_status(page, "generate:flux_2", "running")

    page.get_by_test_id("cancel-button").click()
    expect(page.get_by_test_id("run-status")).to_have_text("CANCELLED", timeout=RUN_TIMEOUT_MS)
    expect_status(page, "generate:flux_2", "cancelled")
    expect(node(page, "upscale:crystal_upscaler")).to_have_attribute("data-status", "cancelled")
    expect(page.get_by_test_id("run-button")).to_be_visible()


def test_reopening_the_page_during_a_run_reattaches_to_it(engine: str, page: Page,
                                                          owner: User) -> None:
    # The model never answers, so the run is still going however long the reload takes; it
    # ends by the cancel sent from the reopened page, whose live statuses then show it.
    workflow = pipeline(owner, "a slow snail [sim hang]")
    open_editor(page, engine, owner, workflow)
    run_from_dialog(page)
    expect_status(page, "generate:flux_2", "running")

    page.reload()
    expect_status(page, "generate:flux_2", "running")
    page.get_by_test_id("cancel-button").click()
    expect_status(page, "generate:flux_2", "cancelled")
    expect(node(page, "upscale:crystal_upscaler")).to_have_attribute("data-status", "cancelled")
    expect(page.get_by_test_id("run-button")).to_be_visible()
    assert Execution.objects.get(workflow=workflow).status == "CANCELLED"

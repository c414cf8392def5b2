"""The editor's Batch dialog in Chromium, with the real engine: paste rows, see them previewed
on the input nodes (an unknown column flagged, and refused by the server in the dialog), run,
watch the progress reach N/N with the rows' images, and download results.csv."""

import csv
import io

import pytest
from playwright.sync_api import Page, expect

from accounts.models import User
from executions.models import Batch, BatchRow
from workflows.models import Workflow

from .editor_page import graph_edge, graph_node, log_in

pytestmark = pytest.mark.browser

RUN_TIMEOUT_MS = 90_000


def image_pipeline(owner: User) -> Workflow:
    n, e = graph_node, graph_edge
    nodes = [n("prompt", "input:text", "Prompt", 0, text="a red fox"),
             n("gen", "generate:nano_banana_pro", "Generate", 320),
             n("result", "output:result", "Result", 640)]
    edges = [e("prompt", "text", "gen", "prompt"), e("gen", "image", "result", "value")]
    assert owner.current_team is not None
    return Workflow.objects.create(team=owner.current_team, created_by=owner, name="Batch me",
                                   nodes=nodes, edges=edges)


def test_paste_rows_preview_run_to_the_end_and_download_the_csv(engine: str, page: Page,
                                                                owner: User) -> None:
    workflow = image_pipeline(owner)
    log_in(page, engine, owner, next_path=f"/workflows/{workflow.pk}/edit")
    page.get_by_test_id("workflow-menu").click()  # the workflow's menu in the top bar
    page.get_by_test_id("batch-button").click()
    dialog = page.get_by_test_id("batch-dialog")
    expect(dialog).to_be_visible()
    rows = page.get_by_test_id("batch-rows")
    expect(rows).to_have_value("Prompt\n")

    # A column that names no input is flagged, and the server's refusal shows in the dialog.
    rows.fill("Prompt,Colour\nfox one,red\n")
    expect(page.get_by_test_id("batch-unknown-columns")).to_contain_text("Colour")
    page.get_by_test_id("batch-submit").click()
    expect(page.get_by_test_id("batch-error")).to_contain_text("Row 1: Unknown input: Colour")
    assert not Batch.objects.exists()

    rows.fill("Prompt\nfox one [sim latency=300ms]\nfox two\nfox three\n")
    expect(page.get_by_test_id("batch-error")).to_have_count(0)  # an edit clears the refusal
    preview = page.get_by_test_id("batch-preview")
    expect(preview).to_contain_text("fox two")
    expect(page.get_by_test_id("batch-unknown-columns")).to_have_count(0)
    expect(page.get_by_test_id("batch-estimate")).to_contain_text("3 rows")
    concurrency = page.get_by_test_id("batch-concurrency")
    concurrency.fill("2")
    concurrency.press("Enter")  # Enter submits

    expect(page.get_by_test_id("batch-progress-text")).to_have_text("3 / 3 done",
                                                                   timeout=RUN_TIMEOUT_MS)
    expect(page.get_by_test_id("batch-status")).to_have_text("COMPLETED")
    batch = Batch.objects.get()
    assert batch.concurrency == 2 and batch.total == 3
    for index in (1, 2, 3):
        row = page.get_by_test_id(f"batch-row-{index}")
        expect(row).to_have_attribute("data-status", "COMPLETED")
        image = row.locator("img")
        expect(image).to_be_visible()
        assert image.evaluate("img => img.complete && img.naturalWidth > 0")

    with page.expect_download() as download_info:
        page.get_by_test_id("batch-download-csv").click()
    download = download_info.value
    assert download.suggested_filename == f"batch-{batch.pk}-results.csv"
    lines = list(csv.DictReader(io.StringIO(download.path().read_text(encoding="utf-8"))))
    assert [(line["row"], line["prompt"], line["status"]) for line in lines] == [
        ("1", "fox one [sim latency=300ms]", "COMPLETED"), ("2", "fox two", "COMPLETED"),
        ("3", "fox three", "COMPLETED")]
    executions = {str(r.execution_id) for r in BatchRow.objects.filter(batch=batch)}
    assert {line["executionId"] for line in lines} == executions
    assert all(line["outputUrls"].startswith("http") for line in lines)

    page.keyboard.press("Escape")  # Escape closes
    expect(dialog).to_have_count(0)


def test_the_menu_links_the_schedules_and_the_top_bar_fits_1280_pixels(live_site: str, page: Page,
                                                                       owner: User) -> None:
    workflow = image_pipeline(owner)
    page.set_viewport_size({"width": 1280, "height": 800})
    log_in(page, live_site, owner, next_path=f"/workflows/{workflow.pk}/edit")
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    page.get_by_test_id("workflow-menu").click()
    expect(page.get_by_test_id("schedules-link")).to_have_attribute(
        "href", f"/workflows/{workflow.pk}/schedules/")
    page.keyboard.press("Escape")
    expect(page.get_by_test_id("schedules-link")).to_have_count(0)


def test_a_viewer_has_no_batch_in_the_menu(live_site: str, page: Page, owner: User,
                                           viewer: User) -> None:
    workflow = image_pipeline(owner)
    log_in(page, live_site, viewer, next_path="/workflows/")
    page.goto(f"{live_site}/workflows/{workflow.pk}/edit")
    page.get_by_test_id("workflow-menu").click()
    expect(page.get_by_test_id("schedules-link")).to_be_visible()
    expect(page.get_by_test_id("batch-button")).to_have_count(0)

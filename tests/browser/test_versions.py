"""The Versions panel in Chromium: versions made by saving in the editor, tagged, compared with
the latest on the canvas, restored; then the tagged version run over the API. And what a viewer
may do there: look and compare, nothing else."""

import json
import re
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from accounts.models import User
from executions.models import Execution
from tests.conftest import ApiClient
from tests.harness import wait_until
from workflows.models import Workflow, WorkflowVersion

from .editor_page import (
    canvas_node,
    drag_node,
    edges,
    flow_position,
    graph_edge,
    graph_node,
    log_in,
    nodes_of,
    open_page,
    select_node,
)

pytestmark = pytest.mark.browser

RUN_TIMEOUT_S = 45


def create_fox(api: Any) -> str:
    """Version 1, made over the API: a prompt into FLUX."""
    response = api.post("/workflows", {
        "name": "Fox", "nodes": [graph_node("prompt", "input:text", "Prompt", 0, text="a red fox"),
                                 graph_node("flux", "generate:flux_2", "Flux", 340)],
        "edges": [graph_edge("prompt", "text", "flux", "prompt")]})
    assert response.status_code == 201, response.content
    return str(response.json()["id"])


def save_prompt_over_the_api(api: Any, workflow_id: str, text: str) -> None:
    """The next version, made over the API: the same graph with another prompt."""
    nodes = [graph_node("prompt", "input:text", "Prompt", 0, text=text),
             graph_node("flux", "generate:flux_2", "Flux", 340)]
    response = api.put(f"/workflows/{workflow_id}", {
        "name": "Fox", "nodes": nodes, "edges": [graph_edge("prompt", "text", "flux", "prompt")]})
    assert response.status_code == 200, response.content


def save(page: Page, workflow_id: str, version: int) -> None:
    page.get_by_test_id("save-button").click()
    expect(page.get_by_test_id("save-state")).to_have_text("All changes saved")
    wait_until(lambda: Workflow.objects.get(pk=workflow_id).version == version, 30,
               f"the save did not make version {version}")


def set_prompt(page: Page, text: str) -> None:
    select_node(page, "input:text")
    page.get_by_test_id("param-text").fill(text)


def tag(page: Page, number: int, value: str) -> Any:
    page.get_by_test_id(f"version-tag-button-{number}").click()
    field = page.get_by_test_id(f"version-tag-input-{number}")
    field.fill(value)
    field.press("Enter")
    return field


def test_three_edits_a_tag_a_diff_a_restore_and_a_run_of_the_tagged_version(engine: str, page: Page,
                                                                            owner: User,
                                                                            api: ApiClient) -> None:
    workflow_id = create_fox(api)
    log_in(page, engine, owner, next_path=f"/workflows/{workflow_id}/edit")

    set_prompt(page, "a red fox in the snow")
    save(page, workflow_id, 2)
    set_prompt(page, "a blue heron")
    save(page, workflow_id, 3)
    set_prompt(page, "a green owl")
    canvas_node(page, "flux").locator(".wf-node__head").click()
    page.keyboard.press("Delete")
    page.get_by_test_id("palette-item-input:text").click()
    expect(nodes_of(page, "input:text")).to_have_count(2)
    save(page, workflow_id, 4)

    page.get_by_test_id("versions-button").click()
    panel = page.get_by_test_id("versions-panel")
    for number in (4, 3, 2, 1):
        expect(panel.get_by_test_id(f"version-row-{number}")).to_contain_text(f"v{number}")
    expect(panel.get_by_test_id("version-row-4")).to_contain_text(owner.email)

    # The server's refusals are shown under the field being typed in.
    tag(page, 2, "banana")
    expect(page.get_by_test_id("version-tag-error-2")).to_contain_text("semantic version")
    page.get_by_test_id("version-tag-input-2").fill("1.0.0")
    page.get_by_test_id("version-tag-input-2").press("Enter")
    expect(page.get_by_test_id("version-tag-2")).to_have_text("1.0.0")
    assert WorkflowVersion.objects.get(workflow_id=workflow_id, version=2).tag == "1.0.0"
    tag(page, 3, "v1.0.0")
    expect(page.get_by_test_id("version-tag-error-3")).to_contain_text("already on version 2")
    page.get_by_test_id("version-tag-input-3").press("Escape")
    expect(page.get_by_test_id("version-tag-input-3")).to_have_count(0)

    # Version 2 against the latest: the prompt changed, FLUX was removed, a text input added.
    page.get_by_test_id("version-diff-2").click()
    expect(canvas_node(page, "prompt")).to_have_attribute("data-diff", "changed")
    expect(canvas_node(page, "prompt")).to_have_class(re.compile(r"\bwf-node--diff-changed\b"))
    expect(canvas_node(page, "flux")).to_have_attribute("data-diff", "removed")
    added = page.locator('[data-diff="added"]')
    expect(added).to_have_count(1)
    expect(added).to_have_attribute("data-node-type", "input:text")
    change = page.get_by_test_id("diff-change")
    expect(change).to_have_count(1)
    expect(change).to_contain_text("text")
    expect(change).to_contain_text("a red fox in the snow")
    expect(change).to_contain_text("a green owl")
    page.get_by_test_id("diff-clear").click()
    expect(page.locator("[data-diff]")).to_have_count(0)
    expect(canvas_node(page, "flux")).to_have_count(0)  # the ghost is gone with the comparison

    # Restore version 1: a new version 5 with its graph, shown on the canvas.
    page.get_by_test_id("version-restore-1").click()
    page.get_by_test_id("restore-confirm").click()
    expect(page.get_by_test_id("toast").last).to_have_text("Restored version 1 as version 5")
    expect(panel.get_by_test_id("version-row-5")).to_be_visible()
    expect(canvas_node(page, "flux")).to_be_visible()
    expect(nodes_of(page, "input:text")).to_have_count(1)
    expect(edges(page)).to_have_count(1)
    select_node(page, "input:text")
    expect(page.get_by_test_id("param-text")).to_have_value("a red fox")
    restored = Workflow.objects.get(pk=workflow_id)
    assert restored.version == 5
    assert restored.nodes[0]["data"]["params"]["text"] == "a red fox"
    # The editor took the restored version as its base: the next save is not refused as stale.
    set_prompt(page, "a red fox, restored")
    save(page, workflow_id, 6)
    expect(page.get_by_test_id("conflict-dialog")).to_have_count(0)

    # The tagged version runs over the API, and the run says which version it was.
    response = api.post(f"/workflows/{workflow_id}/execute", {"version": "1.0.0"})
    assert response.status_code == 201, response.content
    execution_id = response.json()["executionId"]
    wait_until(lambda: Execution.objects.get(pk=execution_id).status == "COMPLETED",
               RUN_TIMEOUT_S, "the run of version 1.0.0 did not complete")
    details = api.get(f"/workflows/executions/{execution_id}").json()
    assert (details["version"], details["versionTag"]) == (2, "1.0.0")
    ran = {n["id"]: n for n in details["graph"]["nodes"]}
    assert ran["prompt"]["data"]["params"]["text"] == "a red fox in the snow"


def test_a_viewer_looks_at_versions_and_diffs_but_changes_nothing(live_site: str, page: Page,
                                                                  owner: User, viewer: User,
                                                                  api: ApiClient) -> None:
    workflow_id = create_fox(api)
    save_prompt_over_the_api(api, workflow_id, "a blue heron")

    open_page(page, live_site, viewer, f"/workflows/{workflow_id}/edit")
    expect(page.get_by_test_id("read-only-badge")).to_be_visible()
    expect(canvas_node(page, "flux")).to_be_visible()
    for hidden in ("save-button", "run-button", "publish-button", "palette-search",
                   "delete-workflow", "import-button", "undo-button"):
        expect(page.get_by_test_id(hidden)).to_have_count(0)

    before = flow_position(page, "flux")
    drag_node(page, "flux", 150, 90)
    canvas_node(page, "flux").locator(".wf-node__head").click()
    page.keyboard.press("Delete")
    assert flow_position(page, "flux") == before
    expect(canvas_node(page, "flux")).to_be_visible()
    expect(page.get_by_test_id("param-image_size")).to_be_disabled()  # shown, not editable

    page.get_by_test_id("versions-button").click()
    expect(page.get_by_test_id("version-row-2")).to_be_visible()
    for hidden in ("version-restore-1", "version-tag-button-1", "version-tag-button-2"):
        expect(page.get_by_test_id(hidden)).to_have_count(0)
    page.get_by_test_id("version-diff-1").click()
    expect(canvas_node(page, "prompt")).to_have_attribute("data-diff", "changed")
    expect(page.get_by_test_id("diff-change")).to_contain_text("a blue heron")
    assert Workflow.objects.get(pk=workflow_id).version == 2


def test_an_export_carries_the_version_and_imports_into_another_workflow(live_site: str, page: Page,
                                                                         owner: User,
                                                                         api: ApiClient,
                                                                         tmp_path: Path) -> None:
    workflow_id = create_fox(api)
    save_prompt_over_the_api(api, workflow_id, "a blue heron")
    log_in(page, live_site, owner, next_path=f"/workflows/{workflow_id}/edit")
    with page.expect_download() as download:
        page.get_by_test_id("export-button").click()
    assert download.value.suggested_filename == "Fox-v2.json"
    exported = tmp_path / "fox.json"
    download.value.save_as(exported)
    content = json.loads(exported.read_text())
    assert (content["name"], content["version"]) == ("Fox", 2)
    assert [n["id"] for n in content["nodes"]] == ["prompt", "flux"]

    response = api.post("/workflows", {"name": "Other", "nodes": [
        graph_node("lonely", "input:text", "Lonely", 0, text="x")], "edges": []})
    other_id = response.json()["id"]
    page.goto(f"{live_site}/workflows/{other_id}/edit")
    expect(canvas_node(page, "lonely")).to_be_visible()
    page.get_by_test_id("import-file").set_input_files(str(exported))
    expect(page.get_by_test_id("toast").last).to_have_text(
        "Imported 2 nodes (exported at version 2)")
    expect(canvas_node(page, "flux")).to_be_visible()
    expect(canvas_node(page, "lonely")).to_have_count(0)
    save(page, other_id, 2)
    imported = Workflow.objects.get(pk=other_id)
    assert [n["id"] for n in imported.nodes] == ["prompt", "flux"]
    assert imported.nodes[0]["data"]["params"]["text"] == "a blue heron"

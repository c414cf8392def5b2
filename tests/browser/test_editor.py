"""The canvas editor in Chromium: build a graph by hand, save it, reload it, undo and redo."""

import re
from datetime import timedelta

import pytest
from playwright.sync_api import Page, expect

from accounts.models import User
from workflows.models import Workflow

from .editor_page import (
    drag_from_palette,
    edges,
    handle,
    log_in,
    node,
    nodes_of,
    select_node,
    wire,
)

pytestmark = pytest.mark.browser

EDIT_URL = re.compile(r"/workflows/([0-9a-f-]{36})/edit$")


def build_prompt_to_upscale(page: Page) -> None:
    drag_from_palette(page, "input:text", 160, 160)
    drag_from_palette(page, "generate:flux_2", 460, 160)
    drag_from_palette(page, "upscale:crystal_upscaler", 760, 160)
    wire(page, handle(page, "input:text", "out-text"), handle(page, "generate:flux_2", "in-prompt"))
    expect(edges(page)).to_have_count(1)
    wire(page, handle(page, "generate:flux_2", "out-image"),
         handle(page, "upscale:crystal_upscaler", "in-image_url"))
    expect(edges(page)).to_have_count(2)


def test_a_graph_built_by_hand_is_saved_and_comes_back_after_a_reload(live_site: str, page: Page,
                                                                      owner: User) -> None:
    log_in(page, live_site, owner)
    build_prompt_to_upscale(page)

    select_node(page, "input:text")
    page.get_by_test_id("param-text").fill("a red fox in the snow")
    select_node(page, "generate:flux_2")
    prompt = page.get_by_test_id("param-prompt")
    expect(prompt).to_be_disabled()  # the connected text input overrides it
    expect(page.get_by_test_id("override-prompt")).to_have_text("from Text input")

    expect(page.get_by_test_id("save-state")).to_have_text("Unsaved changes")
    page.get_by_test_id("save-button").click()
    page.wait_for_url(EDIT_URL)
    expect(page.get_by_test_id("save-state")).to_have_text("All changes saved")

    match = EDIT_URL.search(page.url)
    assert match is not None
    workflow_id = match.group(1)
    saved = Workflow.objects.get(pk=workflow_id)
    assert saved.team == owner.current_team
    by_type = {n["data"]["nodeType"]: n for n in saved.nodes}
    assert by_type["input:text"]["data"]["params"]["text"] == "a red fox in the snow"
    assert sorted((e["sourceHandle"], e["targetHandle"]) for e in saved.edges) == [
        ("out-image", "in-image_url"), ("out-text", "in-prompt")]

    page.reload()
    expect(node(page, "input:text")).to_be_visible()
    expect(node(page, "generate:flux_2")).to_be_visible()
    expect(node(page, "upscale:crystal_upscaler")).to_be_visible()
    expect(edges(page)).to_have_count(2)
    select_node(page, "input:text")
    expect(page.get_by_test_id("param-text")).to_have_value("a red fox in the snow")


def test_an_image_output_into_a_text_input_is_refused_with_the_reason(live_site: str, page: Page,
                                                                      owner: User) -> None:
    log_in(page, live_site, owner)
    drag_from_palette(page, "generate:flux_2", 200, 200)
    drag_from_palette(page, "generate:flux_2", 560, 200)

    wire(page, handle(page, "generate:flux_2", "out-image", 0),
         handle(page, "generate:flux_2", "in-prompt", 1))

    expect(page.get_by_test_id("toast")).to_contain_text(
        "IMAGE output “Image” cannot feed TEXT input “Prompt”")
    expect(edges(page)).to_have_count(0)


def test_undo_and_redo_restore_the_graph(live_site: str, page: Page, owner: User) -> None:
    log_in(page, live_site, owner)
    build_prompt_to_upscale(page)

    page.get_by_test_id("undo-button").click()
    expect(edges(page)).to_have_count(1)
    page.get_by_test_id("undo-button").click()
    expect(edges(page)).to_have_count(0)
    page.get_by_test_id("redo-button").click()
    page.get_by_test_id("redo-button").click()
    expect(edges(page)).to_have_count(2)

    node(page, "upscale:crystal_upscaler").locator(".wf-node__head").click()
    page.keyboard.press("Delete")
    expect(nodes_of(page, "upscale:crystal_upscaler")).to_have_count(0)
    expect(edges(page)).to_have_count(1)
    page.keyboard.press("Control+z")
    expect(node(page, "upscale:crystal_upscaler")).to_be_visible()
    expect(edges(page)).to_have_count(2)
    page.keyboard.press("Control+Shift+z")
    expect(nodes_of(page, "upscale:crystal_upscaler")).to_have_count(0)


def test_search_click_to_add_and_duplicate(live_site: str, page: Page, owner: User) -> None:
    log_in(page, live_site, owner)
    page.get_by_test_id("palette-search").fill("upscal")
    expect(page.get_by_test_id("palette-item-upscale:crystal_upscaler")).to_be_visible()
    expect(page.get_by_test_id("palette-item-input:text")).to_have_count(0)
    page.get_by_test_id("palette-item-upscale:crystal_upscaler").click()
    expect(nodes_of(page, "upscale:crystal_upscaler")).to_have_count(1)

    node(page, "upscale:crystal_upscaler").locator(".wf-node__head").click()
    page.keyboard.press("Control+d")
    expect(nodes_of(page, "upscale:crystal_upscaler")).to_have_count(2)
    expect(node(page, "upscale:crystal_upscaler", 1)).to_contain_text("Crystal upscaler 2")


def test_the_help_dialog_lists_the_shortcuts(live_site: str, page: Page, owner: User) -> None:
    log_in(page, live_site, owner)
    page.locator(".react-flow__pane").click()
    page.keyboard.press("?")
    dialog = page.get_by_test_id("help-dialog")
    expect(dialog).to_contain_text("Undo")
    expect(dialog).to_contain_text("Duplicate selection")
    page.keyboard.press("Escape")
    expect(dialog).to_have_count(0)


def test_a_stranger_cannot_open_another_teams_workflow(live_site: str, page: Page, owner: User,
                                                       stranger: User) -> None:
    assert owner.current_team is not None
    workflow = Workflow.objects.create(team=owner.current_team, name="Private", nodes=[], edges=[])
    log_in(page, live_site, stranger, next_path="/workflows/")
    response = page.goto(f"{live_site}/workflows/{workflow.pk}/edit")
    assert response is not None and response.status == 404


def test_copy_and_paste_adds_a_copy_with_fresh_ids(live_site: str, page: Page, owner: User) -> None:
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_site)
    log_in(page, live_site, owner)
    build_prompt_to_upscale(page)
    page.locator(".react-flow__pane").click(position={"x": 20, "y": 20})
    page.keyboard.press("Control+a")
    page.keyboard.press("Control+c")
    page.keyboard.press("Control+v")

    expect(page.locator("[data-node-type]")).to_have_count(6)
    expect(edges(page)).to_have_count(4)
    ids = page.locator(".react-flow__node").evaluate_all("els => els.map(e => e.dataset.id)")
    assert len(set(ids)) == 6


def test_a_stale_save_offers_to_overwrite(live_site: str, page: Page, owner: User) -> None:
    assert owner.current_team is not None
    workflow = Workflow.objects.create(team=owner.current_team, created_by=owner, name="Shared",
                                       nodes=[], edges=[])
    log_in(page, live_site, owner, next_path=f"/workflows/{workflow.pk}/edit")
    drag_from_palette(page, "input:text", 200, 200)
    Workflow.objects.filter(pk=workflow.pk).update(
        name="Changed elsewhere", updated_at=workflow.updated_at + timedelta(seconds=5))

    page.get_by_test_id("save-button").click()
    expect(page.get_by_test_id("conflict-dialog")).to_be_visible()
    page.get_by_test_id("conflict-overwrite").click()
    expect(page.get_by_test_id("save-state")).to_have_text("All changes saved")
    workflow.refresh_from_db()
    assert [n["data"]["nodeType"] for n in workflow.nodes] == ["input:text"]
    assert workflow.name == "Shared"


def test_a_sticky_note_is_saved_with_the_graph(live_site: str, page: Page, owner: User) -> None:
    log_in(page, live_site, owner)
    drag_from_palette(page, "input:text", 200, 200)
    drag_from_palette(page, "note:sticky", 500, 200)
    page.get_by_label("Note text").fill("Remember to pick a style")
    page.keyboard.press("Control+s")
    page.wait_for_url(EDIT_URL)
    match = EDIT_URL.search(page.url)
    assert match is not None
    saved = Workflow.objects.get(pk=match.group(1))
    notes = [n for n in saved.nodes if n["type"] == "stickyNote"]
    assert notes[0]["data"]["text"] == "Remember to pick a style"


def test_a_100_node_500_edge_workflow_opens_with_every_edge_and_a_node_can_be_selected(
        live_site: str, page: Page, owner: User) -> None:
    # How fast it opens is a benchmark's question (bench/b8_editor.py), not a test's.
    nodes = [{"id": f"n{i}", "type": "basedNode",
              "position": {"x": (i % 10) * 320, "y": (i // 10) * 200},
              "data": {"label": f"Concat {i}", "nodeType": "utility:prompt_concat",
                       "params": {}}} for i in range(100)]
    pairs = [(a, b) for a in range(100) for b in range(a + 1, 100)][::9][:500]
    edges_ = [{"id": f"e{a}-{b}", "source": f"n{a}", "target": f"n{b}",
               "sourceHandle": "out-text", "targetHandle": "in-texts"} for a, b in pairs]
    assert len(edges_) == 500
    assert owner.current_team is not None
    workflow = Workflow.objects.create(team=owner.current_team, name="Big", nodes=nodes,
                                       edges=edges_)
    log_in(page, live_site, owner, next_path="/workflows/")

    page.goto(f"{live_site}/workflows/{workflow.pk}/edit")
    expect(nodes_of(page, "utility:prompt_concat")).to_have_count(100)
    expect(edges(page)).to_have_count(500)
    toolbars = page.locator(".wf-node-toolbar")
    expect(toolbars).to_have_count(0)
    select_node(page, "utility:prompt_concat", 55)
    expect(page.get_by_test_id("inspector-label")).to_have_value("Concat 55")
    # Only the selected node has its toolbar (the others' are not even mounted: bench B8).
    expect(toolbars).to_have_count(1)
    expect(toolbars.get_by_test_id("run-to-here")).to_be_visible()
    select_node(page, "utility:prompt_concat", 7)
    expect(toolbars).to_have_count(1)
    toolbars.get_by_role("button", name="Duplicate").click()
    expect(nodes_of(page, "utility:prompt_concat")).to_have_count(101)


def test_deleting_the_workflow_returns_to_the_list(live_site: str, page: Page, owner: User) -> None:
    assert owner.current_team is not None
    workflow = Workflow.objects.create(team=owner.current_team, created_by=owner, name="Doomed",
                                       nodes=[], edges=[])
    log_in(page, live_site, owner, next_path=f"/workflows/{workflow.pk}/edit")
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_test_id("delete-workflow").click()
    page.wait_for_url(f"{live_site}/workflows/")
    assert not Workflow.objects.filter(pk=workflow.pk).exists()

""""Describe it" in Chromium: on an empty canvas, a sentence becomes a workflow (the team's LLM,
here the simulator) that lands as unsaved changes and saves like one built by hand."""

import re

import pytest
from playwright.sync_api import Page, expect

from accounts.models import User
from workflows.models import Workflow

from .editor_page import drag_from_palette, edges, log_in, nodes_of

pytestmark = pytest.mark.browser

EDIT_URL = re.compile(r"/workflows/([0-9a-f-]{36})/edit$")
FOX = "an image of a fox, upscaled, then a video"


def test_a_described_workflow_lands_on_the_canvas_and_saves(sim_site: str, page: Page,
                                                            owner: User) -> None:
    log_in(page, sim_site, owner)
    box = page.get_by_test_id("describe-box")
    expect(box).to_be_visible()
    expect(page.get_by_test_id("describe-submit")).to_be_disabled()

    page.get_by_test_id("describe-input").fill(FOX)
    page.get_by_test_id("describe-submit").click()

    for node_type in ("input:text", "generate:flux_2", "upscale:crystal_upscaler",
                      "video:kling_video_2_5_i2v", "output:result"):
        expect(nodes_of(page, node_type)).to_have_count(1)
    expect(edges(page)).to_have_count(5)
    expect(box).to_have_count(0)
    expect(page.get_by_test_id("save-state")).to_have_text("Unsaved changes")
    assert Workflow.objects.count() == 0  # generating saved nothing

    page.get_by_test_id("save-button").click()
    page.wait_for_url(EDIT_URL)
    expect(page.get_by_test_id("save-state")).to_have_text("All changes saved")
    match = EDIT_URL.search(page.url)
    assert match is not None
    saved = Workflow.objects.get(pk=match.group(1))
    assert saved.team == owner.current_team
    assert sorted(n["data"]["nodeType"] for n in saved.nodes) == sorted([
        "input:text", "generate:flux_2", "upscale:crystal_upscaler",
        "video:kling_video_2_5_i2v", "output:result"])
    by_type = {n["data"]["nodeType"]: n for n in saved.nodes}
    assert by_type["input:text"]["data"]["params"]["text"] == FOX
    assert len(saved.edges) == 5

    page.get_by_test_id("undo-button").click()  # one undo step takes the whole graph away
    expect(nodes_of(page, "generate:flux_2")).to_have_count(0)
    expect(box).to_be_visible()


def test_a_generation_that_fails_says_why_and_leaves_the_canvas_empty(sim_site: str, page: Page,
                                                                      owner: User) -> None:
    log_in(page, sim_site, owner)
    page.get_by_test_id("describe-input").fill(f"{FOX} [sim invalid]")
    page.get_by_test_id("describe-submit").click()

    expect(page.get_by_test_id("describe-error")).to_contain_text(
        "No valid workflow came out after 2 repairs")
    expect(page.locator(".react-flow__node")).to_have_count(0)
    expect(page.get_by_test_id("describe-submit")).to_be_enabled()


def test_the_box_leaves_once_the_canvas_has_a_node(sim_site: str, page: Page, owner: User) -> None:
    log_in(page, sim_site, owner)
    expect(page.get_by_test_id("describe-box")).to_be_visible()
    drag_from_palette(page, "input:text", 200, 150)
    expect(page.get_by_test_id("describe-box")).to_have_count(0)

"""A newcomer's first two minutes, in Chromium, through the real engine: sign up, see the
starter templates, build a pipeline from the palette, run it from the Run dialog."""

import re
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from accounts.models import User
from workflows.models import Workflow
from workflows.services import starter_templates

from .editor_page import (
    PASSWORD,
    graph_node,
    handle,
    log_in,
    node,
    nodes_of,
    wait_for_editor,
    wire,
)

pytestmark = pytest.mark.browser

RUN_TIMEOUT_MS = 60_000
PIPELINE = ["input:text", "generate:flux_2", "upscale:crystal_upscaler"]


def sign_up(page: Page, site: str, email: str) -> None:
    page.goto(f"{site}/accounts/signup/")
    page.fill("input[name=email]", email)
    page.fill("input[name=password1]", PASSWORD)
    page.fill("input[name=password2]", PASSWORD)
    page.locator("form button[type=submit]").last.click()
    page.wait_for_url(f"{site}/workflows/")


def node_boxes(page: Page) -> list[dict[str, float]]:
    """Every node's box on screen, read at one instant (the view may be animating)."""
    return list(page.evaluate("""() => [...document.querySelectorAll('.react-flow__node')]
        .map(n => { const r = n.getBoundingClientRect();
                    return {x: r.x, y: r.y, width: r.width, height: r.height}; })"""))


def overlapping(boxes: list[dict[str, float]]) -> list[tuple[int, int]]:
    def apart(a: dict[str, float], b: dict[str, float]) -> bool:
        return (a["x"] + a["width"] <= b["x"] or b["x"] + b["width"] <= a["x"]
                or a["y"] + a["height"] <= b["y"] or b["y"] + b["height"] <= a["y"])

    return [(i, j) for i, a in enumerate(boxes) for j, b in enumerate(boxes)
            if i < j and not apart(a, b)]


def test_a_newcomer_builds_a_pipeline_from_the_palette_and_runs_it(engine: str, page: Page
                                                                  ) -> None:
    sign_up(page, engine, "newcomer@example.com")
    # An empty list offers the starter templates.
    for template in starter_templates().values():
        expect(page.get_by_text(template["name"])).to_be_visible()

    page.get_by_text("start from an empty canvas").click()
    wait_for_editor(page)
    for node_type in PIPELINE:
        page.get_by_test_id(f"palette-item-{node_type}").click()
    expect(nodes_of(page, "upscale:crystal_upscaler")).to_have_count(1)
    assert overlapping(node_boxes(page)) == []  # click-to-add finds free spots

    wire(page, handle(page, "input:text", "out-text"), handle(page, "generate:flux_2", "in-prompt"))
    wire(page, handle(page, "generate:flux_2", "out-image"),
         handle(page, "upscale:crystal_upscaler", "in-image_url"))
    expect(page.locator(".react-flow__edge")).to_have_count(2)
    node(page, "input:text").locator(".wf-node__head").click()
    page.get_by_test_id("param-text").fill("a red fox in the snow")
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.get_by_test_id("save-state")).to_have_text("All changes saved")

    page.get_by_test_id("run-button").click()
    dialog = page.get_by_test_id("run-dialog")
    prompt = dialog.get_by_role("textbox")
    expect(prompt).to_have_value("a red fox in the snow")  # the text, as a text field
    expect(dialog.get_by_role("checkbox")).to_have_count(0)
    expect(dialog.get_by_role("switch")).to_have_count(0)
    prompt.fill("a red fox in the snow [sim latency=1s]")
    page.get_by_test_id("run-dialog-submit").click()
    expect(dialog).to_be_hidden()

    for node_type in PIPELINE:
        expect(node(page, node_type)).to_have_attribute("data-status", "completed",
                                                        timeout=RUN_TIMEOUT_MS)
    preview = node(page, "upscale:crystal_upscaler").locator("img")
    expect(preview).to_be_visible()
    expect(preview).to_have_attribute("src", re.compile(r"/media/"))
    assert preview.evaluate("img => img.complete && img.naturalWidth > 0")
    expect(page.get_by_test_id("toast").filter(has_text="Cannot")).to_have_count(0)


NO_OVERLAP = """() => {
    const boxes = [...document.querySelectorAll('.react-flow__node')]
      .map(n => n.getBoundingClientRect());
    return boxes.length > 0 && boxes.every((a, i) => boxes.every((b, j) => i >= j ||
      a.right <= b.left || b.right <= a.left || a.bottom <= b.top || b.bottom <= a.top));
}"""


def test_auto_layout_spreads_a_pile_of_unconnected_nodes_into_a_grid(live_site: str, page: Page,
                                                                     owner: User) -> None:
    # A saved workflow is valid (saves are validated), so nothing grows when the linter runs.
    params: dict[str, dict[str, Any]] = {
        "input:text": {"text": "hi"}, "input:number": {"value": 2}, "input:image": {},
        "input:boolean": {}, "generate:flux_2": {"prompt": "a fox"},
        "generate:imagen4": {"prompt": "a fox"}, "generate:nano_banana_pro": {"prompt": "a"},
        "upscale:crystal_upscaler": {"image_url": "https://example.com/fox.png"}}
    types = list(params)
    pile = [graph_node(f"n{i}", node_type, f"Node {i}", **params[node_type])
            for i, node_type in enumerate(types)]
    assert owner.current_team is not None
    workflow = Workflow.objects.create(team=owner.current_team, created_by=owner, name="Pile",
                                       nodes=pile, edges=[])
    log_in(page, live_site, owner, next_path=f"/workflows/{workflow.pk}/edit")
    expect(page.locator(".react-flow__node")).to_have_count(len(types))
    assert overlapping(node_boxes(page))  # all on one spot

    page.get_by_test_id("layout-button").click()
    page.wait_for_function(NO_OVERLAP)
    boxes = node_boxes(page)
    assert overlapping(boxes) == []
    assert len({round(b["x"]) for b in boxes}) > 1 and len({round(b["y"]) for b in boxes}) > 1

"""Driving the canvas editor in Chromium: log in, drag from the palette, wire handles."""

from typing import Any

from playwright.sync_api import Page, expect

from accounts.models import User
from tests import builders

# The browser tests' names for the shared builders (`node` here is a node on the canvas).
graph_edge = builders.edge
graph_node = builders.node

PASSWORD = "correct-horse-battery"


def log_in(page: Page, site: str, user: User, next_path: str = "/workflows/new") -> None:
    page.goto(f"{site}/accounts/login/?next={next_path}")
    page.fill("input[name=login]", user.email)
    page.fill("input[name=password]", PASSWORD)
    page.locator("form button[type=submit]").last.click()
    page.wait_for_url(f"{site}{next_path}")
    if next_path.endswith(("/new", "/edit")):
        wait_for_editor(page)


def wait_for_editor(page: Page) -> None:
    expect(page.get_by_test_id("palette-search")).to_be_visible()


def nodes_of(page: Page, node_type: str) -> Any:
    return page.locator(f'[data-node-type="{node_type}"]')


def node(page: Page, node_type: str, index: int = 0) -> Any:
    return nodes_of(page, node_type).nth(index)


def drag_from_palette(page: Page, node_type: str, x: int, y: int) -> None:
    """Drop a palette item at (x, y) inside the canvas pane."""
    before = nodes_of(page, node_type).count()
    page.get_by_test_id(f"palette-item-{node_type}").drag_to(
        page.locator(".react-flow__pane"), target_position={"x": x, "y": y})
    expect(nodes_of(page, node_type)).to_have_count(before + 1)


def handle(page: Page, node_type: str, handle_id: str, index: int = 0) -> Any:
    return node(page, node_type, index).locator(f'.react-flow__handle[data-handleid="{handle_id}"]')


def wire(page: Page, source: Any, target: Any) -> None:
    """Press on one handle, move to the other in steps (as a hand would), release."""
    start, end = source.bounding_box(), target.bounding_box()
    assert start and end, "both handles must be on screen"
    page.mouse.move(start["x"] + start["width"] / 2, start["y"] + start["height"] / 2)
    page.mouse.down()
    page.mouse.move(end["x"] + end["width"] / 2, end["y"] + end["height"] / 2, steps=12)
    page.mouse.up()


def edges(page: Page) -> Any:
    return page.locator(".react-flow__edge")


def select_node(page: Page, node_type: str, index: int = 0) -> None:
    node(page, node_type, index).locator(".wf-node__head").click()
    expect(page.get_by_test_id("inspector-label")).to_be_visible()


def open_page(page: Page, site: str, user: User, path: str) -> None:
    """Log in, then open `path` (a read-only editor, a template page: no palette to wait for)."""
    log_in(page, site, user, next_path="/workflows/")
    page.goto(f"{site}{path}")


def canvas_node(page: Page, node_id: str) -> Any:
    """The canvas node with that id (its test id is the same in edit and view mode)."""
    return page.get_by_test_id(f"node-{node_id}")


def flow_position(page: Page, node_id: str) -> str:
    """Where the node sits on the canvas (not on screen: panning does not change it)."""
    return str(page.locator(f'.react-flow__node[data-id="{node_id}"]')
               .evaluate("el => el.style.transform"))


def drag_node(page: Page, node_id: str, dx: int, dy: int) -> None:
    """Press on the node's header and move it by (dx, dy) in steps, as a hand would."""
    box = canvas_node(page, node_id).locator(".wf-node__head").bounding_box()
    assert box, "the node must be on screen"
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(x + dx, y + dy, steps=10)
    page.mouse.up()

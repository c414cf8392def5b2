"""Uploads in the canvas editor (Chromium): the upload button of a media input node sets its URL
and the node shows the picture; the server's refusal is shown; a PNG dropped on the canvas makes
an image input node there, and one dropped on an image input node becomes its URL."""

import base64
import io
import re
from collections.abc import Iterator
from typing import Any

import pytest
from PIL import Image
from playwright.sync_api import FilePayload, Page, expect

from executions.models import Upload

from .editor_page import drag_from_palette, log_in, node, nodes_of, select_node

pytestmark = pytest.mark.browser



def uploaded(name: str) -> re.Pattern[str]:
    """The URL of an upload of ours named `name`: on the live site, in an unguessable folder."""
    return re.compile(rf"^http://127\.0\.0\.1:\d+/media/uploads/[A-Za-z0-9_-]{{40,}}/{re.escape(name)}$")


@pytest.fixture(autouse=True)
def _remove_stored_files(live_site: str, settings: Any) -> Iterator[None]:
    # Upload URLs name the site the browser talks to.
    settings.SITE_URL = live_site
    yield
    for upload in Upload.objects.all():
        upload.file.delete(save=False)


def png(colour: str = "red", size: tuple[int, int] = (48, 32)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, colour).save(out, format="PNG")
    return out.getvalue()


DROP_SCRIPT = """([data, name, type, x, y, selector]) => {
  const bytes = Uint8Array.from(atob(data), (c) => c.charCodeAt(0));
  const transfer = new DataTransfer();
  transfer.items.add(new File([bytes], name, { type }));
  const target = selector ? document.querySelector(selector) : document.elementFromPoint(x, y);
  for (const kind of ["dragenter", "dragover", "drop"]) {
    target.dispatchEvent(new DragEvent(kind, { bubbles: true, cancelable: true,
                                               dataTransfer: transfer, clientX: x, clientY: y }));
  }
}"""


def drop_file(page: Page, content: bytes, name: str, mime: str, x: float, y: float,
              selector: str | None = None) -> None:
    """What the browser does when a file from the desktop is dropped at (x, y) on the page."""
    page.evaluate(DROP_SCRIPT, [base64.b64encode(content).decode(), name, mime, x, y, selector])


def test_the_upload_button_sets_the_image_inputs_url_and_the_node_shows_it(
        live_site: str, page: Page, owner: Any) -> None:
    log_in(page, live_site, owner)
    drag_from_palette(page, "input:image", 300, 200)
    select_node(page, "input:image")
    expect(page.get_by_test_id("upload-button")).to_have_text("Upload image")
    page.get_by_test_id("upload-input").set_input_files(
        files=[FilePayload(name="photo.png", mimeType="image/png", buffer=png())])

    expect(page.get_by_test_id("param-url")).to_have_value(
        uploaded("photo.png"))
    preview = node(page, "input:image").get_by_test_id("input-preview").locator("img")
    expect(preview).to_be_visible()
    page.wait_for_function("img => img.complete && img.naturalWidth === 48",
                           arg=preview.element_handle())
    upload = Upload.objects.get()
    assert upload.team == owner.current_team and (upload.width, upload.height) == (48, 32)
    expect(page.get_by_test_id("upload-progress")).to_have_count(0)


def test_the_servers_refusal_is_shown_under_the_field(live_site: str, page: Page,
                                                      owner: Any) -> None:
    log_in(page, live_site, owner)
    drag_from_palette(page, "input:image", 300, 200)
    select_node(page, "input:image")
    page.get_by_test_id("upload-input").set_input_files(
        files=[FilePayload(name="notes.png", mimeType="image/png", buffer=b"not a picture\n")])
    expect(page.get_by_test_id("upload-error")).to_contain_text("Unsupported file type")
    expect(page.get_by_test_id("param-url")).to_have_value("")
    assert not Upload.objects.exists()


def test_a_png_dropped_on_the_canvas_makes_an_image_input_node_there(
        live_site: str, page: Page, owner: Any) -> None:
    log_in(page, live_site, owner)
    pane = page.locator(".react-flow__pane").bounding_box()
    assert pane
    x, y = pane["x"] + 400, pane["y"] + 250
    drop_file(page, png("blue"), "sky.png", "image/png", x, y)

    created = nodes_of(page, "input:image")
    expect(created).to_have_count(1)
    expect(created.get_by_test_id("input-preview").locator("img")).to_have_attribute(
        "src", uploaded("sky.png"))
    box = created.bounding_box()
    assert box and box["x"] < x < box["x"] + box["width"]  # where it was dropped
    assert Upload.objects.get().original_name == "sky.png"


def test_a_png_dropped_on_an_image_input_node_becomes_its_url(
        live_site: str, page: Page, owner: Any) -> None:
    log_in(page, live_site, owner)
    drag_from_palette(page, "input:image", 300, 200)
    box = node(page, "input:image").bounding_box()
    assert box
    drop_file(page, png("green"), "leaf.png", "image/png", box["x"] + box["width"] / 2,
              box["y"] + 15, selector='[data-node-type="input:image"] .wf-node__head')

    expect(node(page, "input:image").get_by_test_id("input-preview").locator("img")) \
        .to_have_attribute("src", uploaded("leaf.png"))
    expect(nodes_of(page, "input:image")).to_have_count(1)  # no new node
    select_node(page, "input:image")
    expect(page.get_by_test_id("param-url")).to_have_value(
        uploaded("leaf.png"))


def test_a_palette_drag_still_adds_a_node(live_site: str, page: Page, owner: Any) -> None:
    log_in(page, live_site, owner)
    drag_from_palette(page, "input:text", 200, 150)
    assert not Upload.objects.exists()

"""Pictures that cannot be loaded (an offline install, a provider's expired link): the canvas
says "Image unavailable" with the host where the browser would show a broken image, on an
image input node and on a finished node's output, while pictures that load are drawn."""

import pytest
from playwright.sync_api import Page, expect

from accounts.models import User
from executions.models import NodeRun
from tests.executions.stats_data import flux_run, make_run, make_workflow
from workflows.models import Workflow

from .editor_page import graph_node, log_in, node, open_page

pytestmark = pytest.mark.browser

# Nothing listens on port 9 of the loopback: the browser's request is refused at once.
GONE = "http://127.0.0.1:9/gone.png"


def test_an_image_input_whose_url_fails_says_so_and_one_that_loads_is_drawn(
        live_site: str, page: Page, owner: User) -> None:
    assert owner.current_team is not None
    shown = f"{live_site}/static/favicon.svg"
    workflow = Workflow.objects.create(
        team=owner.current_team, created_by=owner, name="Pictures",
        nodes=[graph_node("gone", "input:image", "Gone", 0, url=GONE),
               graph_node("shown", "input:image", "Shown", 360, url=shown)], edges=[])
    log_in(page, live_site, owner, next_path=f"/workflows/{workflow.pk}/edit")

    gone = node(page, "input:image", 0).get_by_test_id("input-preview")
    expect(gone.get_by_test_id("picture-unavailable")).to_contain_text("Image unavailable")
    expect(gone.get_by_test_id("picture-unavailable")).to_contain_text("127.0.0.1:9")
    expect(gone.locator("img")).to_have_count(0)

    drawn = node(page, "input:image", 1).get_by_test_id("input-preview").locator("img")
    expect(drawn).to_have_attribute("src", shown)
    page.wait_for_function("img => img.complete && img.naturalWidth > 0",
                           arg=drawn.element_handle())
    expect(node(page, "input:image", 1).get_by_test_id("picture-unavailable")).to_have_count(0)


def test_a_finished_nodes_output_that_fails_to_load_says_so_on_the_runs_page(
        live_site: str, page: Page, owner: User) -> None:
    assert owner.current_team is not None
    run = make_run(make_workflow(owner.current_team, owner), flux_run())
    NodeRun.objects.filter(execution=run, node_id="flux").update(ports={"images": [GONE]})
    open_page(page, live_site, owner, f"/runs/{run.pk}/")

    flux = page.locator('[data-node-type="generate:flux_2"]')
    expect(flux.get_by_test_id("picture-unavailable")).to_contain_text("127.0.0.1:9")
    # The notice still links to the file, as the picture did.
    expect(flux.locator("a.wf-preview")).to_have_attribute("href", GONE)

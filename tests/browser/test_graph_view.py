"""The editor's canvas in view mode (the template page shows a template's graph with it), and
Publish as template from the editor, in Chromium."""

from typing import Any

import pytest
from playwright.sync_api import Page, expect
from pytest_django import Settings

from accounts.models import User
from tests.conftest import ApiClient
from workflows.models import Template, Workflow

from .editor_page import (
    canvas_node,
    drag_node,
    edges,
    flow_position,
    graph_edge,
    graph_node,
    log_in,
    open_page,
    select_node,
)

pytestmark = pytest.mark.browser

EDITING_ONLY = ("palette-search", "inspector", "save-button", "run-button", "versions-button",
                "publish-button", "undo-button", "workflow-name")


def fox_graph(prompt: str = "a red fox") -> dict[str, Any]:
    return {"nodes": [graph_node("prompt", "input:text", "Prompt", 0, text=prompt),
                      graph_node("flux", "generate:flux_2", "Flux", 340)],
            "edges": [graph_edge("prompt", "text", "flux", "prompt")]}


def fox_template(owner: User) -> Template:
    return Template.objects.create(team=owner.current_team, scope="team", name="Fox template",
                                   author=owner, **fox_graph())


def test_the_template_page_shows_the_graph_on_a_read_only_canvas(live_site: str, page: Page,
                                                                 owner: User) -> None:
    template = fox_template(owner)
    open_page(page, live_site, owner, f"/templates/{template.pk}/")

    view = page.get_by_test_id("graph-view")
    expect(view).to_be_visible()
    expect(canvas_node(page, "prompt")).to_have_attribute("data-node-type", "input:text")
    expect(canvas_node(page, "flux")).to_have_attribute("data-node-type", "generate:flux_2")
    expect(canvas_node(page, "flux")).to_contain_text("Prompt")  # its ports, from the catalogue
    expect(edges(page)).to_have_count(1)
    for hidden in EDITING_ONLY:
        expect(page.get_by_test_id(hidden)).to_have_count(0)

    before = flow_position(page, "flux")
    drag_node(page, "flux", 160, 120)
    page.keyboard.press("Delete")
    page.keyboard.press("Control+z")
    assert flow_position(page, "flux") == before
    expect(canvas_node(page, "flux")).to_be_visible()
    expect(page.get_by_test_id("toast")).to_have_count(0)

    # A node's settings can be looked at, not changed.
    canvas_node(page, "prompt").locator(".wf-node__head").click()
    details = page.get_by_test_id("node-details")
    expect(details.get_by_test_id("param-text")).to_have_value("a red fox")
    expect(details.get_by_test_id("param-text")).to_be_disabled()
    page.locator(".react-flow__pane").click(position={"x": 20, "y": 20})
    expect(details).to_have_count(0)
    assert Template.objects.get(pk=template.pk).nodes == fox_graph()["nodes"]


def create_fox(api: Any) -> Workflow:
    response = api.post("/workflows", {"name": "Fox", "tags": ["animals"], **fox_graph()})
    assert response.status_code == 201, response.content
    return Workflow.objects.get(pk=response.json()["id"])


def publish(page: Page, expected_title: str) -> Any:
    page.get_by_test_id("publish-button").click()
    dialog = page.get_by_test_id("publish-dialog")
    expect(dialog).to_have_attribute("aria-label", expected_title)
    return dialog


def test_publish_as_template_then_republish_bumps_its_version(live_site: str, page: Page,
                                                              owner: User, api: ApiClient) -> None:
    workflow = create_fox(api)
    log_in(page, live_site, owner, next_path=f"/workflows/{workflow.pk}/edit")

    dialog = publish(page, "Publish as template")
    expect(dialog.get_by_test_id("publish-name")).to_have_value("Fox")
    expect(dialog.get_by_test_id("publish-tags")).to_have_value("animals")
    page.keyboard.press("Escape")  # Escape closes without publishing
    expect(dialog).to_have_count(0)
    assert not Template.objects.filter(source_workflow=workflow).exists()

    dialog = publish(page, "Publish as template")
    dialog.get_by_test_id("publish-name").fill("Fox portrait")
    dialog.get_by_test_id("publish-description").fill("A fox, drawn by FLUX")
    dialog.get_by_test_id("publish-tags").fill("animals, fox")
    dialog.get_by_test_id("publish-tags").press("Enter")  # Enter publishes
    expect(dialog.get_by_test_id("publish-success")).to_contain_text(
        "“Fox portrait” is in your team's gallery")
    template = Template.objects.get(source_workflow=workflow)
    assert (template.scope, template.version, template.author) == ("team", 1, owner)
    assert (template.description, template.tags) == ("A fox, drawn by FLUX", ["animals", "fox"])
    expect(dialog.get_by_test_id("publish-link")).to_have_attribute(
        "href", f"/templates/{template.pk}/")
    page.keyboard.press("Escape")

    # Unsaved edits are saved first; publishing again gives the same template a new version.
    select_node(page, "input:text")
    page.get_by_test_id("param-text").fill("a fox in the snow")
    dialog = publish(page, "Publish a new version of the template")
    dialog.get_by_test_id("publish-submit").click()
    expect(dialog.get_by_test_id("publish-success")).to_contain_text("as version 2")
    template.refresh_from_db()
    assert template.version == 2
    assert template.nodes[0]["data"]["params"]["text"] == "a fox in the snow"
    assert Template.objects.filter(team=owner.current_team).count() == 1
    expect(page.get_by_test_id("save-state")).to_have_text("All changes saved")

    page.reload()  # the page remembers the published template
    publish(page, "Publish a new version of the template").get_by_test_id("publish-submit").click()
    link = page.get_by_test_id("publish-link")
    link.click()
    page.wait_for_url(f"{live_site}/templates/{template.pk}/")
    expect(page.get_by_test_id("graph-view")).to_be_visible()
    expect(canvas_node(page, "prompt")).to_be_visible()
    template.refresh_from_db()
    assert template.version == 3


def test_public_publishing_is_offered_only_when_the_operator_allows_it(live_site: str, page: Page,
                                                                       owner: User, api: ApiClient,
                                                                       settings: Settings) -> None:
    workflow = create_fox(api)
    settings.PUBLIC_TEMPLATES_ENABLED = False
    log_in(page, live_site, owner, next_path=f"/workflows/{workflow.pk}/edit")
    dialog = publish(page, "Publish as template")
    expect(dialog.get_by_test_id("publish-scope-team")).to_be_checked()
    expect(dialog.get_by_test_id("publish-scope-public")).to_have_count(0)

    settings.PUBLIC_TEMPLATES_ENABLED = True
    page.reload()
    dialog = publish(page, "Publish as template")
    dialog.get_by_test_id("publish-scope-public").check()
    dialog.get_by_test_id("publish-submit").click()
    expect(dialog.get_by_test_id("publish-success")).to_contain_text("every account's gallery")
    assert Template.objects.get(source_workflow=workflow).scope == "public"


def test_a_refused_publish_is_shown_in_the_dialog(live_site: str, page: Page, owner: User,
                                                  api: ApiClient, settings: Settings) -> None:
    workflow = create_fox(api)
    log_in(page, live_site, owner, next_path=f"/workflows/{workflow.pk}/edit")
    dialog = publish(page, "Publish as template")
    settings.PUBLIC_TEMPLATES_ENABLED = False  # turned off after the page was opened
    dialog.get_by_test_id("publish-scope-public").check()
    dialog.get_by_test_id("publish-submit").click()
    expect(dialog.get_by_test_id("publish-error")).to_have_text(
        "Public templates are turned off on this instance")
    assert not Template.objects.filter(source_workflow=workflow).exists()

"""Sharing with a team, in Chromium, through the real engine: the owner invites a teammate by
email, the teammate signs up through the link and lands in the team as an editor, the owner
publishes a workflow as a team template, the teammate finds it in the gallery by search, uses it
and runs it to COMPLETED; a viewer sees the gallery but no Use or Run buttons, and the API
refuses them with 403."""

import re
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect

from accounts.models import Membership, Role, User
from workflows.models import Template, Workflow
from workflows.services import WorkflowData, workflow_create

from .editor_page import PASSWORD, graph_edge, graph_node, log_in

pytestmark = pytest.mark.browser

RUN_TIMEOUT_MS = 60_000
TEMPLATE_NAME = "Greeting card maker"
TEAMMATE = "new.teammate@example.com"


def _new_page(browser: Browser) -> Page:
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    context.set_default_timeout(60_000)
    return context.new_page()


def _owners_workflow(owner: User) -> Workflow:
    nodes = [graph_node("words", "input:text", "Words", text="hello team"),
             graph_node("joined", "utility:prompt_concat", "Joined", x=300),
             graph_node("out", "output:result", "Card", x=600)]
    edges = [graph_edge("words", "text", "joined", "texts"),
             graph_edge("joined", "text", "out", "value")]
    assert owner.current_team is not None
    return workflow_create(user=owner, team=owner.current_team, data=WorkflowData(
        name="Greeting card", description="Joins words into a card", nodes=nodes, edges=edges,
        tags=["cards"]))


FITS_THE_WIDTH = "document.documentElement.scrollWidth <= window.innerWidth"


def _csrf_post(page: Page, url: str, body: dict[str, Any]) -> Any:
    """An API call from the page's own session, with its CSRF token, as the editor makes it."""
    token = next(c["value"] for c in page.context.cookies() if c["name"] == "csrftoken")
    return page.request.post(url, data=body, headers={"X-CSRFToken": token})


def test_invite_publish_find_use_and_run_and_a_viewer_only_looks(
        engine: str, page: Page, owner: User, _chromium: Browser,
        make_user: Any) -> None:
    site = engine
    workflow = _owners_workflow(owner)

    # The owner invites a teammate by email as an editor; the page shows the link.
    log_in(page, site, owner, next_path="/settings/team/")
    page.get_by_label("Email").fill(TEAMMATE)
    page.get_by_label("Role").select_option("editor")
    page.get_by_test_id("send-invitation").click()
    link = page.get_by_test_id("invitation-link").inner_text().strip()
    assert re.fullmatch(rf"{re.escape(site)}/invitations/[\w-]+/", link), link

    # The teammate, with no account yet, signs up through the link and lands in the team.
    mate = _new_page(_chromium)
    mate.goto(link)
    mate.get_by_test_id("invitation-signup").click()
    expect(mate.locator("input[name=email]")).to_have_value(TEAMMATE)
    mate.fill("input[name=password1]", PASSWORD)
    mate.fill("input[name=password2]", PASSWORD)
    mate.locator("form button[type=submit]").last.click()
    mate.wait_for_url(f"{site}/workflows/")
    expect(mate.get_by_text("Greeting card", exact=True)).to_be_visible()  # the team's list
    teammate = User.objects.get(email=TEAMMATE)
    assert Membership.objects.get(user=teammate, team=owner.current_team).role == Role.EDITOR

    # The owner publishes the workflow as a team template from the workflow list.
    page.goto(f"{site}/workflows/")
    page.get_by_test_id("workflow-row").filter(has_text="Greeting card") \
        .get_by_test_id("publish-template-link").click()
    page.get_by_label("Name").fill(TEMPLATE_NAME)
    page.get_by_test_id("publish-submit").click()
    expect(page.get_by_test_id("template-name")).to_contain_text(TEMPLATE_NAME)
    template = Template.objects.get(name=TEMPLATE_NAME)
    assert template.scope == "team" and template.source_workflow_id == workflow.pk

    # The teammate finds it in the gallery by search, uses it and runs it.
    mate.goto(f"{site}/templates/")
    search = mate.get_by_test_id("gallery-search").get_by_role("searchbox")
    search.fill("greeting")
    search.press("Enter")
    cards = mate.get_by_test_id("template-card")
    expect(cards).to_have_count(1)
    expect(cards.first).to_contain_text(TEMPLATE_NAME)
    cards.first.click()
    expect(mate.get_by_test_id("graph-view")).to_be_visible()  # the read-only canvas
    mate.get_by_test_id("use-template").click()
    mate.wait_for_url(re.compile(r"/workflows/[0-9a-f-]+/edit"))
    expect(mate.get_by_test_id("palette-search")).to_be_visible()
    mate.get_by_test_id("run-button").click()
    mate.get_by_test_id("run-dialog-submit").click()
    for node_id in ["words", "joined", "out"]:
        expect(mate.get_by_test_id(f"node-{node_id}")).to_have_attribute(
            "data-status", "completed", timeout=RUN_TIMEOUT_MS)
    # Every page works at 1280x800; the editor's top bar, run log button and all,
    # fits without scrolling sideways.
    assert mate.evaluate(FITS_THE_WIDTH), mate.evaluate("document.documentElement.scrollWidth")
    used = Workflow.objects.exclude(pk=workflow.pk).get(team=owner.current_team,
                                                        template=template)
    assert used.created_by == teammate and used.template_version == template.version
    assert used.executions.get().status == "COMPLETED"

    # A viewer sees the gallery and the template, but no Use or Run, and the API says 403.
    viewer = make_user("looker@example.com")
    assert owner.current_team is not None
    Membership.objects.create(team=owner.current_team, user=viewer, role=Role.VIEWER)
    viewer.current_team = owner.current_team
    viewer.save(update_fields=["current_team"])
    looker = _new_page(_chromium)
    log_in(looker, site, viewer, next_path="/templates/")
    expect(looker.get_by_test_id("template-card").filter(has_text=TEMPLATE_NAME)).to_have_count(1)
    looker.get_by_test_id("template-card").filter(has_text=TEMPLATE_NAME).click()
    expect(looker.get_by_test_id("graph-view")).to_be_visible()
    expect(looker.get_by_test_id("use-not-allowed")).to_be_visible()
    expect(looker.get_by_test_id("use-template")).to_have_count(0)
    looker.goto(f"{site}/workflows/{used.pk}/edit")
    expect(looker.locator(".react-flow__node")).to_have_count(3)
    expect(looker.get_by_test_id("run-button")).to_have_count(0)
    assert looker.evaluate(FITS_THE_WIDTH)
    refused = _csrf_post(looker, f"{site}/api/v1/templates/{template.pk}/use", {})
    assert refused.status == 403, refused.text()
    assert refused.json() == {"error": "Your role in this team cannot do this",
                              "code": "forbidden_role"}
    refused = _csrf_post(looker, f"{site}/api/v1/workflows/{used.pk}/execute", {})
    assert refused.status == 403 and refused.json()["code"] == "forbidden_role"

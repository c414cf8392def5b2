"""A workflow shared by link, in Chromium: the owner makes it public with an API key; someone
without an account opens the link, sees the read-only canvas, the description and the inputs,
presses "Use this workflow", signs up, presses it again and lands in the editor of a copy in
their own team."""

import json
import re
import urllib.request
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from accounts.models import User
from accounts.services import api_key_create
from workflows.models import Workflow
from workflows.services import WorkflowData, workflow_create

from .editor_page import PASSWORD, canvas_node, edges, graph_edge, graph_node, wait_for_editor

pytestmark = pytest.mark.browser

NEWCOMER = "newcomer@example.com"
DESCRIPTION = "Joins a greeting and a name into a card"


def _owners_workflow(owner: User) -> Workflow:
    nodes = [graph_node("greeting", "input:text", "Greeting", text="hello", required=True),
             graph_node("joined", "utility:prompt_concat", "Joined", x=300),
             graph_node("out", "output:webhook", "Deliver", x=600,
                        url="https://receiver.example.com/hook",
                        secret="whsec-browser-secret-0123456789")]
    edges_ = [graph_edge("greeting", "text", "joined", "texts"),
              graph_edge("joined", "text", "out", "value")]
    assert owner.current_team is not None
    return workflow_create(user=owner, team=owner.current_team, data=WorkflowData(
        name="Greeting card", description=DESCRIPTION, nodes=nodes, edges=edges_))


def _make_public(site: str, owner: User, workflow: Workflow) -> dict[str, Any]:
    assert owner.current_team is not None
    key = api_key_create(user=owner, team=owner.current_team, name="share", scopes=None)
    request = urllib.request.Request(  # noqa: S310 (the live test server's own http URL)
        f"{site}/api/v1/workflows/{workflow.pk}/visibility", method="POST",
        data=json.dumps({"visibility": "view"}).encode(),
        headers={"Authorization": f"Bearer {key.secret}", "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310
        assert response.status == 200
        return json.loads(response.read())  # type: ignore[no-any-return]


def test_a_newcomer_opens_the_link_signs_up_and_gets_a_copy(
        live_site: str, page: Page, owner: User, settings: Any) -> None:
    settings.SITE_URL = live_site  # the URL the API answers points at the live server
    workflow = _owners_workflow(owner)
    shared = _make_public(live_site, owner, workflow)
    assert shared == {"linkPermission": "view", "url": f"{live_site}/workflows/{workflow.pk}/"}

    # Someone with no account opens the link: the canvas, the description, the inputs.
    page.goto(shared["url"])
    expect(page.get_by_test_id("graph-view")).to_be_visible()
    for node_id, node_type in [("greeting", "input:text"), ("joined", "utility:prompt_concat"),
                               ("out", "output:webhook")]:
        expect(canvas_node(page, node_id)).to_have_attribute("data-node-type", node_type)
    expect(edges(page)).to_have_count(2)
    expect(page.get_by_test_id("shared-name")).to_have_text("Greeting card")
    expect(page.get_by_test_id("shared-description")).to_have_text(DESCRIPTION)
    expect(page.get_by_test_id("shared-input")).to_have_count(1)
    expect(page.get_by_test_id("shared-input")).to_contain_text("Greeting")
    expect(page.get_by_test_id("shared-input")).to_contain_text("required")
    assert "whsec-browser-secret" not in page.content()

    # Using it asks them to log in; they sign up instead and come back to the page.
    page.get_by_test_id("use-workflow").click()
    page.wait_for_url(re.compile(r"/accounts/login/\?next="))
    page.get_by_role("link", name="Create an account").click()
    page.wait_for_url(re.compile(r"/accounts/signup/"))
    page.fill("input[name=email]", NEWCOMER)
    page.fill("input[name=password1]", PASSWORD)
    page.fill("input[name=password2]", PASSWORD)
    page.locator("form button[type=submit]").last.click()
    page.wait_for_url(shared["url"])
    expect(page.get_by_test_id("graph-view")).to_be_visible()

    # Now signed in, they press it again and land in the editor of their own copy.
    page.get_by_test_id("use-workflow").click()
    page.wait_for_url(re.compile(r"/workflows/[0-9a-f-]+/edit$"))
    wait_for_editor(page)
    expect(canvas_node(page, "joined")).to_be_visible()
    newcomer = User.objects.get(email=NEWCOMER)
    copied = Workflow.objects.exclude(pk=workflow.pk).get()
    assert page.url == f"{live_site}/workflows/{copied.pk}/edit"
    assert copied.team_id == newcomer.current_team_id != workflow.team_id
    assert copied.created_by == newcomer
    assert "wf-sealed:" not in json.dumps(copied.nodes)

"""A workflow's public page /workflows/<id>/ and "Use this workflow": anonymous, team members,
another team's editor and viewer; nothing secret-shaped on the page or in a copy; the public
link on the settings page."""

import json
import re
from collections.abc import Callable
from html import unescape
from typing import Any

import pytest
from django.test import Client

from accounts.models import Membership, Role, Team, User
from accounts.services import team_create_and_switch
from workflows import secretbox
from workflows.models import Workflow
from workflows.services import WorkflowData, workflow_create, workflow_webhook_set
from workflows.sharing import workflow_visibility_set

from .graph_builders import edge, node

pytestmark = pytest.mark.django_db

NODE_SECRET = "whsec-node-secret-0123456789"
HEADER_SECRET = "header-secret-value-9876543210"
BEARER_KEY = "sk-proj-abcdefghijklmnop0123456789"
WEBHOOK_SECRET = "workflow-signing-secret-abcdef0123"
DESCRIPTION = "Turns a topic into a caption and posts it"


def graph() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    nodes = [
        node("topic", "input:text", {"text": "a red fox", "required": True}, label="Topic"),
        node("style", "input:text", {"text": ""}, label="Style"),
        node("call", "http:request", {
            "url": "https://api.example.com/caption", "method": "POST",
            "headers": {"Authorization": f"Bearer {BEARER_KEY}", "Accept": "application/json"},
            "secret_header_name": "X-Api-Key", "secret_header_value": HEADER_SECRET},
            label="Caption service"),
        node("hook", "output:webhook", {"url": "https://receiver.example.com/hook",
                                        "secret": NODE_SECRET}, label="Deliver"),
    ]
    edges = [edge("e1", "topic", "call", "text", "body"),
             edge("e2", "call", "hook", "json", "value")]
    return nodes, edges


@pytest.fixture
def workflow(owner: User, team: Team) -> Workflow:
    nodes, edges = graph()
    created = workflow_create(user=owner, team=team, data=WorkflowData(
        name="Caption poster", description=DESCRIPTION, nodes=nodes, edges=edges))
    workflow_webhook_set(created, user=owner, enabled=True, secret=WEBHOOK_SECRET)
    return Workflow.objects.get(pk=created.pk)


@pytest.fixture
def shared(workflow: Workflow, owner: User) -> Workflow:
    return workflow_visibility_set(workflow, user=owner, visibility="view")


def page_url(workflow: Workflow) -> str:
    return f"/workflows/{workflow.pk}/"


def use_url(workflow: Workflow) -> str:
    return f"/workflows/{workflow.pk}/use"


def logged_in(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def editor_config(html: str) -> dict[str, Any]:
    found = re.search(r'<script id="editor-config" type="application/json">(.*?)</script>',
                      html, re.S)
    assert found, "the page has no editor-config"
    return json.loads(found.group(1))  # type: ignore[no-any-return]


def other_team_editor(make_user: Callable[..., User]) -> tuple[User, Team]:
    user = make_user("reader@example.com")
    return user, team_create_and_switch(user=user, name="Reader's studio")


# --- The page -----------------------------------------------------------------------------

def test_anyone_with_the_link_sees_the_workflow_without_an_account(shared: Workflow) -> None:
    response = Client().get(page_url(shared))
    assert response.status_code == 200
    html = response.content.decode()
    assert "Caption poster" in html and DESCRIPTION in html
    assert 'data-testid="use-workflow"' in html and "Use this workflow" in html
    assert f'action="{use_url(shared)}"' in html and "csrfmiddlewaretoken" in html
    # The inputs, as GET /workflows/{id}/run describes them.
    inputs = re.findall(r'data-testid="shared-input"><span>([^<]*)</span>'
                        r'<span class="muted small">([^<]*)</span>', html)
    assert [(label, unescape(detail)) for label, detail in inputs] == [
        ("Topic", "text · required · default a red fox"), ("Style", "text")]
    # The read-only canvas: the editor bundle in view mode with the graph.
    config = editor_config(html)
    assert config["mode"] == "view" and config["workflowId"] is None
    assert [n["id"] for n in config["graph"]["nodes"]] == ["topic", "style", "call", "hook"]
    assert [e["id"] for e in config["graph"]["edges"]] == ["e1", "e2"]
    assert config["apiBase"] == f"/workflows/{shared.pk}/shared"


def test_the_page_shows_no_secret_shaped_value(shared: Workflow) -> None:
    html = Client().get(page_url(shared)).content.decode()
    stored = json.dumps(shared.nodes)
    assert "wf-sealed:" in stored  # the secrets are there to leak...
    assert shared.webhook_id and shared.webhook_secret
    for secret in [NODE_SECRET, HEADER_SECRET, BEARER_KEY, WEBHOOK_SECRET, shared.webhook_id,
                   shared.webhook_secret, "wf-sealed:", "sk-proj", "Bearer", "trigger"]:
        assert secret not in html and secret not in unescape(html), secret
    params = {n["id"]: n["data"]["params"] for n in editor_config(html)["graph"]["nodes"]}
    assert params["hook"]["secret"] == "" and params["call"]["secret_header_value"] == ""
    assert params["call"]["headers"] == {"Authorization": "", "Accept": "application/json"}
    assert params["hook"]["url"] == "https://receiver.example.com/hook"  # the rest is kept


def test_secrets_pasted_into_ordinary_params_and_the_description_are_stripped(
        owner: User, team: Team) -> None:
    workflow = workflow_create(user=owner, team=team, data=WorkflowData(
        name="Leaky", description=f"Call it with {BEARER_KEY}",
        nodes=[node("topic", "input:text",
                    {"text": f"use https://bob:hunter2hunter2@example.com and {BEARER_KEY}"})],
        edges=[]))
    workflow_webhook_set(workflow, user=owner, enabled=True)
    workflow = Workflow.objects.get(pk=workflow.pk)
    Workflow.objects.filter(pk=workflow.pk).update(
        nodes=[node("topic", "input:text", {"text": f"hook id {workflow.webhook_id}"})],
        link_permission="view")
    html = Client().get(page_url(workflow)).content.decode()
    assert workflow.webhook_id and workflow.webhook_id not in html
    assert BEARER_KEY not in html and "hunter2" not in html
    assert "Call it with" in html


def test_a_private_workflow_is_404_for_anyone_outside_its_team(
        workflow: Workflow, stranger: User) -> None:
    for client in (Client(), logged_in(stranger)):
        assert client.get(page_url(workflow)).status_code == 404
        assert client.get(f"/workflows/{workflow.pk}/shared/nodes").status_code == 404


@pytest.mark.parametrize("role", [Role.OWNER, Role.EDITOR, Role.VIEWER])
def test_a_member_opening_a_private_workflow_goes_to_the_editor(
        workflow: Workflow, owner: User, member_of: Callable[..., User], role: str) -> None:
    member = owner if role == Role.OWNER else member_of(role)
    response = logged_in(member).get(page_url(workflow))
    assert response.status_code == 302
    assert response["Location"] == f"/workflows/{workflow.pk}/edit"


def test_a_member_sees_the_public_page_of_a_shared_workflow(shared: Workflow,
                                                            owner: User) -> None:
    html = logged_in(owner).get(page_url(shared)).content.decode()
    assert 'data-testid="open-editor"' in html and 'data-testid="use-workflow"' in html


@pytest.mark.parametrize("workflow_id", ["00000000-0000-4000-8000-000000000000", "nope", "1"])
def test_an_unknown_workflow_is_a_404_page(db: None, workflow_id: str) -> None:
    assert Client().get(f"/workflows/{workflow_id}/").status_code == 404
    assert Client().post(f"/workflows/{workflow_id}/use").status_code == 404


def test_the_canvas_catalogue_is_readable_without_an_account(shared: Workflow,
                                                             owner: User) -> None:
    public = Client().get(f"/workflows/{shared.pk}/shared/nodes")
    assert public.status_code == 200
    signed = logged_in(owner).get("/api/v1/nodes")
    assert public.json() == signed.json()
    assert Client().get("/api/v1/nodes").status_code == 401


# --- Use this workflow ------------------------------------------------------------------

def test_using_it_anonymously_asks_to_sign_in_then_comes_back(shared: Workflow) -> None:
    count = Workflow.objects.count()
    response = Client().post(use_url(shared))
    assert response.status_code == 302
    assert response["Location"] == f"/accounts/login/?next=/workflows/{shared.pk}/"
    assert Workflow.objects.count() == count
    login = Client().get(response["Location"]).content.decode()
    assert f'value="/workflows/{shared.pk}/"' in login  # the form carries next


def test_another_teams_editor_gets_a_copy_without_the_secrets(
        shared: Workflow, make_user: Callable[..., User]) -> None:
    reader, their_team = other_team_editor(make_user)
    client = logged_in(reader)
    response = client.post(use_url(shared), follow=True)
    copied = Workflow.objects.exclude(pk=shared.pk).get()
    assert response.redirect_chain == [(f"/workflows/{copied.pk}/edit", 302)]
    # The editor page shows no messages: the next page does.
    assert "was copied into Reader&#x27;s studio" in client.get("/workflows/").content.decode()
    assert copied.team == their_team and copied.created_by == reader
    assert copied.name == "Caption poster (copy)" and copied.description == DESCRIPTION
    assert copied.link_permission == "private" and not copied.webhook_enabled
    assert copied.webhook_id is None and copied.webhook_secret == ""
    text = json.dumps(copied.nodes)
    for secret in [NODE_SECRET, HEADER_SECRET, BEARER_KEY, "wf-sealed:"]:
        assert secret not in text and secret not in json.dumps(
            list(copied.versions.values_list("nodes", flat=True)))
    params = {n["id"]: n["data"]["params"] for n in copied.nodes}
    assert params["hook"]["secret"] == "" and params["call"]["secret_header_value"] == ""
    assert copied.edges == shared.edges
    assert Workflow.objects.get(pk=shared.pk).nodes == shared.nodes  # the source is untouched


def test_a_viewer_in_their_current_team_is_refused_and_nothing_is_made(
        shared: Workflow, make_user: Callable[..., User]) -> None:
    reader, their_team = other_team_editor(make_user)
    Membership.objects.filter(user=reader, team=their_team).update(role=Role.VIEWER)
    count = Workflow.objects.count()
    client = logged_in(reader)
    page = client.get(page_url(shared)).content.decode()
    assert 'data-testid="use-not-allowed"' in page
    response = client.post(use_url(shared))
    assert response.status_code == 403
    html = response.content.decode()
    assert "cannot create workflows" in html
    assert Workflow.objects.count() == count


def test_a_workflow_made_private_after_the_page_was_opened_is_404(
        shared: Workflow, owner: User, make_user: Callable[..., User]) -> None:
    reader, _ = other_team_editor(make_user)
    client = logged_in(reader)
    assert client.get(page_url(shared)).status_code == 200
    workflow_visibility_set(shared, user=owner, visibility="private")
    count = Workflow.objects.count()
    assert client.post(use_url(shared)).status_code == 404
    assert Client().post(use_url(shared)).status_code == 404
    assert Workflow.objects.count() == count


def test_using_it_needs_the_csrf_token_and_a_post(shared: Workflow,
                                                  make_user: Callable[..., User]) -> None:
    reader, _ = other_team_editor(make_user)
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(reader)
    count = Workflow.objects.count()
    assert strict.post(use_url(shared)).status_code == 403
    assert logged_in(reader).get(use_url(shared)).status_code == 405
    assert Workflow.objects.count() == count


def test_a_member_using_their_own_teams_workflow_keeps_its_secrets(shared: Workflow,
                                                                  owner: User) -> None:
    response = logged_in(owner).post(use_url(shared))
    copied = Workflow.objects.exclude(pk=shared.pk).get()
    assert response["Location"] == f"/workflows/{copied.pk}/edit"
    assert copied.team_id == shared.team_id
    params = {n["id"]: n["data"]["params"] for n in copied.nodes}
    assert secretbox.reveal_param(params["hook"]["secret"]) == NODE_SECRET


# --- The settings page's public link ----------------------------------------------------------

def settings_url(workflow: Workflow) -> str:
    return f"/workflows/{workflow.pk}/settings/"


def test_the_owner_turns_the_public_link_on_and_off(workflow: Workflow, owner: User,
                                                    settings: Any) -> None:
    client = logged_in(owner)
    before = client.get(settings_url(workflow)).content.decode()
    assert 'data-testid="share-link"' in before and 'data-testid="public-url"' not in before
    page = client.post(settings_url(workflow), {"action": "share_link"}, follow=True)
    html = page.content.decode()
    assert page.redirect_chain == [(settings_url(workflow), 302)]
    assert f"{settings.SITE_URL}/workflows/{workflow.pk}/" in html
    assert 'data-testid="unshare-link"' in html and "Public link on" in html
    assert Workflow.objects.get(pk=workflow.pk).link_permission == "view"
    assert Client().get(page_url(workflow)).status_code == 200
    client.post(settings_url(workflow), {"action": "unshare_link"})
    assert Workflow.objects.get(pk=workflow.pk).link_permission == "private"
    assert Client().get(page_url(workflow)).status_code == 404


def test_a_viewer_sees_the_state_but_cannot_change_it(shared: Workflow,
                                                      viewer: User) -> None:
    client = logged_in(viewer)
    html = client.get(settings_url(shared)).content.decode()
    assert 'data-testid="public-url"' in html
    assert 'data-testid="unshare-link"' not in html and 'data-testid="share-link"' not in html
    response = client.post(settings_url(shared), {"action": "unshare_link"})
    assert response.status_code == 403
    assert Workflow.objects.get(pk=shared.pk).link_permission == "view"

"""The workflow's settings page: the webhook on and off, its URL, rotating it, the signing
secret, as owner, viewer, stranger and anonymous."""

from collections.abc import Callable
from html import unescape
from typing import Any

import pytest
from django.test import Client

from accounts.models import Membership, Role, Team, User
from workflows.models import Workflow
from workflows.services import workflow_webhook_set

pytestmark = pytest.mark.django_db
SECRET = "a-long-signing-secret-0123"


@pytest.fixture
def workflow(team: Team, owner: User) -> Workflow:
    nodes = [{"id": "n1", "type": "basedNode", "position": {"x": 0, "y": 0},
              "data": {"label": "Prompt", "nodeType": "input:text", "params": {"text": "a fox"}}}]
    return Workflow.objects.create(team=team, created_by=owner, name="Fox pipeline",
                                   nodes=nodes, edges=[])


@pytest.fixture
def viewer(make_user: Callable[..., User], team: Team) -> User:
    user = make_user("viewer@example.com")
    Membership.objects.create(team=team, user=user, role=Role.VIEWER)
    return user


def logged_in(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def url(workflow: Workflow) -> str:
    return f"/workflows/{workflow.pk}/settings/"


def act(client: Client, workflow: Workflow, action: str, **data: str) -> Any:
    return client.post(url(workflow), {"action": action, **data}, follow=True)


def test_the_owner_enables_the_webhook_and_sees_its_url(owner: User, workflow: Workflow,
                                                        settings: Any) -> None:
    client = logged_in(owner)
    before = client.get(url(workflow)).content.decode()
    assert 'data-testid="enable-webhook"' in before
    page = act(client, workflow, "enable")
    workflow.refresh_from_db()
    assert workflow.webhook_enabled and workflow.webhook_id
    trigger = f"{settings.SITE_URL}/api/v1/workflow/{workflow.webhook_id}/trigger"
    html = page.content.decode()
    assert page.redirect_chain == [(url(workflow), 302)]
    assert trigger in html
    assert "Webhook enabled" in html
    assert "curl -X POST" in html and '{"Prompt": "a fox"}' in unescape(html)


def test_rotating_asks_first_then_gives_a_new_url(owner: User, workflow: Workflow) -> None:
    workflow_webhook_set(workflow, user=owner, enabled=True)
    old_id = Workflow.objects.get().webhook_id
    client = logged_in(owner)
    confirm = client.get(url(workflow) + "?confirm=rotate").content.decode()
    assert "Rotate the webhook URL?" in confirm and 'data-testid="confirm-rotate"' in confirm
    assert Workflow.objects.get().webhook_id == old_id  # asking changed nothing
    act(client, workflow, "rotate")
    assert Workflow.objects.get().webhook_id not in (None, old_id)


def test_the_secret_is_saved_encrypted_and_never_shown(owner: User, workflow: Workflow) -> None:
    client = logged_in(owner)
    act(client, workflow, "enable")
    page = act(client, workflow, "set_secret", secret=SECRET)
    html = page.content.decode()
    assert "A secret is set" in html
    assert SECRET not in html
    assert "X-Wireflow-Signature: t=$TS,v1=$SIG" in unescape(html)  # the signed example
    stored = Workflow.objects.get().webhook_secret
    assert stored and SECRET not in stored
    assert "A secret is set" not in act(client, workflow, "clear_secret").content.decode()
    assert Workflow.objects.get().webhook_secret == ""


@pytest.mark.parametrize("secret", ["short", " padded-secret-0123456789 "])
def test_a_weak_or_padded_secret_is_a_form_error(owner: User, workflow: Workflow,
                                                 secret: str) -> None:
    page = act(logged_in(owner), workflow, "set_secret", secret=secret)
    assert page.status_code == 200
    assert 'class="field-error"' in page.content.decode()
    assert Workflow.objects.get().webhook_secret == ""


def test_disabling_drops_the_url(owner: User, workflow: Workflow) -> None:
    workflow_webhook_set(workflow, user=owner, enabled=True)
    html = act(logged_in(owner), workflow, "disable").content.decode()
    assert Workflow.objects.get().webhook_id is None
    assert "/trigger" not in html
    assert "its URL no longer works" in html


def test_rotating_a_disabled_webhook_says_why(owner: User, workflow: Workflow) -> None:
    page = act(logged_in(owner), workflow, "rotate")
    assert "The webhook is disabled" in page.content.decode()


def test_an_unknown_action_changes_nothing(owner: User, workflow: Workflow) -> None:
    page = act(logged_in(owner), workflow, "explode")
    assert "Unknown action" in page.content.decode()
    assert Workflow.objects.get().webhook_enabled is False


def test_a_viewer_sees_the_settings_but_cannot_change_them(viewer: User, owner: User,
                                                           workflow: Workflow) -> None:
    workflow_webhook_set(workflow, user=owner, enabled=True)
    client = logged_in(viewer)
    html = client.get(url(workflow)).content.decode()
    assert "you can see these settings but not change them" in html
    assert 'data-testid="disable-webhook"' not in html
    assert 'data-testid="secret-form"' not in html
    refused = client.post(url(workflow), {"action": "disable"})
    assert refused.status_code == 403
    assert Workflow.objects.get().webhook_enabled is True


def test_a_stranger_gets_404(stranger: User, workflow: Workflow) -> None:
    client = logged_in(stranger)
    assert client.get(url(workflow)).status_code == 404
    assert client.post(url(workflow), {"action": "enable"}).status_code == 404
    assert client.get("/workflows/not-a-uuid/settings/").status_code == 404
    assert Workflow.objects.get().webhook_enabled is False


def test_anonymous_visitors_are_sent_to_log_in(workflow: Workflow) -> None:
    response = Client().get(url(workflow))
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_the_list_links_to_each_workflow_s_settings(owner: User, workflow: Workflow) -> None:
    assert url(workflow) in logged_in(owner).get("/workflows/").content.decode()

"""POST /workflows/{id}/visibility: sharing a workflow by link, as owner, editor, viewer,
another team and a key without the scope; every bad body is 400 invalid_field and changes
nothing."""

import json
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client

from accounts.models import User
from tests.conftest import ApiClient
from tests.workflows.test_api_workflows import MISSING_ID, assert_error, create
from workflows.models import Workflow

pytestmark = pytest.mark.django_db


def visibility(client: ApiClient, workflow_id: str, value: Any) -> Any:
    return client.post(f"/workflows/{workflow_id}/visibility", {"visibility": value})


def link_permission(workflow_id: str) -> str:
    return Workflow.objects.values_list("link_permission", flat=True).get(pk=workflow_id)


def test_view_shares_the_workflow_and_answers_its_public_url(api: ApiClient,
                                                             settings: Any) -> None:
    settings.SITE_URL = "https://wireflow.example.com"
    created = create(api)
    assert created["linkPermission"] == "private"
    response = visibility(api, created["id"], "view")
    assert response.status_code == 200, response.content
    assert response.json() == {
        "linkPermission": "view",
        "url": f"https://wireflow.example.com/workflows/{created['id']}/"}
    assert link_permission(created["id"]) == "view"
    assert api.get(f"/workflows/{created['id']}").json()["linkPermission"] == "view"
    assert Client().get(f"/workflows/{created['id']}/").status_code == 200


def test_private_makes_the_public_page_404_again(api: ApiClient) -> None:
    created = create(api)
    visibility(api, created["id"], "view")
    assert Client().get(f"/workflows/{created['id']}/").status_code == 200
    response = visibility(api, created["id"], "private")
    assert response.status_code == 200, response.content
    assert response.json()["linkPermission"] == "private"
    assert response.json()["url"].endswith(f"/workflows/{created['id']}/")
    assert link_permission(created["id"]) == "private"
    assert Client().get(f"/workflows/{created['id']}/").status_code == 404


def test_sharing_is_not_a_graph_edit(api: ApiClient) -> None:
    created = create(api)
    visibility(api, created["id"], "view")
    after = api.get(f"/workflows/{created['id']}").json()
    assert (after["version"], after["updatedAt"]) == (created["version"], created["updatedAt"])


@pytest.mark.parametrize("raw", [
    {"visibility": "public"}, {"visibility": "VIEW"}, {"visibility": ""},
    {"visibility": None}, {"visibility": 1}, {"visibility": True},
    {"visibility": ["view"]}, {"visibility": {"value": "view"}}, {},
    {"linkPermission": "view"}, ["view"], "view", None,
])
def test_anything_else_is_400_invalid_field_and_changes_nothing(api: ApiClient,
                                                               raw: Any) -> None:
    created = create(api)
    visibility(api, created["id"], "view")
    response = api.post(f"/workflows/{created['id']}/visibility", raw=json.dumps(raw))
    assert response.status_code == 400, response.content
    assert response.json()["code"] == "invalid_field"
    assert "visibility" in response.json()["error"]
    assert link_permission(created["id"]) == "view"


def test_no_body_or_malformed_json_is_a_400_too(api: ApiClient) -> None:
    created = create(api)
    empty = api.post(f"/workflows/{created['id']}/visibility", raw="")
    assert empty.status_code == 400 and empty.json()["code"] == "invalid_field"
    broken = api.post(f"/workflows/{created['id']}/visibility", raw="{not json")
    assert broken.status_code == 400 and broken.json()["code"] == "invalid_json"
    assert link_permission(created["id"]) == "private"


@pytest.mark.parametrize(("role", "allowed"), [
    ("owner", True), ("admin", True), ("editor", True), ("viewer", False)])
def test_the_role_table_decides(api: ApiClient, api_for: Callable[..., ApiClient],
                                member_of: Callable[..., User], owner: User, role: str,
                                allowed: bool) -> None:
    created = create(api)
    caller = owner if role == "owner" else member_of(role)
    response = visibility(api_for(caller), created["id"], "view")
    if allowed:
        assert response.status_code == 200, response.content
        assert link_permission(created["id"]) == "view"
    else:
        assert_error(response, 403, "Your role in this team cannot do this", "forbidden_role")
        assert link_permission(created["id"]) == "private"


def test_another_team_gets_404(api: ApiClient, api_for: Callable[..., ApiClient],
                               stranger: User) -> None:
    created = create(api)
    response = visibility(api_for(stranger), created["id"], "view")
    assert_error(response, 404, "Workflow not found", "not_found")
    assert link_permission(created["id"]) == "private"


@pytest.mark.parametrize("workflow_id", [MISSING_ID, "not-a-uuid", "1"])
def test_an_unknown_workflow_is_404(api: ApiClient, workflow_id: str) -> None:
    assert_error(visibility(api, workflow_id, "view"), 404, "Workflow not found", "not_found")


def test_a_read_only_key_is_refused(api: ApiClient, api_for: Callable[..., ApiClient],
                                    owner: User) -> None:
    created = create(api)
    response = visibility(api_for(owner, scopes=["workflows:read"]), created["id"], "view")
    assert response.status_code == 403 and response.json()["code"] == "forbidden"
    assert link_permission(created["id"]) == "private"


def test_the_browser_session_needs_the_csrf_token(api: ApiClient, owner: User) -> None:
    created = create(api)
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(owner)
    response = browser.post(f"/api/v1/workflows/{created['id']}/visibility",
                            {"visibility": "view"}, content_type="application/json")
    assert response.status_code == 403 and response.json()["code"] == "csrf_failed"
    assert link_permission(created["id"]) == "private"
    signed = Client()
    signed.force_login(owner)
    response = signed.post(f"/api/v1/workflows/{created['id']}/visibility",
                           {"visibility": "view"}, content_type="application/json")
    assert response.status_code == 200 and link_permission(created["id"]) == "view"


def test_without_a_key_it_is_401(api: ApiClient) -> None:
    created = create(api)
    response = visibility(ApiClient(None), created["id"], "view")
    assert response.status_code == 401
    assert link_permission(created["id"]) == "private"

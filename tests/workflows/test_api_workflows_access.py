"""Who may use the workflows endpoints: stranger, teammate, viewer, the browser session; and
the OpenAPI document that describes them."""

import re
from collections.abc import Callable
from typing import Any

import pytest
from django.conf import settings
from django.test import Client

from accounts.models import User
from tests.conftest import ApiClient
from tests.workflows.test_api_workflows import (
    WORKFLOW_KEYS,
    assert_error,
    body,
    create,
    seed_graph,
)
from workflows.models import Workflow

pytestmark = pytest.mark.django_db



# --- Who may do what ------------------------------------------------------------------------

STRANGER_CALLS = [
    ("GET", "/workflows/{id}", None),
    ("PUT", "/workflows/{id}", body()),
    ("DELETE", "/workflows/{id}", None),
    ("POST", "/workflows/{id}/duplicate", None),
]


@pytest.mark.parametrize(("method", "path", "payload"), STRANGER_CALLS)
def test_a_stranger_gets_404_workflow_not_found(api: ApiClient,
                                                api_for: Callable[..., ApiClient],
                                                stranger: User, method: str, path: str,
                                                payload: Any) -> None:
    created = create(api)
    response = api_for(stranger).request(method, path.format(id=created["id"]), payload)
    assert_error(response, 404, "Workflow not found", "not_found")
    assert api.get(f"/workflows/{created['id']}").json() == created
    assert Workflow.objects.count() == 1


def test_a_stranger_in_the_browser_gets_404_too(api: ApiClient, stranger: User) -> None:
    created = create(api)
    browser = Client()
    browser.force_login(stranger)
    response = browser.get(f"/api/v1/workflows/{created['id']}")
    assert_error(response, 404, "Workflow not found", "not_found")


def test_a_teammate_can_read_update_duplicate_and_delete(api: ApiClient,
                                                         api_for: Callable[..., ApiClient],
                                                         teammate: User) -> None:
    created = create(api)
    mate = api_for(teammate)
    assert mate.get(f"/workflows/{created['id']}").json()["id"] == created["id"]
    assert [w["id"] for w in mate.get("/workflows").json()] == [created["id"]]
    assert mate.put(f"/workflows/{created['id']}", body(name="By mate")).status_code == 200
    assert mate.post(f"/workflows/{created['id']}/duplicate").status_code == 201
    assert mate.delete(f"/workflows/{created['id']}").status_code == 204


VIEWER_WRITES = [
    ("POST", "/workflows", body()),
    ("PUT", "/workflows/{id}", body(name="Viewer edit")),
    ("DELETE", "/workflows/{id}", None),
    ("POST", "/workflows/{id}/duplicate", None),
]


@pytest.mark.parametrize(("method", "path", "payload"), VIEWER_WRITES)
def test_a_viewer_cannot_modify_workflows(api: ApiClient, api_for: Callable[..., ApiClient],
                                          viewer: User, method: str, path: str,
                                          payload: Any) -> None:
    created = create(api)
    response = api_for(viewer).request(method, path.format(id=created["id"]), payload)
    assert_error(response, 403, "Your role in this team cannot do this", "forbidden_role")
    assert api.get(f"/workflows/{created['id']}").json() == created
    assert Workflow.objects.count() == 1


def test_a_viewer_can_read_and_lint(api: ApiClient, api_for: Callable[..., ApiClient],
                                    viewer: User) -> None:
    created = create(api)
    client = api_for(viewer)
    assert client.get(f"/workflows/{created['id']}").status_code == 200
    assert len(client.get("/workflows").json()) == 1
    assert client.post("/workflows/lint", seed_graph()).status_code == 200


# --- The browser session --------------------------------------------------------------------

def test_a_logged_in_browser_can_read_the_api(api: ApiClient, owner: User) -> None:
    created = create(api)
    browser = Client()
    browser.force_login(owner)
    assert browser.get("/api/v1/workflows").json()[0]["id"] == created["id"]


def test_a_browser_post_without_a_csrf_token_is_403_csrf_failed(owner: User) -> None:
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(owner)
    response = browser.post("/api/v1/workflows", body(), content_type="application/json")
    assert response.status_code == 403
    assert response.json()["code"] == "csrf_failed"
    assert Workflow.objects.count() == 0


def test_a_browser_post_with_the_csrf_token_is_accepted(owner: User) -> None:
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(owner)
    token = "a" * 32
    browser.cookies[settings.CSRF_COOKIE_NAME] = token
    response = browser.post("/api/v1/workflows", body(), content_type="application/json",
                            headers={"X-CSRFToken": token})
    assert response.status_code == 201


# --- The OpenAPI document -------------------------------------------------------------------

def test_the_openapi_document_declares_every_status_the_endpoints_answer() -> None:
    doc = Client().get("/api/v1/openapi.json").json()
    paths = doc["paths"]
    item = paths["/api/v1/workflows/{workflow_id}"]
    assert {"200", "400", "401", "403", "404", "409", "422"} <= set(item["put"]["responses"])
    assert {"204", "404"} <= set(item["delete"]["responses"])
    assert {"201", "422", "400"} <= set(paths["/api/v1/workflows"]["post"]["responses"])
    assert "201" in paths["/api/v1/workflows/{workflow_id}/duplicate"]["post"]["responses"]
    assert "200" in paths["/api/v1/workflows/lint"]["post"]["responses"]
    schemas = doc["components"]["schemas"]
    assert set(schemas["WorkflowOut"]["properties"]) == WORKFLOW_KEYS


def test_the_interactive_docs_are_served() -> None:
    assert Client().get("/api/v1/docs").status_code == 200


def test_the_interactive_docs_load_nothing_from_another_host() -> None:
    """Every script and style sheet of the docs page is the site's own (django-ninja's static
    files), none from a CDN."""
    html = Client().get("/api/v1/docs").content.decode()
    sources = re.findall(r'(?:src|href)="([^"]*)"', html)
    assert any(source.endswith("swagger-ui-bundle.js") for source in sources), sources
    assert [source for source in sources if not source.startswith("/")] == []


def test_the_openapi_document_declares_the_bearer_key_on_every_operation() -> None:
    """So that generated clients send the key, and the docs page offers "Authorize" for it."""
    doc = Client().get("/api/v1/openapi.json").json()
    scheme = doc["components"]["securitySchemes"]["ApiAuth"]
    assert (scheme["type"], scheme["scheme"]) == ("http", "bearer")
    operations = [(path, method, operation) for path, item in doc["paths"].items()
                  for method, operation in item.items()]
    assert len(operations) > 50
    assert [(path, method) for path, method, operation in operations
            if operation.get("security") != [{"ApiAuth": []}]] == []

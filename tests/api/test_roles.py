"""docs/api.md "Roles" on the endpoints that start and stop executions, through the full API:
execute, run and cancel need a role other than viewer (403 forbidden_role), a graph override in
execute's body is a write (a key needs workflows:write too), estimate only reads, and another
team's workflow or execution stays 404, never 403."""

from collections.abc import Callable
from typing import Any

import pytest

from accounts.models import Membership, Role, User
from accounts.scopes import (
    ALL_SCOPES,
    EXECUTIONS_READ,
    USAGE_READ,
    WORKFLOWS_EXECUTE,
    WORKFLOWS_READ,
    WORKFLOWS_WRITE,
)
from accounts.services import team_create_and_switch, user_switch_team
from executions.models import Execution
from tests.api.test_executions_api import create, start, text_to_result
from tests.conftest import ApiClient

pytestmark = pytest.mark.django_db

FORBIDDEN_ROLE = {"error": "Your role in this team cannot do this", "code": "forbidden_role"}


@pytest.fixture(autouse=True)
def _no_rate_limits(settings: Any) -> None:
    settings.RATE_LIMITS_ENABLED = False



def browser(user: User) -> ApiClient:
    """A logged-in browser session speaking JSON to /api/v1 (no key)."""
    client = ApiClient(None)
    client.client.force_login(user)
    return client


@pytest.fixture
def workflow_id(api: ApiClient) -> str:
    return create(api, text_to_result())


@pytest.fixture
def execution_id(api: ApiClient, workflow_id: str) -> str:
    """The owner's run, still RUNNING (no worker here): the one others try to cancel."""
    return start(api, workflow_id)


def _override() -> dict[str, Any]:
    nodes, edges = text_to_result()
    nodes[0]["data"]["params"]["text"] = "not what was saved"
    return {"nodes": nodes, "edges": edges}


# Every call that starts or stops an execution: (method, path, body, success status, the scopes
# a key needs, in the order they are checked).
CALLS: dict[str, tuple[str, str, Any, int, list[str]]] = {
    "execute": ("POST", "/workflows/{workflow}/execute", {}, 201, [WORKFLOWS_EXECUTE]),
    "execute a graph override": ("POST", "/workflows/{workflow}/execute", _override(), 201,
                                 [WORKFLOWS_EXECUTE, WORKFLOWS_WRITE]),
    "execute an edges-only override": ("POST", "/workflows/{workflow}/execute",
                                       {"edges": text_to_result()[1]}, 201,
                                       [WORKFLOWS_EXECUTE, WORKFLOWS_WRITE]),
    "run": ("POST", "/workflows/{workflow}/run", {"inputs": {}}, 202, [WORKFLOWS_EXECUTE]),
    "cancel": ("POST", "/workflows/executions/{execution}/cancel", None, 202,
               [WORKFLOWS_EXECUTE]),
}


def _call(client: ApiClient, name: str, workflow_id: str, execution_id: str) -> Any:
    method, path, body, _, _ = CALLS[name]
    return client.request(method, path.format(workflow=workflow_id, execution=execution_id),
                          body)


def _assert_nothing_changed(execution_id: str) -> None:
    assert list(Execution.objects.values_list("pk", flat=True)) == [
        Execution.objects.get(pk=execution_id).pk]
    assert Execution.objects.get(pk=execution_id).cancel_requested is False


# --- Viewers ----------------------------------------------------------------------------------

@pytest.mark.parametrize("name", CALLS)
@pytest.mark.parametrize("how", ["browser session", "API key with every scope"])
def test_a_viewer_can_neither_start_nor_stop_an_execution(
        viewer: User, api_for: Callable[..., ApiClient], workflow_id: str, execution_id: str,
        name: str, how: str) -> None:
    client = browser(viewer) if how == "browser session" else api_for(viewer)
    response = _call(client, name, workflow_id, execution_id)
    assert response.status_code == 403, response.content
    assert response.json() == FORBIDDEN_ROLE
    _assert_nothing_changed(execution_id)


@pytest.mark.parametrize("how", ["browser session", "API key with every scope"])
def test_a_viewer_may_still_read_runs_and_estimate(
        viewer: User, api_for: Callable[..., ApiClient], workflow_id: str, execution_id: str,
        how: str) -> None:
    client = browser(viewer) if how == "browser session" else api_for(viewer)
    reads = [client.get(f"/workflows/executions/{execution_id}/poll"),
             client.get(f"/workflows/executions/{execution_id}"),
             client.get(f"/workflows/{workflow_id}/executions"),
             client.get(f"/workflows/{workflow_id}/run"),
             client.post(f"/workflows/{workflow_id}/estimate", {}),
             client.post(f"/workflows/{workflow_id}/estimate", _override())]
    assert [r.status_code for r in reads] == [200] * len(reads)
    _assert_nothing_changed(execution_id)


def test_a_read_only_key_may_estimate_a_graph_override(
        api_for: Callable[..., ApiClient], owner: User, workflow_id: str) -> None:
    reader = api_for(owner, [WORKFLOWS_READ])
    assert reader.post(f"/workflows/{workflow_id}/estimate", _override()).status_code == 200


# --- Editors and keys -------------------------------------------------------------------------

@pytest.mark.parametrize("name", CALLS)
@pytest.mark.parametrize("how", ["browser session", "API key with every scope"])
def test_an_editor_may_start_and_stop_executions_of_the_team(
        teammate: User, api_for: Callable[..., ApiClient], workflow_id: str, execution_id: str,
        name: str, how: str) -> None:
    client = browser(teammate) if how == "browser session" else api_for(teammate)
    response = _call(client, name, workflow_id, execution_id)
    assert response.status_code == CALLS[name][3], response.content


SCOPE_SETS = [[scope] for scope in ALL_SCOPES] + [
    [WORKFLOWS_EXECUTE, EXECUTIONS_READ], [WORKFLOWS_EXECUTE, WORKFLOWS_WRITE],
    [WORKFLOWS_READ, WORKFLOWS_WRITE, EXECUTIONS_READ, USAGE_READ], ALL_SCOPES]


@pytest.mark.parametrize("name", CALLS)
@pytest.mark.parametrize("scopes", SCOPE_SETS, ids=lambda scopes: "+".join(scopes))
def test_a_key_does_only_what_its_scopes_allow(
        api_for: Callable[..., ApiClient], owner: User, workflow_id: str, execution_id: str,
        name: str, scopes: list[str]) -> None:
    response = _call(api_for(owner, scopes), name, workflow_id, execution_id)
    missing = [scope for scope in CALLS[name][4] if scope not in scopes]
    if not missing:
        assert response.status_code == CALLS[name][3], response.content
        return
    assert response.status_code == 403, response.content
    assert response.json() == {"error": f"Forbidden: missing scope {missing[0]}",
                               "code": "forbidden"}
    _assert_nothing_changed(execution_id)


# --- The role that counts is the one in the object's team ---------------------------------------

@pytest.mark.parametrize("name", CALLS)
def test_a_session_acts_with_its_role_in_the_workflows_team_not_its_current_team(
        viewer: User, workflow_id: str, execution_id: str, name: str) -> None:
    team_create_and_switch(user=viewer, name="Where I am the owner")
    response = _call(browser(viewer), name, workflow_id, execution_id)
    assert response.status_code == 403, response.content
    assert response.json() == FORBIDDEN_ROLE
    _assert_nothing_changed(execution_id)


def test_an_editor_may_execute_while_a_viewer_in_the_current_team(
        teammate: User, make_user: Callable[..., User], workflow_id: str) -> None:
    elsewhere = make_user("elsewhere@example.com")
    assert elsewhere.current_team is not None
    Membership.objects.create(team=elsewhere.current_team, user=teammate, role=Role.VIEWER)
    user_switch_team(teammate, elsewhere.current_team)
    response = browser(teammate).post(f"/workflows/{workflow_id}/execute", {})
    assert response.status_code == 201, response.content


@pytest.mark.parametrize("name", CALLS)
@pytest.mark.parametrize("how", ["browser session", "API key with every scope"])
def test_another_teams_viewer_gets_404_not_403(
        make_user: Callable[..., User], api_for: Callable[..., ApiClient], workflow_id: str,
        execution_id: str, name: str, how: str) -> None:
    outsider = make_user("outsider@example.com")
    assert outsider.current_team is not None
    Membership.objects.filter(team=outsider.current_team, user=outsider).update(
        role=Role.VIEWER)
    client = browser(outsider) if how == "browser session" else api_for(outsider)
    response = _call(client, name, workflow_id, execution_id)
    assert response.status_code == 404, response.content
    assert response.json()["error"] in {"Workflow not found", "Execution not found"}
    _assert_nothing_changed(execution_id)

"""Run with inputs (docs/api.md): GET /workflows/{id}/run describes the inputs, POST runs with
them."""

from collections.abc import Callable
from typing import Any

import pytest

from accounts.models import Membership, Role, Team, User
from accounts.scopes import WORKFLOWS_READ
from executions.models import Execution
from tests.builders import node
from tests.conftest import ApiClient

from .run_helpers import create_workflow, error_of, inputs_graph

pytestmark = pytest.mark.django_db
MISSING_ID = "00000000-0000-4000-8000-000000000000"


@pytest.fixture(autouse=True)
def _no_rate_limits(settings: Any) -> None:
    settings.RATE_LIMITS_ENABLED = False


@pytest.fixture
def workflow(api: ApiClient) -> dict[str, Any]:
    return create_workflow(api, inputs_graph(), name="Fox inputs")


def run(client: ApiClient, workflow_id: str, inputs: dict[str, Any] | None = None,
        **kw: Any) -> Any:
    return client.post(f"/workflows/{workflow_id}/run", {"inputs": inputs or {}}, **kw)


# --- GET: the description -------------------------------------------------------------------

def test_get_describes_each_input_node_with_its_type_default_and_options(
        api: ApiClient, workflow: dict[str, Any], settings: Any) -> None:
    described = api.get(f"/workflows/{workflow['id']}/run")
    assert described.status_code == 200
    assert described.json() == {
        "workflowId": workflow["id"], "workflowName": "Fox inputs",
        "inputs": [
            {"nodeId": "prompt", "label": "Prompt", "type": "text", "required": False,
             "default": "a red fox"},
            {"nodeId": "style", "label": "Style", "type": "select", "required": True,
             "options": ["photo", "sketch"]},
            {"nodeId": "count", "label": "Count", "type": "number", "required": False,
             "default": 0},
            {"nodeId": "photo", "label": "Photo", "type": "image", "required": False},
        ],
        "endpoint": f"{settings.SITE_URL}/api/v1/workflows/{workflow['id']}/run",
        "method": "POST",
        "example": {"inputs": {"Prompt": "a red fox", "Style": "photo", "Count": 0,
                               "Photo": "https://example.com/image.png"}},
    }


def test_video_and_audio_inputs_are_urls_and_ambiguous_labels_use_node_ids(
        api: ApiClient) -> None:
    nodes = [node("v", "input:video", "Clip"), node("a", "input:audio", "Clip", x=100),
             node("r", "output:result", "Result", x=400)]
    edges = [{"id": f"e{n}", "source": n, "target": "r", "sourceHandle": f"out-{port}",
              "targetHandle": "in-value"} for n, port in [("v", "video"), ("a", "audio")]]
    workflow = create_workflow(api, {"nodes": nodes, "edges": edges})
    described = api.get(f"/workflows/{workflow['id']}/run").json()
    assert [(i["nodeId"], i["type"]) for i in described["inputs"]] == [("v", "url"),
                                                                       ("a", "url")]
    assert set(described["example"]["inputs"]) == {"v", "a"}


def test_the_example_body_runs(api: ApiClient, workflow: dict[str, Any]) -> None:
    example = api.get(f"/workflows/{workflow['id']}/run").json()["example"]
    assert api.post(f"/workflows/{workflow['id']}/run", example).status_code == 202


# --- POST: a run ----------------------------------------------------------------------------

def test_post_starts_a_run_and_answers_202(api: ApiClient, workflow: dict[str, Any],
                                           owner: User) -> None:
    response = run(api, workflow["id"], {"style": "sketch", "prompt": "a grey wolf"})
    assert response.status_code == 202
    execution = Execution.objects.get()
    assert response.json() == {"executionId": str(execution.pk), "status": "RUNNING"}
    assert response["Location"] == f"/api/v1/workflows/executions/{execution.pk}/poll"
    assert execution.inputs == {"style": "sketch", "prompt": "a grey wolf"}
    assert (execution.trigger, execution.created_by) == ("api", owner)


def test_inputs_may_be_named_by_label_in_any_case(api: ApiClient,
                                                  workflow: dict[str, Any]) -> None:
    assert run(api, workflow["id"], {"STYLE": "photo", "count": 3}).status_code == 202
    assert Execution.objects.get().inputs == {"style": "photo", "count": 3}


def test_a_missing_required_input_is_400_naming_it(api: ApiClient,
                                                   workflow: dict[str, Any]) -> None:
    response = run(api, workflow["id"], {"Prompt": "a fox"})
    assert error_of(response) == (400, "invalid_request")
    assert "Style" in response.json()["error"]
    assert response.json()["fields"] == ["inputs.style"]
    assert run(api, workflow["id"], {"Style": ""}).status_code == 400
    assert Execution.objects.count() == 0


def test_a_required_input_with_a_value_of_its_own_may_be_left_out(api: ApiClient) -> None:
    graph = inputs_graph()
    graph["nodes"][1]["data"]["params"]["value"] = "photo"
    workflow = create_workflow(api, graph)
    assert run(api, workflow["id"]).status_code == 202


def test_an_empty_body_is_a_run_without_inputs(api: ApiClient) -> None:
    workflow = create_workflow(api)
    url = f"/api/v1/workflows/{workflow['id']}/run"
    no_body = api.client.generic("POST", url, headers=api._headers(None))  # curl -X POST
    assert no_body.status_code == 202, no_body.content
    assert api.post(f"/workflows/{workflow['id']}/run", raw="").status_code == 202


@pytest.mark.parametrize("body", [{"inputs": {"Nope": 1}}, {"inputs": {"Count": "many"}},
                                  {"inputs": []}, [1, 2]])
def test_bad_inputs_are_400(api: ApiClient, workflow: dict[str, Any], body: Any) -> None:
    response = api.post(f"/workflows/{workflow['id']}/run", body)
    assert error_of(response) == (400, "invalid_request")
    assert Execution.objects.count() == 0


def test_an_inactive_workflow_is_409(api: ApiClient) -> None:
    workflow = create_workflow(api, isActive=False)
    assert error_of(run(api, workflow["id"])) == (409, "workflow_inactive")


def test_the_same_idempotency_key_runs_once(api: ApiClient, workflow: dict[str, Any]) -> None:
    key = {"Idempotency-Key": "run-1"}
    first = run(api, workflow["id"], {"Style": "photo"}, headers=key)
    again = run(api, workflow["id"], {"Style": "photo"}, headers=key)
    assert (first.status_code, again.status_code) == (202, 202)
    assert again.json() == first.json()
    assert again["Idempotent-Replayed"] == "true"
    assert Execution.objects.count() == 1


# --- Who may -------------------------------------------------------------------------------

def test_a_teammate_may_run_it(api_for: Callable[..., ApiClient], teammate: User,
                               workflow: dict[str, Any]) -> None:
    assert run(api_for(teammate), workflow["id"], {"Style": "photo"}).status_code == 202


def test_a_stranger_gets_404_for_both(api_for: Callable[..., ApiClient], stranger: User,
                                      workflow: dict[str, Any]) -> None:
    client = api_for(stranger)
    for response in (client.get(f"/workflows/{workflow['id']}/run"),
                     run(client, workflow["id"], {"Style": "photo"}),
                     client.get(f"/workflows/{MISSING_ID}/run"),
                     client.get("/workflows/not-a-uuid/run")):
        assert response.status_code == 404
        assert response.json() == {"error": "Workflow not found", "code": "not_found"}
    assert Execution.objects.count() == 0


def test_a_key_without_the_execute_scope_is_403(api_for: Callable[..., ApiClient], owner: User,
                                                workflow: dict[str, Any]) -> None:
    reader = api_for(owner, scopes=[WORKFLOWS_READ])
    assert error_of(reader.get(f"/workflows/{workflow['id']}/run")) == (403, "forbidden")
    assert error_of(run(reader, workflow["id"], {"Style": "x"})) == (403, "forbidden")


def test_a_viewer_may_not_run_it(api_for: Callable[..., ApiClient], make_user: Any,
                                 team: Team, workflow: dict[str, Any]) -> None:
    viewer = make_user("viewer@example.com")
    Membership.objects.create(team=team, user=viewer, role=Role.VIEWER)
    viewer.current_team = team
    viewer.save(update_fields=["current_team"])
    refused = run(api_for(viewer), workflow["id"], {"Style": "photo"})
    assert error_of(refused) == (403, "forbidden_role")
    assert not Execution.objects.exists()


def test_without_authorization_it_is_401(workflow: dict[str, Any]) -> None:
    response = ApiClient(None).post(f"/workflows/{workflow['id']}/run", {})
    assert error_of(response) == (401, "missing_authorization")

"""docs/api.md "The hosted API's newer endpoints", through the full API: duplicate with a name and
both response generations, PATCH of one node (merge, replace, refuse structural fields, 404,
422, 409 with both times, a new version), PUT refusing linkPermission, and execute's `force`
(persisted, and honoured by the engine: no cached result is reused)."""

from collections.abc import Callable
from typing import Any

import pytest

from accounts.models import User
from accounts.scopes import WORKFLOWS_READ
from executions.models import Execution
from executions.simulators.state import simulator_stats
from tests.builders import edge, node
from tests.conftest import ApiClient
from tests.engine.helpers import create_workflow, execute, states, wait_for
from tests.workflows.test_api_workflows import assert_error, body, create
from workflows import secretbox
from workflows.models import Workflow, WorkflowVersion
from workflows.node_secrets import PLACEHOLDER

pytestmark = pytest.mark.django_db

FORBIDDEN_ROLE = ("Your role in this team cannot do this", "forbidden_role")


def patch(client: ApiClient, workflow_id: str, node_id: str, payload: Any = None,
          raw: str | None = None) -> Any:
    return client.request("PATCH", f"/workflows/{workflow_id}/nodes/{node_id}", payload,
                          raw=raw)


def stored_node(workflow_id: str, node_id: str) -> dict[str, Any]:
    nodes = Workflow.objects.get(pk=workflow_id).nodes
    return next(n for n in nodes if n["id"] == node_id)


def versions_of(workflow_id: str) -> int:
    return WorkflowVersion.objects.filter(workflow_id=workflow_id).count()


# --- POST /workflows/{id}/duplicate {name?} -------------------------------------------------

def test_duplicate_with_a_name_gives_the_copy_that_name_in_both_shapes(api: ApiClient) -> None:
    original = create(api)

    response = api.post(f"/workflows/{original['id']}/duplicate", {"name": "  My copy "})

    assert response.status_code == 201, response.content
    payload = response.json()
    expected = {"id": payload["id"], "name": "My copy",
                "url": f"/workflows/{payload['id']}/edit"}
    assert payload == {**expected, "data": expected}
    copied = api.get(f"/workflows/{payload['id']}").json()
    assert (copied["name"], copied["nodes"]) == ("My copy", original["nodes"])


@pytest.mark.parametrize("how", ["no body at all", "an empty form", "{}", "a null name"])
def test_duplicate_without_a_name_adds_the_copy_suffix(api: ApiClient, how: str) -> None:
    original = create(api)
    path = f"/workflows/{original['id']}/duplicate"
    response = {
        "no body at all": lambda: api.post(path, raw=""),
        "an empty form": lambda: api.post(path),  # the test client's bare POST: multipart
        "{}": lambda: api.post(path, {}),
        "a null name": lambda: api.post(path, {"name": None}),
    }[how]()
    assert response.status_code == 201, response.content
    assert response.json()["data"]["name"] == "Fox pipeline (copy)"


@pytest.mark.parametrize("name", ["", "   ", "n" * 201, 5, ["x"], "a\x00b"])
def test_duplicate_with_a_name_that_is_no_workflow_name_is_400(api: ApiClient,
                                                                name: Any) -> None:
    original = create(api)
    response = api.post(f"/workflows/{original['id']}/duplicate", {"name": name})
    assert response.status_code == 400, response.content
    assert response.json()["code"] == "invalid_request"
    assert response.json()["fields"] == ["name"]
    assert Workflow.objects.count() == 1


@pytest.mark.parametrize("raw", ["{not json", "[1, 2]", '"a name"'])
def test_duplicate_with_a_body_that_is_not_an_object_is_400(api: ApiClient, raw: str) -> None:
    original = create(api)
    response = api.post(f"/workflows/{original['id']}/duplicate", raw=raw)
    assert response.status_code == 400, response.content
    assert response.json()["code"] in {"invalid_json", "invalid_request"}
    assert Workflow.objects.count() == 1


def test_a_viewer_may_not_duplicate_and_another_team_gets_404(
        api: ApiClient, api_for: Callable[..., ApiClient], viewer: User,
        stranger: User) -> None:
    original = create(api)
    path = f"/workflows/{original['id']}/duplicate"
    assert_error(api_for(viewer).post(path, {"name": "Mine"}), 403, *FORBIDDEN_ROLE)
    assert_error(api_for(stranger).post(path, {"name": "Mine"}), 404, "Workflow not found",
                 "not_found")
    assert Workflow.objects.count() == 1


# --- PATCH /workflows/{id}/nodes/{nodeId} ---------------------------------------------------

def test_patch_merges_params_replaces_label_and_position_and_answers_the_node(
        api: ApiClient) -> None:
    created = create(api)

    response = patch(api, created["id"], "node-3", {
        "params": {"scale_factor": 4, "extra_hint": "kept"}, "label": "Big upscale",
        "position": {"x": 5, "y": -7.5}})

    assert response.status_code == 200, response.content
    answer = response.json()
    assert set(answer) == {"data"} and set(answer["data"]) == {"node", "updatedAt"}
    saved = api.get(f"/workflows/{created['id']}").json()
    node_3 = next(n for n in saved["nodes"] if n["id"] == "node-3")
    assert answer["data"] == {"node": node_3, "updatedAt": saved["updatedAt"]}
    assert node_3["data"]["params"] == {"scale_factor": 4, "extra_hint": "kept"}
    assert node_3["data"]["label"] == "Big upscale"
    assert node_3["position"] == {"x": 5, "y": -7.5}
    # The rest of the node, and every other node, is as it was.
    assert node_3["data"]["notes"] == {"why": "print size"}
    assert node_3["data"]["nodeType"] == "upscale:crystal_upscaler"
    assert [n for n in saved["nodes"] if n["id"] != "node-3"] == [
        n for n in created["nodes"] if n["id"] != "node-3"]
    assert saved["edges"] == created["edges"]
    assert saved["updatedAt"] > created["updatedAt"]


def test_patch_records_a_new_version_like_a_save(api: ApiClient) -> None:
    created = create(api)
    response = patch(api, created["id"], "node-1", {"params": {"text": "a grey wolf"}})
    assert response.status_code == 200, response.content
    saved = api.get(f"/workflows/{created['id']}").json()
    assert saved["version"] == created["version"] + 1
    latest = WorkflowVersion.objects.get(workflow_id=created["id"], version=saved["version"])
    [patched] = [n for n in latest.nodes if n["id"] == "node-1"]
    assert patched["data"]["params"]["text"] == "a grey wolf"
    assert versions_of(created["id"]) == 2


def test_a_patch_that_changes_nothing_keeps_the_version_as_put_does(api: ApiClient) -> None:
    created = create(api)
    response = patch(api, created["id"], "node-1", {"label": "Prompt"})
    assert response.status_code == 200, response.content
    assert api.get(f"/workflows/{created['id']}").json()["version"] == created["version"]
    assert versions_of(created["id"]) == 1


def test_a_param_set_to_null_is_removed_and_config_is_merged_like_params(
        api: ApiClient) -> None:
    created = create(api)

    first = patch(api, created["id"], "node-3", {"config": {"seed_hint": 7}})
    second = patch(api, created["id"], "node-3", {"config": {"scale_factor": None},
                                                  "params": {"seed_hint": None, "mode": "x"}})

    assert first.status_code == 200, first.content
    assert first.json()["data"]["node"]["data"]["params"] == {"scale_factor": 2,
                                                              "seed_hint": 7}
    assert second.status_code == 200, second.content
    assert stored_node(created["id"], "node-3")["data"]["params"] == {"mode": "x"}
    assert "config" not in stored_node(created["id"], "node-3")["data"]


@pytest.mark.parametrize("field", ["output", "result", "nodeType", "isExecuting", "id", "type",
                                   "data", "inputs", "edges", "anythingElse"])
def test_a_structural_field_is_400_invalid_field_naming_it(api: ApiClient, field: str) -> None:
    created = create(api)
    response = patch(api, created["id"], "node-3", {"label": "Fine", field: "x"})
    assert response.status_code == 400, response.content
    assert set(response.json()) == {"error", "code"}
    assert response.json()["code"] == "invalid_field"
    assert field in response.json()["error"]
    assert api.get(f"/workflows/{created['id']}").json() == created


@pytest.mark.parametrize("where", ["config", "params"])
@pytest.mark.parametrize("key", ["output", "result", "nodeType", "isExecuting"])
def test_a_structural_key_inside_config_or_params_is_400_invalid_field(
        api: ApiClient, where: str, key: str) -> None:
    created = create(api)
    response = patch(api, created["id"], "node-3", {where: {"scale_factor": 3, key: "x"}})
    assert response.status_code == 400, response.content
    assert response.json()["code"] == "invalid_field"
    assert f"{where}.{key}" in response.json()["error"]
    assert api.get(f"/workflows/{created['id']}").json() == created


@pytest.mark.parametrize("payload", [{}, {"baseUpdatedAt": "2026-01-01T00:00:00.000Z"},
                                     {"config": None, "params": None}])
def test_a_patch_without_any_change_is_400_naming_the_four_fields(api: ApiClient,
                                                                  payload: Any) -> None:
    created = create(api)
    response = patch(api, created["id"], "node-3", payload)
    assert response.status_code == 400, response.content
    assert response.json()["code"] == "invalid_request"
    assert response.json()["fields"] == ["config", "params", "label", "position"]


@pytest.mark.parametrize(("payload", "field"), [
    ({"params": ["scale_factor", 4]}, "params"),
    ({"config": "scale_factor=4"}, "config"),
    ({"label": 5}, "label"),
    ({"label": "x" * 201}, "label"),
    ({"label": "nul\x00"}, "label"),
    ({"position": {"x": "left", "y": 0}}, "position.x"),
    ({"position": {"x": 1}}, "position.y"),
    ({"position": {"x": 1, "y": 2, "z": 3}}, "position.z"),
    ({"position": {"x": True, "y": 2}}, "position.x"),
    ({"position": [1, 2]}, "position"),
    ({"params": {"text": "nul\x00"}}, "params"),
    ({"label": "x", "baseUpdatedAt": "yesterday"}, "baseUpdatedAt"),
])
def test_a_change_of_the_wrong_shape_is_400_naming_the_field(api: ApiClient, payload: Any,
                                                             field: str) -> None:
    created = create(api)
    response = patch(api, created["id"], "node-3", payload)
    assert response.status_code == 400, response.content
    assert response.json()["code"] == "invalid_request"
    assert field in response.json()["fields"]
    assert api.get(f"/workflows/{created['id']}").json() == created


@pytest.mark.parametrize("raw", ["[1]", '"label"', "{not json", "null"])
def test_a_body_that_is_not_an_object_is_400(api: ApiClient, raw: str) -> None:
    created = create(api)
    response = patch(api, created["id"], "node-3", raw=raw)
    assert response.status_code == 400, response.content
    assert response.json()["code"] in {"invalid_json", "invalid_request"}


def test_a_body_over_the_json_limit_is_413(api: ApiClient) -> None:
    created = create(api)
    response = patch(api, created["id"], "node-1", {"params": {"text": "x" * 300_000}})
    assert_error(response, 413, "Request body too large", "payload_too_large")
    assert api.get(f"/workflows/{created['id']}").json() == created


def test_an_unknown_node_is_404_node_not_found(api: ApiClient) -> None:
    created = create(api)
    response = patch(api, created["id"], "node-404", {"label": "Ghost"})
    assert response.status_code == 404
    assert response.json()["error"] == "Node not found"
    assert api.get(f"/workflows/{created['id']}").json() == created


def test_a_patch_that_breaks_the_graph_is_422_and_changes_nothing(api: ApiClient) -> None:
    created = create(api)
    response = patch(api, created["id"], "node-3", {"params": {"scale_factor": 999}})
    payload = assert_error(response, 422, "Invalid workflow graph", "invalid_graph")
    assert [(v["rule"], v.get("nodeId")) for v in payload["violations"]] == [
        ("invalid_params", "node-3")]
    assert api.get(f"/workflows/{created['id']}").json() == created
    assert versions_of(created["id"]) == 1


def test_a_stale_base_updated_at_is_409_with_both_times(api: ApiClient) -> None:
    created = create(api)
    moved = patch(api, created["id"], "node-1", {"label": "First",
                                                  "baseUpdatedAt": created["updatedAt"]})
    assert moved.status_code == 200, moved.content

    response = patch(api, created["id"], "node-1", {"label": "Second",
                                                     "baseUpdatedAt": created["updatedAt"]})

    payload = assert_error(response, 409, "Workflow was modified since baseUpdatedAt",
                           "stale_write")
    assert payload["currentUpdatedAt"] == moved.json()["data"]["updatedAt"]
    assert payload["yourBaseUpdatedAt"] == created["updatedAt"]
    assert stored_node(created["id"], "node-1")["data"]["label"] == "First"


def test_puts_409_carries_your_base_updated_at_too(api: ApiClient) -> None:
    created = create(api)
    first = api.put(f"/workflows/{created['id']}", body(baseUpdatedAt=created["updatedAt"]))
    assert first.status_code == 200
    response = api.put(f"/workflows/{created['id']}",
                       body(name="Late", baseUpdatedAt=created["updatedAt"]))
    payload = assert_error(response, 409, "Workflow was modified since baseUpdatedAt",
                           "stale_write")
    assert payload["yourBaseUpdatedAt"] == created["updatedAt"]
    assert payload["currentUpdatedAt"] == first.json()["updatedAt"]


def test_patching_a_node_keeps_a_sealed_secret_and_never_shows_it(api: ApiClient) -> None:
    secret = "whsec-node-0123456789-abcdef"
    nodes = [node("t", "input:text", "Prompt", text="a red fox"),
             node("hook", "output:webhook", "Hook", url="https://receiver.example.com/hook",
                  secret=secret)]
    workflow_id = create_workflow(api, nodes, [edge("t", "text", "hook", "value")])
    sealed = stored_node(workflow_id, "hook")["data"]["params"]["secret"]

    response = patch(api, workflow_id, "hook", {"label": "Deliver"})

    assert response.status_code == 200, response.content
    assert secret not in response.content.decode()
    assert response.json()["data"]["node"]["data"]["params"]["secret"] == PLACEHOLDER
    assert stored_node(workflow_id, "hook")["data"]["params"]["secret"] == sealed
    # A new secret is sealed; null removes it.
    assert patch(api, workflow_id, "hook", {"params": {"secret": "whsec-another-0123456789"}}
                 ).status_code == 200
    resealed = stored_node(workflow_id, "hook")["data"]["params"]["secret"]
    assert secretbox.reveal_param(resealed) == "whsec-another-0123456789"
    assert patch(api, workflow_id, "hook", {"params": {"secret": None}}).status_code == 200
    assert not stored_node(workflow_id, "hook")["data"]["params"].get("secret")


def test_who_may_patch_a_node(api: ApiClient, api_for: Callable[..., ApiClient], owner: User,
                              teammate: User, viewer: User, stranger: User) -> None:
    created = create(api)
    change = {"label": "Renamed"}
    assert_error(patch(api_for(viewer), created["id"], "node-1", change), 403, *FORBIDDEN_ROLE)
    assert_error(patch(api_for(stranger), created["id"], "node-1", change), 404,
                 "Workflow not found", "not_found")
    assert_error(patch(api_for(owner, [WORKFLOWS_READ]), created["id"], "node-1", change), 403,
                 "Forbidden: missing scope workflows:write", "forbidden")
    assert api.get(f"/workflows/{created['id']}").json() == created
    assert patch(api_for(teammate), created["id"], "node-1", change).status_code == 200


def test_a_viewer_gets_403_even_for_an_unknown_node(api: ApiClient,
                                                    api_for: Callable[..., ApiClient],
                                                    viewer: User) -> None:
    created = create(api)
    response = patch(api_for(viewer), created["id"], "node-404", {"label": "x"})
    assert_error(response, 403, *FORBIDDEN_ROLE)


# --- PUT /workflows/{id} with linkPermission ------------------------------------------------

@pytest.mark.parametrize("value", ["view", "public", None, 1])
def test_put_with_link_permission_is_400_pointing_at_the_visibility_endpoint(
        api: ApiClient, value: Any) -> None:
    created = create(api)
    response = api.put(f"/workflows/{created['id']}", body(name="Shared",
                                                           linkPermission=value))
    assert response.status_code == 400, response.content
    assert response.json() == {
        "error": "linkPermission cannot be set here: use POST /workflows/{id}/visibility",
        "code": "invalid_field"}
    assert api.get(f"/workflows/{created['id']}").json() == created
    assert Workflow.objects.get(pk=created["id"]).link_permission == "private"


def test_put_echoing_the_current_link_permission_is_a_save_like_any_other(
        api: ApiClient) -> None:
    """A workflow as GET answers it, sent back: its read-only fields change nothing."""
    created = create(api)
    response = api.put(f"/workflows/{created['id']}", {**created, "name": "Renamed",
                                                         "linkPermission": "private"})
    assert response.status_code == 200, response.content
    assert response.json()["name"] == "Renamed"
    assert Workflow.objects.get(pk=created["id"]).link_permission == "private"


def test_put_link_permission_of_another_teams_workflow_is_404(
        api: ApiClient, api_for: Callable[..., ApiClient], stranger: User) -> None:
    created = create(api)
    response = api_for(stranger).put(f"/workflows/{created['id']}",
                                     body(linkPermission="view"))
    assert_error(response, 404, "Workflow not found", "not_found")


# --- POST /workflows/{id}/execute {"force": true} -------------------------------------------

def test_force_is_stored_with_the_execution(sent: list[str], api: ApiClient) -> None:
    workflow_id = create(api)["id"]
    forced = api.post(f"/workflows/{workflow_id}/execute", {"force": True})
    plain = api.post(f"/workflows/{workflow_id}/execute", {})
    assert (forced.status_code, plain.status_code) == (201, 201)
    assert Execution.objects.get(pk=forced.json()["executionId"]).force is True
    assert Execution.objects.get(pk=plain.json()["executionId"]).force is False


def test_a_rerun_of_a_forced_execution_is_forced_too(sent: list[str], api: ApiClient) -> None:
    workflow_id = create(api)["id"]
    forced = api.post(f"/workflows/{workflow_id}/execute", {"force": True}).json()
    Execution.objects.filter(pk=forced["executionId"]).update(status="FAILED")
    rerun = api.post(f"/workflows/executions/{forced['executionId']}/rerun", {})
    assert rerun.status_code == 201, rerun.content
    assert Execution.objects.get(pk=rerun.json()["executionId"]).force is True


def test_force_of_the_wrong_type_is_400(sent: list[str], api: ApiClient) -> None:
    workflow_id = create(api)["id"]
    response = api.post(f"/workflows/{workflow_id}/execute", {"force": {"all": True}})
    assert response.status_code == 400, response.content
    assert response.json()["fields"] == ["force"]
    assert not Execution.objects.exists()


def test_the_openapi_document_describes_the_new_shapes(api: ApiClient) -> None:
    doc = api.get("/openapi.json").json()
    schemas = doc["components"]["schemas"]
    assert "force" in schemas["ExecuteIn"]["properties"]
    assert "cached" in schemas["ExecuteIn"]["properties"]["force"]["description"]
    assert "yourBaseUpdatedAt" in schemas["StaleWriteOut"]["properties"]
    assert "data" in schemas["DuplicateOut"]["properties"]
    assert "linkPermission" not in schemas["WorkflowUpdateIn"]["properties"]
    assert "patch" in doc["paths"]["/api/v1/workflows/{workflow_id}/nodes/{node_id}"]


@pytest.mark.django_db(transaction=True)
def test_with_force_no_node_reuses_a_cached_result(engine: str, api: ApiClient) -> None:
    nodes = [node("prompt", "input:text", "Prompt", text="forced fox"),
             node("gen", "generate:nano_banana_pro", "Generate"),
             node("up", "upscale:crystal_upscaler", "Upscale")]
    edges = [edge("prompt", "text", "gen", "prompt"), edge("gen", "image", "up", "image_url")]
    workflow_id = create_workflow(api, nodes, edges)
    assert wait_for(api, execute(api, workflow_id))["status"] == "COMPLETED"
    submitted = simulator_stats()["submissions"]
    reused = wait_for(api, execute(api, workflow_id, {"targetNodeId": "up"}))
    assert states(reused)["gen"]["cached"] is True  # without force, the upstream is reused
    assert simulator_stats()["submissions"] == submitted + 1

    forced = wait_for(api, execute(api, workflow_id, {"targetNodeId": "up", "force": True}))

    assert forced["status"] == "COMPLETED", forced
    assert states(forced)["gen"]["cached"] is False
    assert states(forced)["gen"]["credits"] > 0
    assert simulator_stats()["submissions"] == submitted + 3  # gen and up both ran again

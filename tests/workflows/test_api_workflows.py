"""The workflows endpoints of docs/api.md, through the full API, as owner, teammate, viewer and
stranger."""

import copy
import re
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from accounts.models import Team, User
from accounts.services import team_create, user_switch_team
from tests.conftest import ApiClient
from workflows.models import Workflow, WorkflowVersion

pytestmark = pytest.mark.django_db

ISO_MS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
WORKFLOW_KEYS = {"id", "name", "description", "nodes", "edges", "tags", "isActive", "teamId",
                 "webhookId", "webhookUrl", "executionCount", "lastExecutedAt", "createdAt",
                 "updatedAt", "version", "webhookEnabled", "webhookSecretSet", "webhookVersion",
                 "linkPermission"}
MISSING_ID = "00000000-0000-4000-8000-000000000000"


def seed_graph() -> dict[str, Any]:
    """The README's curl example: prompt -> Nano Banana Pro -> Crystal Upscaler -> result, with
    editor UI hints in `data` and a bogus category the server must replace."""
    nodes = [
        {"id": "node-1", "type": "basedNode", "position": {"x": 12.5, "y": -40},
         "data": {"label": "Prompt", "nodeType": "input:text", "params": {"text": "a red fox"},
                  "category": "bogus", "uiColor": "#ffaa00", "collapsed": True}},
        {"id": "node-2", "type": "basedNode", "position": {"x": 400, "y": 0},
         "data": {"label": "Generate", "nodeType": "generate:nano_banana_pro", "params": {}},
         "width": 280, "selected": False},
        {"id": "node-3", "type": "basedNode", "position": {"x": 800, "y": 0},
         "data": {"label": "Upscale", "nodeType": "upscale:crystal_upscaler",
                  "params": {"scale_factor": 2}, "notes": {"why": "print size"}}},
        {"id": "node-4", "type": "basedNode", "position": {"x": 1200, "y": 0},
         "data": {"label": "Result", "nodeType": "output:result", "params": {}}},
    ]
    edges = [
        {"id": "e1", "source": "node-1", "target": "node-2",
         "sourceHandle": "out-text", "targetHandle": "in-prompt", "animated": True},
        {"id": "e2", "source": "node-2", "target": "node-3",
         "sourceHandle": "out-image", "targetHandle": "in-image_url"},
        {"id": "e3", "source": "node-3", "target": "node-4",
         "sourceHandle": "out-images", "targetHandle": "in-value"},
    ]
    return {"nodes": nodes, "edges": edges}


def body(**overrides: Any) -> dict[str, Any]:
    return {"name": "Fox pipeline", "description": "Prompt to print", **seed_graph(),
            "tags": ["demo"], **overrides}


def create(client: ApiClient, **overrides: Any) -> dict[str, Any]:
    response = client.post("/workflows", body(**overrides))
    assert response.status_code == 201, response.content
    return response.json()  # type: ignore[no-any-return]


def assert_error(response: Any, status: int, error: str, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.content
    payload = response.json()
    assert (payload["error"], payload["code"]) == (error, code)
    return payload  # type: ignore[no-any-return]


# --- POST /workflows ------------------------------------------------------------------------

def test_creating_the_seed_pipeline_answers_201_with_the_workflow_shape(
        api: ApiClient, team: Team) -> None:
    created = create(api)
    assert set(created) == WORKFLOW_KEYS
    assert created["name"] == "Fox pipeline"
    assert created["description"] == "Prompt to print"
    assert created["tags"] == ["demo"]
    assert created["isActive"] is True
    assert created["teamId"] == team.id
    assert (created["webhookId"], created["webhookUrl"]) == (None, None)
    assert (created["executionCount"], created["lastExecutedAt"]) == (0, None)
    assert created["version"] == 1
    assert ISO_MS.match(created["createdAt"]) and ISO_MS.match(created["updatedAt"])


def test_get_returns_the_graph_exactly_as_sent_with_the_category_filled(api: ApiClient) -> None:
    sent = seed_graph()
    created = create(api)
    got = api.get(f"/workflows/{created['id']}").json()

    expected_nodes = copy.deepcopy(sent["nodes"])
    for node, category in zip(expected_nodes, ["input", "model", "model", "output"], strict=True):
        node["data"]["category"] = category
    assert got["nodes"] == expected_nodes
    assert got["edges"] == sent["edges"]
    assert got["nodes"][0]["position"] == {"x": 12.5, "y": -40}
    assert got["nodes"][0]["data"]["uiColor"] == "#ffaa00"


def test_creating_a_workflow_records_version_1_as_a_snapshot(api: ApiClient) -> None:
    created = create(api)
    snapshot = WorkflowVersion.objects.get(workflow_id=created["id"])
    assert snapshot.version == 1
    assert snapshot.nodes == created["nodes"]
    assert snapshot.edges == created["edges"]


def test_optional_fields_have_defaults(api: ApiClient) -> None:
    created = create(api, description=None, tags=None)
    assert (created["description"], created["tags"], created["isActive"]) == ("", [], True)


def test_an_inactive_workflow_can_be_created(api: ApiClient) -> None:
    assert create(api, isActive=False)["isActive"] is False


def test_an_invalid_graph_is_422_listing_every_violation_and_saves_nothing(
        api: ApiClient) -> None:
    graph = seed_graph()
    graph["nodes"][1]["data"]["nodeType"] = "generate:does_not_exist"
    graph["edges"][2]["target"] = "node-404"
    graph["nodes"][0]["data"]["params"] = {"text": ""}
    graph["edges"].append({"id": "e4", "source": "node-4", "target": "node-1"})

    response = api.post("/workflows", body(**graph))

    payload = assert_error(response, 422, "Invalid workflow graph", "invalid_graph")
    rules = {v["rule"] for v in payload["violations"]}
    assert {"unknown_node_type", "dangling_edge"} <= rules
    assert len(payload["violations"]) >= 3
    assert all(set(v) <= {"rule", "message", "nodeId", "edgeId"} for v in payload["violations"])
    assert Workflow.objects.count() == 0
    assert WorkflowVersion.objects.count() == 0


def test_an_empty_graph_is_422_empty_graph(api: ApiClient) -> None:
    response = api.post("/workflows", body(nodes=[], edges=[]))
    payload = assert_error(response, 422, "Invalid workflow graph", "invalid_graph")
    assert [v["rule"] for v in payload["violations"]] == ["empty_graph"]


@pytest.mark.parametrize(("overrides", "field"), [
    ({"name": "   "}, "name"),
    ({"name": "x" * 201}, "name"),
    ({"tags": ["ok", 7]}, "tags.1"),
    ({"tags": [""]}, "tags.0"),
    ({"isActive": "sometimes"}, "isActive"),
    ({"nodes": [1, 2]}, "nodes.0"),
    ({"edges": {"id": "e1"}}, "edges"),
])
def test_bad_fields_are_400_invalid_request_naming_the_field(
        api: ApiClient, overrides: dict[str, Any], field: str) -> None:
    response = api.post("/workflows", body(**overrides))
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_request"
    assert field in response.json()["fields"]
    assert Workflow.objects.count() == 0


def _graph_with_hint(hint: Any) -> dict[str, Any]:
    """The seed graph with an editor UI hint (an unknown `data` key, kept as sent)."""
    graph = seed_graph()
    graph["nodes"][0]["data"]["uiHint"] = hint
    return graph


def _nested(depth: int) -> Any:
    value: Any = "leaf"
    for _ in range(depth):
        value = {"deeper": value}
    return value


@pytest.mark.parametrize(("overrides", "field"), [
    ({"name": "nul\u0000name"}, "name"),
    ({"description": "nul\u0000"}, "description"),
    ({"tags": ["a\u0000"]}, "tags.0"),
    (_graph_with_hint("lone \ud800 surrogate"), "nodes"),
    (_graph_with_hint(float("nan")), "nodes"),
    (_graph_with_hint(float("inf")), "nodes"),
    (_graph_with_hint({"k\u0000ey": 1}), "nodes"),
    (_graph_with_hint(_nested(100)), "nodes"),
    ({"edges": [{"id": "e1", "source": "node-1", "target": "node-2", "x": "\u0000"}]}, "edges"),
])
def test_values_the_database_cannot_store_are_400_not_500(
        api: ApiClient, overrides: dict[str, Any], field: str) -> None:
    response = api.post("/workflows", body(**overrides))
    assert response.status_code == 400, response.content
    assert response.json()["code"] == "invalid_request"
    assert field in response.json()["fields"]
    assert Workflow.objects.count() == 0


def test_ordinary_unicode_and_moderate_nesting_are_stored(api: ApiClient) -> None:
    created = create(api, name="Füchse 🦊 — 狐", **_graph_with_hint(_nested(20)))
    assert created["name"] == "Füchse 🦊 — 狐"
    assert api.get(f"/workflows/{created['id']}").json()["nodes"][0]["data"]["uiHint"] == (
        _nested(20))


# --- GET /workflows -------------------------------------------------------------------------

def create_aged(client: ApiClient, names: list[str]) -> list[dict[str, Any]]:
    """Workflows updated one minute apart, the first name the oldest."""
    created = [create(client, name=name) for name in names]
    start = timezone.now() - timedelta(days=1)
    for n, workflow in enumerate(created):
        Workflow.objects.filter(pk=workflow["id"]).update(updated_at=start + timedelta(minutes=n))
    return created


def test_the_list_is_newest_update_first(api: ApiClient) -> None:
    first, _, _ = create_aged(api, ["one", "two", "three"])
    assert [w["name"] for w in api.get("/workflows").json()] == ["three", "two", "one"]
    api.put(f"/workflows/{first['id']}", body(name="one, edited"))
    names = [w["name"] for w in api.get("/workflows").json()]
    assert names == ["one, edited", "three", "two"]


def test_the_list_filters_on_is_active(api: ApiClient) -> None:
    create(api, name="on")
    create(api, name="off", isActive=False)
    assert [w["name"] for w in api.get("/workflows?isActive=true").json()] == ["on"]
    assert [w["name"] for w in api.get("/workflows?isActive=false").json()] == ["off"]
    assert len(api.get("/workflows").json()) == 2


def test_the_list_pages_with_limit_and_offset(api: ApiClient) -> None:
    create_aged(api, [f"w{n}" for n in range(5)])
    assert [w["name"] for w in api.get("/workflows?limit=2").json()] == ["w4", "w3"]
    assert [w["name"] for w in api.get("/workflows?limit=2&offset=2").json()] == ["w2", "w1"]
    assert [w["name"] for w in api.get("/workflows?offset=4").json()] == ["w0"]
    assert api.get("/workflows?offset=5").json() == []
    assert len(api.get("/workflows?limit=200").json()) == 5


def test_the_list_returns_at_most_100_by_default(api: ApiClient, owner: User,
                                                  team: Team) -> None:
    template = Workflow.objects.get(pk=create(api)["id"])
    Workflow.objects.bulk_create(
        Workflow(team=team, created_by=owner, name=f"bulk {n}", nodes=template.nodes,
                 edges=template.edges) for n in range(101))
    assert len(api.get("/workflows").json()) == 100


@pytest.mark.parametrize("query", ["limit=0", "limit=201", "limit=-1", "limit=ten",
                                   "offset=-1", "offset=x", "offset=99999999999999999999",
                                   "isActive=maybe"])
def test_bad_list_parameters_are_400_invalid_request(api: ApiClient, query: str) -> None:
    response = api.get(f"/workflows?{query}")
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_request"
    assert response.json()["fields"] == [query.split("=")[0]]


def test_the_list_holds_only_the_callers_team(api: ApiClient,
                                              api_for: Callable[..., ApiClient],
                                              stranger: User) -> None:
    create(api, name="ours")
    assert api_for(stranger).get("/workflows").json() == []


# --- GET /workflows/{id} --------------------------------------------------------------------

def test_an_unknown_workflow_is_404_workflow_not_found(api: ApiClient) -> None:
    assert_error(api.get(f"/workflows/{MISSING_ID}"), 404, "Workflow not found", "not_found")


@pytest.mark.parametrize("bad_id", ["not-a-uuid", "123", "%20", "00000000-0000-0000-0000"])
def test_a_malformed_id_is_404_workflow_not_found(api: ApiClient, bad_id: str) -> None:
    assert_error(api.get(f"/workflows/{bad_id}"), 404, "Workflow not found", "not_found")


def test_an_api_key_sees_only_its_own_team(api_for: Callable[..., ApiClient], owner: User,
                                           api: ApiClient) -> None:
    created = create(api)
    side_team = team_create(owner=owner, name="Side project")
    user_switch_team(owner, side_team)
    side_key = api_for(owner)
    assert_error(side_key.get(f"/workflows/{created['id']}"), 404, "Workflow not found",
                 "not_found")
    assert side_key.get("/workflows").json() == []


# --- PUT /workflows/{id} --------------------------------------------------------------------

def test_put_replaces_the_workflow_and_bumps_the_version(api: ApiClient) -> None:
    created = create(api)
    graph = seed_graph()
    graph["nodes"][0]["position"] = {"x": 99, "y": 99}
    response = api.put(f"/workflows/{created['id']}",
                       body(name="Renamed", description="New", tags=["a", "b"], isActive=False,
                            **graph))
    assert response.status_code == 200
    updated = response.json()
    assert (updated["name"], updated["description"], updated["tags"]) == ("Renamed", "New",
                                                                          ["a", "b"])
    assert updated["isActive"] is False
    assert updated["version"] == 2
    assert updated["updatedAt"] > created["updatedAt"]
    assert updated["createdAt"] == created["createdAt"]
    assert updated["nodes"][0]["position"] == {"x": 99, "y": 99}
    assert api.get(f"/workflows/{created['id']}").json() == updated
    assert list(WorkflowVersion.objects.filter(workflow_id=created["id"])
                .values_list("version", flat=True)) == [2, 1]


def test_put_keeps_optional_fields_that_are_left_out(api: ApiClient) -> None:
    created = create(api, isActive=False, tags=["keep"], description="Keep me")
    updated = api.put(f"/workflows/{created['id']}",
                      {"name": "Renamed", **seed_graph()}).json()
    assert (updated["isActive"], updated["tags"], updated["description"]) == (
        False, ["keep"], "Keep me")


def test_put_with_the_current_base_updated_at_succeeds(api: ApiClient) -> None:
    created = create(api)
    response = api.put(f"/workflows/{created['id']}",
                       body(name="Fresh", baseUpdatedAt=created["updatedAt"]))
    assert response.status_code == 200
    assert response.json()["name"] == "Fresh"


def test_put_with_a_stale_base_updated_at_is_409_and_changes_nothing(api: ApiClient) -> None:
    created = create(api)
    first = api.put(f"/workflows/{created['id']}",
                    body(name="Saved by tab one", baseUpdatedAt=created["updatedAt"])).json()

    response = api.put(f"/workflows/{created['id']}",
                       body(name="Saved by tab two", baseUpdatedAt=created["updatedAt"]))

    payload = assert_error(response, 409, "Workflow was modified since baseUpdatedAt",
                           "stale_write")
    assert payload["currentUpdatedAt"] == first["updatedAt"]
    assert api.get(f"/workflows/{created['id']}").json()["name"] == "Saved by tab one"


def test_two_saves_in_the_same_millisecond_still_make_the_first_base_stale(
        api: ApiClient) -> None:
    created = create(api)
    Workflow.objects.filter(pk=created["id"]).update(
        updated_at=Workflow.objects.get(pk=created["id"]).updated_at + timedelta(days=1))
    stored = api.get(f"/workflows/{created['id']}").json()["updatedAt"]
    second = api.put(f"/workflows/{created['id']}", body(baseUpdatedAt=stored)).json()
    assert second["updatedAt"] > stored
    response = api.put(f"/workflows/{created['id']}", body(baseUpdatedAt=stored))
    assert response.status_code == 409


def test_put_with_an_invalid_graph_is_422_and_changes_nothing(api: ApiClient) -> None:
    created = create(api)
    response = api.put(f"/workflows/{created['id']}",
                       body(name="Broken", nodes=[{"id": "x", "data": {"nodeType": "nope"}}],
                            edges=[]))
    assert_error(response, 422, "Invalid workflow graph", "invalid_graph")
    assert api.get(f"/workflows/{created['id']}").json() == created
    assert WorkflowVersion.objects.filter(workflow_id=created["id"]).count() == 1


def test_put_with_a_malformed_base_updated_at_is_400(api: ApiClient) -> None:
    created = create(api)
    response = api.put(f"/workflows/{created['id']}", body(baseUpdatedAt="yesterday"))
    assert response.status_code == 400
    assert response.json()["fields"] == ["baseUpdatedAt"]


# --- DELETE /workflows/{id} -----------------------------------------------------------------

def test_delete_answers_204_and_the_workflow_is_gone(api: ApiClient) -> None:
    created = create(api)
    response = api.delete(f"/workflows/{created['id']}")
    assert response.status_code == 204
    assert response.content == b""
    assert_error(api.get(f"/workflows/{created['id']}"), 404, "Workflow not found", "not_found")
    assert_error(api.delete(f"/workflows/{created['id']}"), 404, "Workflow not found",
                 "not_found")
    assert not WorkflowVersion.objects.filter(workflow_id=created["id"]).exists()


# --- POST /workflows/lint -------------------------------------------------------------------

def test_lint_of_a_valid_graph_is_ok(api: ApiClient) -> None:
    response = api.post("/workflows/lint", seed_graph())
    assert response.status_code == 200
    assert response.json() == {"ok": True, "violations": [], "warnings": []}


def test_lint_of_an_invalid_graph_is_200_with_every_violation(api: ApiClient) -> None:
    graph = seed_graph()
    graph["nodes"][1]["data"]["nodeType"] = "generate:does_not_exist"
    graph["edges"][2]["target"] = "node-404"
    response = api.post("/workflows/lint", graph)
    assert response.status_code == 200
    payload = response.json()
    assert payload["ok"] is False
    assert {"unknown_node_type", "dangling_edge"} <= {v["rule"] for v in payload["violations"]}
    unknown = next(v for v in payload["violations"] if v["rule"] == "unknown_node_type")
    assert unknown["nodeId"] == "node-2"
    assert "edgeId" not in unknown  # absent, as in the 422 body, rather than null


def test_lint_warns_about_a_valid_graph_without_an_output(api: ApiClient) -> None:
    graph = seed_graph()
    graph["nodes"] = graph["nodes"][:3]
    graph["edges"] = graph["edges"][:2]
    payload = api.post("/workflows/lint", graph).json()
    assert payload["ok"] is True
    assert payload["warnings"]


@pytest.mark.parametrize("graph", [
    {"nodes": [1, "two", None, [], {"id": 5}], "edges": ["x", {"source": {}}]},
    {"nodes": [{"id": "a", "data": "not a dict", "position": "here"}], "edges": []},
    {"nodes": [{"id": "a", "data": {"nodeType": ["input:text"]}}], "edges": [{}]},
    {},
])
def test_lint_never_answers_422_even_for_malformed_shapes(api: ApiClient,
                                                          graph: dict[str, Any]) -> None:
    response = api.post("/workflows/lint", graph)
    assert response.status_code == 200
    assert response.json()["ok"] is False
    assert response.json()["violations"]


@pytest.mark.parametrize("raw", ["[null, null]", '"nodes"', "3", '{"nodes": "x"}'])
def test_lint_of_a_body_that_is_not_a_graph_object_is_400(api: ApiClient, raw: str) -> None:
    response = api.post("/workflows/lint", raw=raw)
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_request"


def test_lint_is_not_taken_for_a_workflow_id(api: ApiClient) -> None:
    assert api.post("/workflows/lint", seed_graph()).json()["ok"] is True
    assert api.get("/workflows/lint").status_code == 405


# --- POST /workflows/{id}/duplicate ---------------------------------------------------------

def test_duplicate_answers_201_with_the_copy_and_its_editor_url(api: ApiClient) -> None:
    original = create(api, tags=["x"])
    response = api.post(f"/workflows/{original['id']}/duplicate")
    assert response.status_code == 201
    payload = response.json()
    assert set(payload) == {"id", "name", "url", "data"}
    assert payload["name"] == "Fox pipeline (copy)"
    assert payload["url"] == f"/workflows/{payload['id']}/edit"
    # The hosted API's newer clients read the same three fields under `data`.
    assert payload["data"] == {"id": payload["id"], "name": payload["name"],
                               "url": payload["url"]}
    copy_ = api.get(f"/workflows/{payload['id']}").json()
    assert (copy_["nodes"], copy_["edges"], copy_["tags"]) == (
        original["nodes"], original["edges"], ["x"])
    assert (copy_["version"], copy_["executionCount"]) == (1, 0)
    assert Workflow.objects.count() == 2


def test_duplicating_a_long_name_stays_within_200_characters(api: ApiClient) -> None:
    original = create(api, name="n" * 200)
    name = api.post(f"/workflows/{original['id']}/duplicate").json()["name"]
    assert len(name) == 200 and name.endswith(" (copy)")


def test_duplicate_copies_into_the_callers_current_team(owner: User, team: Team,
                                                        api: ApiClient) -> None:
    original = create(api)
    other_team = team_create(owner=owner, name="Agency")
    user_switch_team(owner, other_team)
    browser = Client()
    browser.force_login(owner)
    response = browser.post(f"/api/v1/workflows/{original['id']}/duplicate")
    assert response.status_code == 201
    assert Workflow.objects.get(pk=response.json()["id"]).team == other_team

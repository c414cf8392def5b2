"""docs/api.md's execution endpoints — execute, poll, details, cancel, history — through the
full API.

Without a worker an execution simply stays RUNNING, which is all the shape and access tests
need; the tests that need a run to finish use the `engine` fixture (a Celery worker and the fal
simulator on the live server).
"""

import base64
import re
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection
from django.test import Client

from accounts.models import Membership, Role, Team, User
from accounts.scopes import EXECUTIONS_READ, WORKFLOWS_EXECUTE, WORKFLOWS_READ, WORKFLOWS_WRITE
from executions.models import Execution

# The engine fixtures live with the engine tests; imported, they serve this module too.
from tests.builders import edge, node
from tests.conftest import ApiClient
from tests.engine.helpers import create_workflow, execute, wait_for
from workflows.models import WorkflowVersion

pytestmark = pytest.mark.django_db

ISO_MS = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")
SUMMARY_KEYS = {"executionId", "workflowId", "status", "error", "startTime", "endTime",
                "durationMs", "creditsUsed", "trigger", "version", "versionTag"}
POLL_KEYS = SUMMARY_KEYS | {"nodeStates", "nodeResults", "finalOutput"}
# `cached` is ours on top of docs/api.md (a run-to-here reused the result); additive, so clients of
# the hosted API are unaffected.
NODE_STATE_KEYS = {"nodeId", "label", "nodeType", "status", "error", "progress", "outputUrl",
                   "outputUrls", "text", "requestId", "attempts", "startedAt", "finishedAt",
                   "durationMs", "credits", "cached"}
DETAILS_KEYS = POLL_KEYS | {"inputs", "triggerData", "targetNodeId", "graph", "versionId"}
DETAILS_NODE_KEYS = NODE_STATE_KEYS | {"input", "attemptsLog", "cacheKey"}
ATTEMPT_KEYS = {"attempt", "startedAt", "finishedAt", "error", "httpStatus"}
MISSING_EXECUTE = "Forbidden: missing scope workflows:execute"
MISSING_READ = "Forbidden: missing scope executions:read"


def pipeline() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Two input nodes (one unconnected), a model, a result."""
    nodes = [node("prompt", "input:text", "Prompt", text="a red fox"),
             node("count", "input:number", "Count", value=1),
             node("gen", "generate:flux_2", "Generate"),
             node("result", "output:result", "Result")]
    edges = [edge("prompt", "text", "gen", "prompt"), edge("gen", "image", "result", "value")]
    return nodes, edges


def text_to_result() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Inline nodes only: finishes within a moment of reaching a worker."""
    nodes = [node("words", "input:text", "Words", text="hello"),
             node("out", "output:result", "Out")]
    return nodes, [edge("words", "text", "out", "value")]


def create(api: ApiClient, graph: tuple[list[Any], list[Any]] | None = None,
           **fields: Any) -> str:
    nodes, edges = graph or pipeline()
    return create_workflow(api, nodes, edges, name="Fox", **fields)


start = execute


def details(api: ApiClient, execution_id: str) -> dict[str, Any]:
    response = api.get(f"/workflows/executions/{execution_id}")
    assert response.status_code == 200, response.content
    return dict(response.json())


def assert_error(response: Any, status: int, code: str, error: str | None = None) -> str:
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert body["code"] == code
    if error is not None:
        assert body["error"] == error
    return str(body["error"])


@pytest.fixture
def workflow_id(api: ApiClient) -> str:
    return create(api)


# --- Execute --------------------------------------------------------------------------------


def test_each_committed_execute_counts_on_its_workflow(
        api: ApiClient, workflow_id: str, django_capture_on_commit_callbacks: Any) -> None:
    """executionCount and lastExecutedAt, written once the execute has committed."""
    for _ in range(2):
        with django_capture_on_commit_callbacks(execute=True):
            execution_id = start(api, workflow_id)
    workflow = api.get(f"/workflows/{workflow_id}").json()
    started = Execution.objects.get(pk=execution_id).started_at
    assert workflow["executionCount"] == 2
    assert workflow["lastExecutedAt"] == started.isoformat(timespec="milliseconds"
                                                           ).replace("+00:00", "Z")

def test_execute_answers_201_running_with_one_empty_run_and_the_poll_location(
        api: ApiClient, workflow_id: str) -> None:
    response = api.post(f"/workflows/{workflow_id}/execute", {})
    assert response.status_code == 201
    body = response.json()
    execution_id = body["executionId"]
    assert body == {"executionId": execution_id, "workflowId": workflow_id, "status": "RUNNING",
                    "executionRuns": [{"id": execution_id, "status": "RUNNING",
                                       "startTime": body["executionRuns"][0]["startTime"],
                                       "nodeRuns": []}]}
    assert ISO_MS.match(body["executionRuns"][0]["startTime"])
    assert response["Location"] == f"/api/v1/workflows/executions/{execution_id}/poll"
    assert api.get(response["Location"].removeprefix("/api/v1")).status_code == 200


@pytest.mark.parametrize("raw", ["", "{}"], ids=["no body", "empty object"])
def test_execute_needs_no_body(api: ApiClient, workflow_id: str, raw: str) -> None:
    response = api.post(f"/workflows/{workflow_id}/execute", raw=raw)
    assert response.status_code == 201, response.content
    assert Execution.objects.filter(pk=response.json()["executionId"]).exists()


def test_a_graph_override_with_violations_is_422_listing_each_and_runs_nothing(
        api: ApiClient, workflow_id: str) -> None:
    nodes = [node("a", "input:text"), node("b", "no:such_type")]
    edges = [edge("a", "text", "ghost", "prompt")]
    response = api.post(f"/workflows/{workflow_id}/execute", {"nodes": nodes, "edges": edges})
    assert_error(response, 422, "invalid_graph", "Invalid workflow graph")
    rules = {(v["rule"], v.get("nodeId")) for v in response.json()["violations"]}
    assert ("unknown_node_type", "b") in rules
    assert "dangling_edge" in {rule for rule, _ in rules}
    assert not Execution.objects.exists()


def test_an_empty_graph_override_is_422_empty_graph(api: ApiClient, workflow_id: str) -> None:
    response = api.post(f"/workflows/{workflow_id}/execute", {"nodes": [], "edges": []})
    assert_error(response, 422, "invalid_graph")
    assert [v["rule"] for v in response.json()["violations"]] == ["empty_graph"]
    assert not Execution.objects.exists()


def test_a_valid_graph_override_is_the_graph_run_with_no_version(
        api: ApiClient, workflow_id: str) -> None:
    nodes, edges = text_to_result()
    execution_id = start(api, workflow_id, {"nodes": nodes, "edges": edges})
    shown = details(api, execution_id)
    assert shown["graph"] == {"nodes": nodes, "edges": edges}
    assert shown["versionId"] is None
    assert [state["nodeId"] for state in shown["nodeStates"]] == ["words", "out"]


def test_the_saved_graph_is_run_and_its_version_recorded(api: ApiClient, workflow_id: str) -> None:
    shown = details(api, start(api, workflow_id))
    saved = api.get(f"/workflows/{workflow_id}").json()
    assert shown["graph"] == {"nodes": saved["nodes"], "edges": saved["edges"]}
    latest = WorkflowVersion.objects.filter(workflow_id=workflow_id).latest("version")
    assert shown["versionId"] == str(latest.pk)


def test_an_execute_is_four_statements_and_records_the_version_it_read(
        api: ApiClient, django_assert_num_queries: Any,
        django_capture_on_commit_callbacks: Any) -> None:
    """The key; the workflow with the caller's role, its latest version's id and its team's
    provider keys; the execution and its node runs (one statement on PostgreSQL, with no
    savepoint; in a transaction elsewhere); once the test's transaction commits, the workflow's
    count (outside one, in the execution's statement: test_credits.py)."""
    workflow_id = create(api, text_to_result())  # nothing priced: no credits to reserve
    saved = api.get(f"/workflows/{workflow_id}").json()
    saved["nodes"][0]["data"]["label"] = "renamed"  # a changed graph: a second version
    assert api.put(f"/workflows/{workflow_id}", saved).status_code == 200
    latest = WorkflowVersion.objects.filter(workflow_id=workflow_id).latest("version")
    assert latest.version == 2
    with django_assert_num_queries(4 if connection.vendor == "postgresql" else 7), \
            django_capture_on_commit_callbacks(execute=True):
        execution_id = start(api, workflow_id)
    assert details(api, execution_id)["versionId"] == str(latest.pk)


def test_inputs_are_keyed_by_node_id_or_by_label_in_any_case(
        api: ApiClient, workflow_id: str) -> None:
    execution_id = start(api, workflow_id, {"inputs": {"prompt": "a blue whale", "COUNT": 3}})
    assert details(api, execution_id)["inputs"] == {"prompt": "a blue whale", "count": 3}


def test_an_input_key_naming_no_input_node_is_400_naming_it(
        api: ApiClient, workflow_id: str) -> None:
    response = api.post(f"/workflows/{workflow_id}/execute",
                        {"inputs": {"Prompt": "ok", "colour": "red", "gen": "a model node"}})
    message = assert_error(response, 400, "invalid_request")
    assert "colour" in message and "gen" in message
    assert not Execution.objects.exists()


@pytest.mark.parametrize("value", ["lots", [1], {"n": 1}, None])
def test_a_value_an_input_node_cannot_take_is_400(api: ApiClient, workflow_id: str,
                                                   value: Any) -> None:
    response = api.post(f"/workflows/{workflow_id}/execute", {"inputs": {"Count": value}})
    assert "count" in assert_error(response, 400, "invalid_request")
    assert not Execution.objects.exists()


def test_an_unknown_target_node_is_400(api: ApiClient, workflow_id: str) -> None:
    response = api.post(f"/workflows/{workflow_id}/execute", {"targetNodeId": "nowhere"})
    assert "targetNodeId" in assert_error(response, 400, "invalid_request")
    assert not Execution.objects.exists()


def test_a_target_node_runs_only_what_it_needs(api: ApiClient, workflow_id: str) -> None:
    shown = details(api, start(api, workflow_id, {"targetNodeId": "gen"}))
    assert [state["nodeId"] for state in shown["nodeStates"]] == ["prompt", "gen"]
    assert shown["targetNodeId"] == "gen"


def test_an_inactive_workflow_is_409_workflow_inactive(api: ApiClient) -> None:
    workflow_id = create(api, isActive=False)
    response = api.post(f"/workflows/{workflow_id}/execute", {})
    assert_error(response, 409, "workflow_inactive")
    assert not Execution.objects.exists()


def test_trigger_data_is_stored_with_the_execution(api: ApiClient, workflow_id: str) -> None:
    data = {"source": "crm", "lead": {"id": 42, "tags": ["vip"]}}
    shown = details(api, start(api, workflow_id, {"triggerData": data}))
    assert shown["triggerData"] == data
    assert shown["trigger"] == "api"


@pytest.mark.parametrize("body", [
    {"nodes": "not a list"}, {"nodes": [1, 2]}, {"inputs": ["prompt"]},
    {"triggerData": "text"}, {"targetNodeId": ["gen"]}, {"targetNodeId": "x" * 201},
], ids=["nodes str", "nodes ints", "inputs list", "triggerData str", "target list",
        "target too long"])
def test_a_body_of_the_wrong_shape_is_400_invalid_request(api: ApiClient, workflow_id: str,
                                                          body: dict[str, Any]) -> None:
    response = api.post(f"/workflows/{workflow_id}/execute", body)
    assert_error(response, 400, "invalid_request")
    assert not Execution.objects.exists()


def test_a_malformed_json_body_is_400_invalid_json(api: ApiClient, workflow_id: str) -> None:
    response = api.post(f"/workflows/{workflow_id}/execute", raw='{"inputs": ')
    assert_error(response, 400, "invalid_json")
    assert not Execution.objects.exists()


@pytest.mark.parametrize("raw", ["[]", '["inputs"]', '"text"', "42", "true"])
def test_a_json_body_that_is_not_an_object_is_400_and_starts_nothing(
        api: ApiClient, workflow_id: str, raw: str) -> None:
    response = api.post(f"/workflows/{workflow_id}/execute", raw=raw)
    assert "JSON object" in assert_error(response, 400, "invalid_request")
    assert not Execution.objects.exists()


@pytest.mark.parametrize("nodes", [
    [{"id": 1}], [{"id": "a", "data": "x"}], [{"id": "a", "data": {"nodeType": 5}}],
    [{"id": "a", "data": {"nodeType": "input:text", "params": "x"}}],
    [{"id": "a", "data": {"nodeType": "input:text", "params": {"text": 5}}}],
], ids=["id int", "data str", "type int", "params str", "param wrong type"])
def test_a_malformed_override_node_is_refused_not_crashed_on(api: ApiClient, workflow_id: str,
                                                             nodes: list[Any]) -> None:
    response = api.post(f"/workflows/{workflow_id}/execute", {"nodes": nodes, "edges": []})
    assert response.status_code in {400, 422}, response.content
    assert response.json()["code"] in {"invalid_request", "invalid_graph"}
    assert not Execution.objects.exists()


def test_a_key_without_workflows_execute_is_403(api_for: Callable[..., ApiClient], owner: User,
                                               workflow_id: str) -> None:
    reader = api_for(owner, [WORKFLOWS_READ, WORKFLOWS_WRITE, EXECUTIONS_READ])
    response = reader.post(f"/workflows/{workflow_id}/execute", {})
    assert_error(response, 403, "forbidden", MISSING_EXECUTE)
    assert not Execution.objects.exists()


def test_a_stranger_cannot_execute_the_workflow(api_for: Callable[..., ApiClient],
                                                stranger: User, workflow_id: str) -> None:
    response = api_for(stranger).post(f"/workflows/{workflow_id}/execute", {})
    assert_error(response, 404, "not_found", "Workflow not found")
    assert not Execution.objects.exists()


@pytest.mark.parametrize("bad_id", ["not-a-uuid", "1", "00000000-0000-0000-0000-000000000000"])
def test_executing_a_workflow_id_that_is_not_one_is_404(api: ApiClient, bad_id: str) -> None:
    response = api.post(f"/workflows/{bad_id}/execute", {})
    assert_error(response, 404, "not_found", "Workflow not found")


def test_a_teammate_can_execute_the_teams_workflow(api_for: Callable[..., ApiClient],
                                                   teammate: User, workflow_id: str) -> None:
    execution_id = start(api_for(teammate), workflow_id)
    assert Execution.objects.get(pk=execution_id).created_by == teammate


# --- Poll -----------------------------------------------------------------------------------

def test_poll_has_exactly_the_documented_keys_for_the_execution_and_each_node(
        api: ApiClient, workflow_id: str) -> None:
    poll = api.get(f"/workflows/executions/{start(api, workflow_id)}/poll").json()
    assert set(poll) == POLL_KEYS
    assert poll["status"] == "RUNNING" and poll["trigger"] == "api"
    assert poll["workflowId"] == workflow_id
    assert poll["error"] is None and poll["endTime"] is None and poll["durationMs"] is None
    assert ISO_MS.match(poll["startTime"])
    assert len(poll["nodeStates"]) == 4
    for state in poll["nodeStates"]:
        assert set(state) == NODE_STATE_KEYS
    assert [(s["nodeId"], s["label"], s["nodeType"]) for s in poll["nodeStates"]][2] == (
        "gen", "Generate", "generate:flux_2")


def test_a_node_that_has_not_completed_shows_no_output(api: ApiClient, workflow_id: str) -> None:
    poll = api.get(f"/workflows/executions/{start(api, workflow_id)}/poll").json()
    assert {s["status"] for s in poll["nodeStates"]} == {"PENDING"}
    assert all(s["outputUrl"] is None and s["outputUrls"] == [] and s["text"] is None
               for s in poll["nodeStates"])
    assert poll["nodeResults"] == {"nodeRuns": [
        {"nodeId": node_id, "status": "PENDING", "output": None}
        for node_id in ("prompt", "count", "gen", "result")]}
    assert poll["finalOutput"] == {}


def test_a_poll_reads_neither_the_graph_nor_node_inputs_whatever_their_size(
        api: ApiClient, django_assert_num_queries: Any) -> None:
    """The same three reads (the key, the execution with its version, its node runs) for any
    graph: what poll does not show is not fetched, and nothing is fetched lazily."""
    nodes, edges = text_to_result()
    nodes[0]["data"]["params"]["text"] = "w" * 50_000
    execution_id = start(api, create(api, (nodes, edges)))
    with django_assert_num_queries(3):
        poll = api.get(f"/workflows/executions/{execution_id}/poll").json()
    shown = details(api, execution_id)
    assert {k: v for k, v in shown.items() if k in POLL_KEYS - {"nodeStates"}} == {
        k: v for k, v in poll.items() if k != "nodeStates"}
    assert [{k: v for k, v in state.items() if k in poll["nodeStates"][0]}
            for state in shown["nodeStates"]] == poll["nodeStates"]


def test_a_stranger_cannot_poll(api: ApiClient, api_for: Callable[..., ApiClient],
                                stranger: User, workflow_id: str) -> None:
    execution_id = start(api, workflow_id)
    response = api_for(stranger).get(f"/workflows/executions/{execution_id}/poll")
    assert_error(response, 404, "not_found", "Execution not found")


@pytest.mark.parametrize("bad_id", ["not-a-uuid", "00000000-0000-0000-0000-000000000000"])
def test_polling_an_id_that_is_no_execution_is_404(api: ApiClient, bad_id: str) -> None:
    response = api.get(f"/workflows/executions/{bad_id}/poll")
    assert_error(response, 404, "not_found", "Execution not found")


def test_a_key_without_executions_read_cannot_poll(api: ApiClient,
                                                   api_for: Callable[..., ApiClient],
                                                   owner: User, workflow_id: str) -> None:
    execution_id = start(api, workflow_id)
    runner = api_for(owner, [WORKFLOWS_READ, WORKFLOWS_EXECUTE])
    for path in (f"/workflows/executions/{execution_id}/poll",
                 f"/workflows/executions/{execution_id}"):
        assert_error(runner.get(path), 403, "forbidden", MISSING_READ)


# --- Details --------------------------------------------------------------------------------

def test_details_are_the_poll_shape_plus_the_inputs_graph_and_version(
        api: ApiClient, workflow_id: str) -> None:
    execution_id = start(api, workflow_id, {"inputs": {"Prompt": "a heron"}})
    shown = details(api, execution_id)
    assert set(shown) == DETAILS_KEYS
    for state in shown["nodeStates"]:
        assert set(state) == DETAILS_NODE_KEYS
        assert state["input"] is None and state["attemptsLog"] == []
    poll = api.get(f"/workflows/executions/{execution_id}/poll").json()
    assert {key: shown[key] for key in POLL_KEYS - {"nodeStates"}} == {
        key: poll[key] for key in POLL_KEYS - {"nodeStates"}}
    assert shown["inputs"] == {"prompt": "a heron"}
    assert shown["targetNodeId"] is None and shown["triggerData"] == {}


def test_a_stranger_cannot_read_the_details(api: ApiClient, api_for: Callable[..., ApiClient],
                                            stranger: User, workflow_id: str) -> None:
    execution_id = start(api, workflow_id)
    response = api_for(stranger).get(f"/workflows/executions/{execution_id}")
    assert_error(response, 404, "not_found", "Execution not found")


# --- Cancel ---------------------------------------------------------------------------------

def test_cancelling_a_running_execution_is_202_and_asks_the_engine_to_stop(
        api: ApiClient, workflow_id: str) -> None:
    execution_id = start(api, workflow_id)
    response = api.post(f"/workflows/executions/{execution_id}/cancel")
    assert response.status_code == 202
    assert response.json() == {"executionId": execution_id, "status": "RUNNING",
                               "message": "Cancellation requested"}
    assert Execution.objects.get(pk=execution_id).cancel_requested is True


def test_a_stranger_cannot_cancel(api: ApiClient, api_for: Callable[..., ApiClient],
                                  stranger: User, workflow_id: str) -> None:
    execution_id = start(api, workflow_id)
    response = api_for(stranger).post(f"/workflows/executions/{execution_id}/cancel")
    assert_error(response, 404, "not_found", "Execution not found")
    assert Execution.objects.get(pk=execution_id).cancel_requested is False


def test_a_key_without_workflows_execute_cannot_cancel(api: ApiClient,
                                                       api_for: Callable[..., ApiClient],
                                                       owner: User, workflow_id: str) -> None:
    execution_id = start(api, workflow_id)
    reader = api_for(owner, [WORKFLOWS_READ, EXECUTIONS_READ])
    response = reader.post(f"/workflows/executions/{execution_id}/cancel")
    assert_error(response, 403, "forbidden", MISSING_EXECUTE)
    assert Execution.objects.get(pk=execution_id).cancel_requested is False


# --- History --------------------------------------------------------------------------------

def history(api: ApiClient, workflow_id: str, query: str = "") -> Any:
    return api.get(f"/workflows/{workflow_id}/executions{query}")


def test_history_lists_the_workflows_executions_newest_first(
        api: ApiClient, workflow_id: str) -> None:
    started = [start(api, workflow_id) for _ in range(3)]
    start(api, create(api))  # another workflow's run is not in this history
    response = history(api, workflow_id)
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"executions", "nextCursor"}
    assert [e["executionId"] for e in body["executions"]] == started[::-1]
    assert body["nextCursor"] is None
    for summary in body["executions"]:
        assert set(summary) == SUMMARY_KEYS
        assert summary["workflowId"] == workflow_id and ISO_MS.match(summary["startTime"])


def test_history_pages_by_cursor_over_every_execution_exactly_once(
        api: ApiClient, workflow_id: str) -> None:
    started = [start(api, workflow_id) for _ in range(5)]
    seen: list[str] = []
    pages = 0
    query = "?limit=2"
    while True:
        body = history(api, workflow_id, query).json()
        pages += 1
        assert len(body["executions"]) <= 2
        seen += [e["executionId"] for e in body["executions"]]
        if body["nextCursor"] is None:
            break
        query = f"?limit=2&cursor={body['nextCursor']}"
    assert pages == 3
    assert seen == started[::-1]


def test_history_pages_over_executions_started_in_the_same_instant_exactly_once(
        api: ApiClient, workflow_id: str) -> None:
    started = {start(api, workflow_id) for _ in range(5)}
    moment = Execution.objects.earliest("created_at").created_at
    Execution.objects.update(created_at=moment)  # a burst of webhook triggers, say
    seen: list[str] = []
    cursor: str | None = ""
    while cursor is not None:
        body = history(api, workflow_id, f"?limit=2&cursor={cursor}" if cursor else "?limit=2")
        seen += [e["executionId"] for e in body.json()["executions"]]
        cursor = body.json()["nextCursor"]
    assert sorted(seen) == sorted(started)


def test_history_with_a_limit_of_exactly_the_count_has_no_next_page(
        api: ApiClient, workflow_id: str) -> None:
    started = [start(api, workflow_id) for _ in range(2)]
    body = history(api, workflow_id, "?limit=2").json()
    assert [e["executionId"] for e in body["executions"]] == started[::-1]
    assert body["nextCursor"] is None


@pytest.mark.parametrize("limit", ["0", "101", "-1", "abc", "2.5"])
def test_a_history_limit_outside_1_to_100_is_400(api: ApiClient, workflow_id: str,
                                                 limit: str) -> None:
    response = history(api, workflow_id, f"?limit={limit}")
    assert "limit" in assert_error(response, 400, "invalid_request")


@pytest.mark.parametrize("limit", ["1", "100"])
def test_a_history_limit_at_the_bounds_is_accepted(api: ApiClient, workflow_id: str,
                                                   limit: str) -> None:
    start(api, workflow_id)
    assert len(history(api, workflow_id, f"?limit={limit}").json()["executions"]) == 1


def _b64(raw: str) -> str:
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


@pytest.mark.parametrize("cursor", [
    "garbage", "!!!", "%00", _b64("no separator"), _b64("2026-01-01T00:00:00+00:00|not-a-uuid"),
    _b64("yesterday|00000000-0000-0000-0000-000000000000"), "x" * 501,
], ids=["word", "punctuation", "nul", "no separator", "bad uuid", "bad time", "too long"])
def test_a_garbage_cursor_is_400(api: ApiClient, workflow_id: str, cursor: str) -> None:
    response = history(api, workflow_id, f"?cursor={cursor}")
    assert "cursor" in assert_error(response, 400, "invalid_request")


def test_a_history_status_that_is_no_status_is_400(api: ApiClient, workflow_id: str) -> None:
    assert "status" in assert_error(history(api, workflow_id, "?status=DONE"), 400,
                                    "invalid_request")


def test_a_status_filter_with_no_match_is_an_empty_page(api: ApiClient,
                                                        workflow_id: str) -> None:
    start(api, workflow_id)
    assert history(api, workflow_id, "?status=COMPLETED").json() == {"executions": [],
                                                                      "nextCursor": None}


def test_a_stranger_cannot_list_the_history(api: ApiClient, api_for: Callable[..., ApiClient],
                                            stranger: User, workflow_id: str) -> None:
    start(api, workflow_id)
    response = history(api_for(stranger), workflow_id)
    assert_error(response, 404, "not_found", "Workflow not found")


def test_a_key_without_executions_read_cannot_list_the_history(
        api_for: Callable[..., ApiClient], owner: User, workflow_id: str) -> None:
    runner = api_for(owner, [WORKFLOWS_READ, WORKFLOWS_EXECUTE])
    assert_error(history(runner, workflow_id), 403, "forbidden", MISSING_READ)


# --- Teams: an API key sees its own team; the browser sees all of the user's teams ----------

@pytest.fixture
def other_team(make_user: Callable[..., User], owner: User,
               api_for: Callable[..., ApiClient]) -> Team:
    """A second team, owned by someone else, that the owner also belongs to."""
    other = make_user("other-owner@example.com")
    assert other.current_team is not None
    Membership.objects.create(team=other.current_team, user=owner, role=Role.EDITOR)
    return other.current_team


@pytest.fixture
def other_api(api_for: Callable[..., ApiClient], other_team: Team) -> ApiClient:
    other_owner = Membership.objects.get(team=other_team, role=Role.OWNER).user
    return api_for(other_owner)


def test_an_api_key_sees_only_its_own_teams_workflows_and_executions(
        api: ApiClient, other_api: ApiClient) -> None:
    theirs = create(other_api)
    their_run = start(other_api, theirs)
    for response, error in [
        (api.post(f"/workflows/{theirs}/execute", {}), "Workflow not found"),
        (history(api, theirs), "Workflow not found"),
        (api.get(f"/workflows/executions/{their_run}/poll"), "Execution not found"),
        (api.get(f"/workflows/executions/{their_run}"), "Execution not found"),
        (api.post(f"/workflows/executions/{their_run}/cancel"), "Execution not found"),
    ]:
        assert_error(response, 404, "not_found", error)
    assert Execution.objects.count() == 1


def test_the_browser_session_sees_executions_of_every_team_of_the_user(
        api: ApiClient, other_api: ApiClient, owner: User) -> None:
    mine, theirs = create(api), create(other_api)
    my_run, their_run = start(api, mine), start(other_api, theirs)
    browser = Client()
    browser.force_login(owner)
    for workflow_id, execution_id in [(mine, my_run), (theirs, their_run)]:
        poll = browser.get(f"/api/v1/workflows/executions/{execution_id}/poll")
        assert poll.status_code == 200 and poll.json()["workflowId"] == workflow_id
        listed = browser.get(f"/api/v1/workflows/{workflow_id}/executions").json()
        assert [e["executionId"] for e in listed["executions"]] == [execution_id]
    response = browser.post(f"/api/v1/workflows/{theirs}/execute", {},
                            content_type="application/json")
    assert response.status_code == 201
    assert Execution.objects.get(pk=response.json()["executionId"]).trigger == "editor"


# --- With a worker: runs that finish --------------------------------------------------------

def with_a_worker(test: Callable[..., None]) -> Callable[..., None]:
    """Committed data, and a Celery worker with the fal simulator (the `engine` fixture)."""
    # pytest's mark decorators hand back the function they mark (typed Any for Callable[...])
    marked: Callable[..., None] = pytest.mark.django_db(transaction=True)(
        pytest.mark.usefixtures("engine")(test))
    return marked


@with_a_worker
def test_details_after_a_run_show_each_nodes_input_and_attempts(api: ApiClient) -> None:
    nodes, edges = pipeline()
    execution_id = start(api, create(api, (nodes, edges)), {"inputs": {"prompt": "a lynx"}})
    assert wait_for(api, execution_id)["status"] == "COMPLETED"
    shown = details(api, execution_id)
    by_id = {state["nodeId"]: state for state in shown["nodeStates"]}
    # The run input replaced the prompt node's param, and reached the model through the edge.
    assert by_id["prompt"]["input"]["params"]["text"] == "a lynx"
    assert by_id["gen"]["input"]["inputs"] == {"prompt": "a lynx"}
    assert by_id["gen"]["input"]["params"]["prompt"] == "a lynx"
    for state in shown["nodeStates"]:
        assert state["status"] == "COMPLETED"
        [attempt] = state["attemptsLog"]
        assert set(attempt) == ATTEMPT_KEYS
        assert attempt["attempt"] == 1
        assert attempt["error"] is None and attempt["httpStatus"] is None
        assert ISO_MS.match(attempt["startedAt"]) and ISO_MS.match(attempt["finishedAt"])
        assert ISO_MS.match(state["startedAt"]) and ISO_MS.match(state["finishedAt"])
    assert ISO_MS.match(shown["endTime"]) and shown["durationMs"] >= 0
    runs = {run["nodeId"]: run for run in shown["nodeResults"]["nodeRuns"]}
    assert runs["gen"]["output"] is not None
    assert by_id["gen"]["outputUrl"] and by_id["gen"]["requestId"]


@with_a_worker
def test_cancelling_a_finished_execution_is_202_and_changes_nothing(api: ApiClient) -> None:
    execution_id = start(api, create(api, text_to_result()))
    finished = wait_for(api, execution_id)
    assert finished["status"] == "COMPLETED"
    response = api.post(f"/workflows/executions/{execution_id}/cancel")
    assert response.status_code == 202
    assert response.json()["status"] == "COMPLETED"
    assert api.get(f"/workflows/executions/{execution_id}/poll").json() == finished


@with_a_worker
def test_history_filters_by_status(api: ApiClient) -> None:
    required = node("words", "input:text", "Words", required=True)
    workflow_id = create(api, ([required, node("out", "output:result")],
                               [edge("words", "text", "out", "value")]))
    done = start(api, workflow_id, {"inputs": {"Words": "here"}})
    failed = start(api, workflow_id)  # the required input has no value: the run fails
    assert wait_for(api, done)["status"] == "COMPLETED"
    failed_poll = wait_for(api, failed)
    assert failed_poll["status"] == "FAILED" and "Words" in failed_poll["error"]
    assert [run["output"] for run in failed_poll["nodeResults"]["nodeRuns"]] == [None, None]
    for status, expected in [("COMPLETED", [done]), ("FAILED", [failed]), ("RUNNING", []),
                             ("CANCELLED", [])]:
        listed = history(api, workflow_id, f"?status={status}").json()["executions"]
        assert [e["executionId"] for e in listed] == expected, status
    assert len(history(api, workflow_id).json()["executions"]) == 2

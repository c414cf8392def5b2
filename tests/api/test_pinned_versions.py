"""Pinned runs (docs/api.md "Versions"): execute, run and the webhook trigger take a `version` (a
number or a tag) and run that version's graph; the webhook follows the workflow's
`webhookVersion`; poll, details and history say which version ran.

The engine is driven in the test process (tests/engine/inprocess.py): the graphs are inline
nodes only, so a run ends within a few passes."""

import json
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client

from accounts.models import User
from executions.models import Execution
from tests.builders import node
from tests.conftest import ApiClient
from tests.engine.helpers import save_workflow
from tests.engine.inprocess import drive
from workflows.models import WorkflowVersion

from .run_helpers import create_workflow, simple_graph

pytestmark = pytest.mark.django_db(transaction=True)
VERSION_NOT_FOUND = {"error": "Version not found", "code": "not_found"}
ANIMALS = {1: "a red fox", 2: "a grey wolf", 3: "a brown bear"}


@pytest.fixture(autouse=True)
def _no_rate_limits(settings: Any) -> None:
    settings.RATE_LIMITS_ENABLED = False


def graph(text: str) -> dict[str, Any]:
    body = simple_graph()
    body["nodes"][0]["data"]["params"]["text"] = text
    return body


put = save_workflow


@pytest.fixture
def workflow(api: ApiClient, sent: list[str]) -> dict[str, Any]:
    """Version 1 (tagged 1.0.0) says "a red fox", 2 "a grey wolf", 3 (current) "a brown bear"."""
    created = create_workflow(api, graph(ANIMALS[1]), name="Zoo")
    put(api, created, graph(ANIMALS[2]))
    current = put(api, created, graph(ANIMALS[3]))
    tagged = api.post(f"/workflows/{created['id']}/versions/1/tag", {"tag": "1.0.0"})
    assert tagged.status_code == 200, tagged.content
    return current


def said(execution_id: str) -> str:
    """What the run's result node received (the prompt's text), once it has ended."""
    execution = drive(execution_id)
    assert execution.status == "COMPLETED", execution.error
    [value] = [json.dumps(output) for output in execution.final_output.values()]
    for text in ANIMALS.values():
        if text in value:
            return text
    raise AssertionError(f"no animal in {value}")


def execute(api: ApiClient, workflow: dict[str, Any], body: dict[str, Any]) -> Any:
    return api.post(f"/workflows/{workflow['id']}/execute", body)


# --- Execute ----------------------------------------------------------------------------------

@pytest.mark.parametrize(("ref", "number"), [(1, 1), ("1", 1), ("1.0.0", 1), ("v1.0.0", 1),
                                             (2, 2), (3, 3)])
def test_execute_runs_the_version_named_and_records_it(
        api: ApiClient, workflow: dict[str, Any], ref: Any, number: int) -> None:
    response = execute(api, workflow, {"version": ref})
    assert response.status_code == 201, response.content
    execution_id = response.json()["executionId"]
    assert said(execution_id) == ANIMALS[number]
    version = WorkflowVersion.objects.get(workflow_id=workflow["id"], version=number)
    assert Execution.objects.get(pk=execution_id).workflow_version == version
    poll = api.get(f"/workflows/executions/{execution_id}/poll").json()
    assert (poll["version"], poll["versionTag"]) == (number, "1.0.0" if number == 1 else None)
    details = api.get(f"/workflows/executions/{execution_id}").json()
    assert (details["version"], details["versionId"]) == (number, str(version.pk))
    assert (details["graph"]["nodes"], details["graph"]["edges"]) == (version.nodes,
                                                                      version.edges)


def test_without_a_version_the_current_graph_runs_as_the_latest_version(
        api: ApiClient, workflow: dict[str, Any]) -> None:
    execution_id = execute(api, workflow, {}).json()["executionId"]
    assert said(execution_id) == ANIMALS[3]
    poll = api.get(f"/workflows/executions/{execution_id}/poll").json()
    assert (poll["version"], poll["versionTag"]) == (3, None)


def test_a_graph_sent_with_the_execute_has_no_version(api: ApiClient,
                                                      workflow: dict[str, Any]) -> None:
    execution_id = execute(api, workflow, graph("a lynx")).json()["executionId"]
    drive(execution_id)
    poll = api.get(f"/workflows/executions/{execution_id}/poll").json()
    assert (poll["version"], poll["versionTag"]) == (None, None)


def test_the_tag_shown_is_the_version_s_tag_now(api: ApiClient, workflow: dict[str, Any]) -> None:
    execution_id = execute(api, workflow, {"version": 2}).json()["executionId"]
    drive(execution_id)
    api.post(f"/workflows/{workflow['id']}/versions/2/tag", {"tag": "2.0.0-rc.1"})
    poll = api.get(f"/workflows/executions/{execution_id}/poll").json()
    assert (poll["version"], poll["versionTag"]) == (2, "2.0.0-rc.1")


@pytest.mark.parametrize("ref", [4, "4", "9.9.9", "v2.0.0", "latest", 0, -1, "", 10**30])
def test_an_unknown_version_is_404_and_starts_nothing(api: ApiClient, workflow: dict[str, Any],
                                                      ref: Any) -> None:
    response = execute(api, workflow, {"version": ref})
    assert (response.status_code, response.json()) == (404, VERSION_NOT_FOUND)
    assert not Execution.objects.exists()


@pytest.mark.parametrize("ref", [1.5, True, [1], {"number": 1}, "x" * 51])
def test_a_version_of_the_wrong_type_is_400(api: ApiClient, workflow: dict[str, Any],
                                            ref: Any) -> None:
    response = execute(api, workflow, {"version": ref})
    assert (response.status_code, response.json()["code"]) == (400, "invalid_request")
    assert "version" in response.json()["fields"]
    assert not Execution.objects.exists()


@pytest.mark.parametrize("override", ["nodes", "edges"])
def test_a_version_and_a_graph_together_are_400(api: ApiClient, workflow: dict[str, Any],
                                                override: str) -> None:
    body = {"version": 1, override: graph("a lynx")[override]}
    response = execute(api, workflow, body)
    assert (response.status_code, response.json()["code"]) == (400, "invalid_request")
    assert response.json()["fields"] == ["version"]
    assert not Execution.objects.exists()


def test_a_stranger_cannot_run_a_version(workflow: dict[str, Any], stranger: User,
                                         api_for: Callable[..., ApiClient]) -> None:
    response = execute(api_for(stranger), workflow, {"version": 1})
    assert (response.status_code, response.json()["error"]) == (404, "Workflow not found")


def test_a_pinned_version_that_no_longer_validates_is_422(api: ApiClient,
                                                          workflow: dict[str, Any]) -> None:
    old = WorkflowVersion.objects.get(workflow_id=workflow["id"], version=2)
    old.nodes = [*old.nodes, node("gone", "generate:no_such_model", "Gone")]
    old.save(update_fields=["nodes"])
    response = execute(api, workflow, {"version": 2})
    assert (response.status_code, response.json()["code"]) == (422, "invalid_graph")
    assert not Execution.objects.exists()


# --- Run with inputs --------------------------------------------------------------------------

def test_run_takes_a_version(api: ApiClient, workflow: dict[str, Any]) -> None:
    response = api.post(f"/workflows/{workflow['id']}/run", {"version": "1.0.0"})
    assert response.status_code == 202, response.content
    execution_id = response.json()["executionId"]
    assert said(execution_id) == ANIMALS[1]
    assert Execution.objects.get(pk=execution_id).workflow_version.version == 1  # type: ignore[union-attr]
    given = api.post(f"/workflows/{workflow['id']}/run",
                     {"version": 2, "inputs": {"Prompt": "an owl"}})
    assert "an owl" in json.dumps(drive(given.json()["executionId"]).final_output)
    missing = api.post(f"/workflows/{workflow['id']}/run", {"version": "3.0.0"})
    assert (missing.status_code, missing.json()) == (404, VERSION_NOT_FOUND)


def test_run_checks_the_inputs_of_the_version_it_runs(api: ApiClient,
                                                      workflow: dict[str, Any]) -> None:
    required = graph("")
    required["nodes"][0]["data"]["params"]["required"] = True
    put(api, workflow, required)  # version 4 needs the prompt; version 3 does not
    refused = api.post(f"/workflows/{workflow['id']}/run", {})
    assert (refused.status_code, refused.json()["fields"]) == (400, ["inputs.prompt"])
    assert api.post(f"/workflows/{workflow['id']}/run", {"version": 3}).status_code == 202
    described = api.get(f"/workflows/{workflow['id']}/run?version=3").json()
    assert described["inputs"][0]["default"] == ANIMALS[3]
    assert api.get(f"/workflows/{workflow['id']}/run?version=9").json() == VERSION_NOT_FOUND


# --- The webhook trigger ----------------------------------------------------------------------

def fire(workflow: dict[str, Any], body: dict[str, Any]) -> Any:
    return Client().post(f"/api/v1/workflow/{workflow['webhookId']}/trigger",
                         data=json.dumps(body), content_type="application/json")


@pytest.fixture
def hooked(api: ApiClient, workflow: dict[str, Any]) -> dict[str, Any]:
    return put(api, workflow, graph(ANIMALS[3]), webhookEnabled=True)


def test_the_webhook_runs_the_current_graph_unless_pinned(api: ApiClient,
                                                          hooked: dict[str, Any]) -> None:
    assert said(fire(hooked, {}).json()["executionId"]) == ANIMALS[3]
    put(api, hooked, graph(ANIMALS[3]), webhookVersion="v1.0.0")
    response = fire(hooked, {})
    assert response.status_code == 202, response.content
    execution_id = response.json()["executionId"]
    assert said(execution_id) == ANIMALS[1]
    poll = api.get(f"/workflows/executions/{execution_id}/poll").json()
    assert (poll["trigger"], poll["version"], poll["versionTag"]) == ("webhook", 1, "1.0.0")
    # Editing the workflow does not change what the pinned webhook runs.
    put(api, hooked, graph("a moose"))
    assert said(fire(hooked, {}).json()["executionId"]) == ANIMALS[1]


def test_a_body_that_names_a_version_wins_over_the_pin(api: ApiClient,
                                                       hooked: dict[str, Any]) -> None:
    put(api, hooked, graph(ANIMALS[3]), webhookVersion=1)
    assert said(fire(hooked, {"version": 2}).json()["executionId"]) == ANIMALS[2]
    assert said(fire(hooked, {"version": "v1.0.0"}).json()["executionId"]) == ANIMALS[1]
    assert said(fire(hooked, {"version": None}).json()["executionId"]) == ANIMALS[1]
    execution = Execution.objects.get(trigger_data={"version": 2})
    assert execution.workflow_version.version == 2  # type: ignore[union-attr]


@pytest.mark.parametrize("ref", [9, "9.9.9", "nope", [1], {"a": 1}, True])
def test_the_webhook_answers_404_for_an_unknown_version(hooked: dict[str, Any],
                                                        ref: Any) -> None:
    response = fire(hooked, {"version": ref})
    assert (response.status_code, response.json()) == (404, VERSION_NOT_FOUND)
    assert response["Access-Control-Allow-Origin"] == "*"
    assert not Execution.objects.exists()


def test_an_input_named_version_stays_an_input(api: ApiClient, hooked: dict[str, Any]) -> None:
    body = graph(ANIMALS[3])
    body["nodes"][0]["data"]["label"] = "Version"
    put(api, hooked, body)  # version 4
    execution_id = fire(hooked, {"version": "an owl"}).json()["executionId"]
    assert "an owl" in json.dumps(drive(execution_id).final_output)
    assert Execution.objects.get(pk=execution_id).workflow_version.version == 4  # type: ignore[union-attr]


# --- History ----------------------------------------------------------------------------------

def test_the_history_says_which_version_each_run_ran(api: ApiClient,
                                                     workflow: dict[str, Any]) -> None:
    ran = [execute(api, workflow, body).json()["executionId"]
           for body in ({"version": "1.0.0"}, {"version": 2}, {}, graph("a lynx"))]
    listed = api.get(f"/workflows/{workflow['id']}/executions").json()["executions"]
    shown = {e["executionId"]: (e["version"], e["versionTag"]) for e in listed}
    assert [shown[execution_id] for execution_id in ran] == [
        (1, "1.0.0"), (2, None), (3, None), (None, None)]


# --- Estimate ---------------------------------------------------------------------------------

def test_the_estimate_prices_the_version_named(api: ApiClient) -> None:
    priced = simple_graph()
    priced["nodes"].insert(1, node("gen", "generate:flux_2", "Generate"))
    priced["edges"] = [
        {"id": "e1", "source": "prompt", "target": "gen", "sourceHandle": "out-text",
         "targetHandle": "in-prompt"},
        {"id": "e2", "source": "gen", "target": "result", "sourceHandle": "out-image",
         "targetHandle": "in-value"}]
    created = create_workflow(api, priced)
    put(api, created, simple_graph())  # version 2 costs nothing
    path = f"/workflows/{created['id']}/estimate"
    assert api.post(path, {}).json()["estimatedCredits"] == 0
    assert api.post(path, {"version": 1}).json()["estimatedCredits"] > 0
    assert api.post(path, {"version": 9}).json() == VERSION_NOT_FOUND

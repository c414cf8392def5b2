"""JSON that PostgreSQL refuses to store (a NUL character, a lone surrogate), in any field of
any JSON body, as a value or as a key: the API answers 400 invalid_request naming the field and
changes nothing. Python's json module parses all of it, so each endpoint must check."""

import json
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client

from executions.engine.nodectx import webhook_url
from executions.models import Execution, NodeRun, NodeStatus
from tests.builders import node
from tests.conftest import ApiClient
from workflows.models import Workflow, WorkflowVersion

from .run_helpers import create_workflow, error_of, inputs_graph

pytestmark = pytest.mark.django_db

UNSTORABLE = {"NUL": "a\u0000b", "lone high surrogate": "a\ud800b",
              "lone low surrogate": "\udfff"}
Body = dict[str, Any]


def raw(body: Body) -> str:
    return json.dumps(body)  # ensure_ascii: NUL and surrogates travel as \u escapes


def _graph(bad: str, where: str) -> Body:
    graph = inputs_graph()
    prompt = graph["nodes"][0]
    if where == "param":
        prompt["data"]["params"]["text"] = bad
    elif where == "label":
        prompt["data"]["label"] = bad
    elif where == "key":
        prompt["data"][bad] = "a UI hint"
    else:
        graph["edges"][0]["id"] = bad
    return graph


# (what is sent, the field the answer must name), for each body a client can send.
WORKFLOW_BODIES: dict[str, tuple[Callable[[str], Body], str]] = {
    "name": (lambda bad: {"name": bad, **inputs_graph()}, "name"),
    "description": (lambda bad: {"name": "x", "description": bad, **inputs_graph()},
                    "description"),
    "a tag": (lambda bad: {"name": "x", "tags": ["ok", bad], **inputs_graph()}, "tags"),
    "a node param": (lambda bad: {"name": "x", **_graph(bad, "param")}, "nodes"),
    "a node label": (lambda bad: {"name": "x", **_graph(bad, "label")}, "nodes"),
    "a key of node data": (lambda bad: {"name": "x", **_graph(bad, "key")}, "nodes"),
    "an edge id": (lambda bad: {"name": "x", **_graph(bad, "edge")}, "edges"),
}
UPDATE_BODIES = {**WORKFLOW_BODIES, "webhookSecret": (
    lambda bad: {"name": "x", "webhookSecret": bad + "-long-enough-secret", **inputs_graph()},
    "webhookSecret")}
EXECUTE_BODIES: dict[str, tuple[Callable[[str], Body], str]] = {
    "an input value": (lambda bad: {"inputs": {"Prompt": bad}}, "inputs"),
    "an input key": (lambda bad: {"inputs": {bad: "x"}}, "inputs"),
    "triggerData": (lambda bad: {"triggerData": {"form": {"field": bad}}}, "triggerData"),
    "a triggerData key": (lambda bad: {"triggerData": {bad: 1}}, "triggerData"),
    "targetNodeId": (lambda bad: {"targetNodeId": bad}, "targetNodeId"),
    "the graph's nodes": (lambda bad: _graph(bad, "param"), "nodes"),
    "a key in the graph's nodes": (lambda bad: _graph(bad, "key"), "nodes"),
    "the graph's edges": (lambda bad: _graph(bad, "edge"), "edges"),
}
RUN_BODIES: dict[str, tuple[Callable[[str], Body], str]] = {
    "an input value": (lambda bad: {"inputs": {"Prompt": bad, "Style": "photo"}}, "inputs"),
    "an input key": (lambda bad: {"inputs": {bad: "x", "Style": "photo"}}, "inputs"),
}


def _cases(bodies: dict[str, tuple[Callable[[str], Body], str]]) -> list[Any]:
    return [pytest.param(build, field, bad, id=f"{name}-{kind}")
            for name, (build, field) in bodies.items() for kind, bad in UNSTORABLE.items()]


def assert_refused(response: Any, field: str) -> None:
    assert error_of(response) == (400, "invalid_request"), response.content
    named = response.json()["fields"]
    assert any(f == field or f.startswith(f"{field}.") for f in named), named


@pytest.fixture
def workflow(api: ApiClient) -> Body:
    return create_workflow(api, inputs_graph())


@pytest.mark.parametrize(("build", "field", "bad"), _cases(WORKFLOW_BODIES))
def test_creating_a_workflow(api: ApiClient, build: Callable[[str], Body], field: str,
                             bad: str) -> None:
    assert_refused(api.post("/workflows", raw=raw(build(bad))), field)
    assert Workflow.objects.count() == 0


@pytest.mark.parametrize(("build", "field", "bad"), _cases(UPDATE_BODIES))
def test_replacing_a_workflow(api: ApiClient, workflow: Body, build: Callable[[str], Body],
                              field: str, bad: str) -> None:
    assert_refused(api.put(f"/workflows/{workflow['id']}", raw=raw(build(bad))), field)
    assert (Workflow.objects.get().version, WorkflowVersion.objects.count()) == (1, 1)


@pytest.mark.parametrize(("build", "field", "bad"), _cases(EXECUTE_BODIES))
@pytest.mark.parametrize("endpoint", ["execute", "estimate"])
def test_executing_or_estimating(api: ApiClient, workflow: Body, endpoint: str,
                                 build: Callable[[str], Body], field: str, bad: str) -> None:
    body = {"inputs": {"Style": "photo"}, **build(bad)}
    assert_refused(api.post(f"/workflows/{workflow['id']}/{endpoint}", raw=raw(body)), field)
    assert Execution.objects.count() == 0


@pytest.mark.parametrize(("build", "field", "bad"), _cases(RUN_BODIES))
def test_running_with_inputs(api: ApiClient, workflow: Body, build: Callable[[str], Body],
                             field: str, bad: str) -> None:
    assert_refused(api.post(f"/workflows/{workflow['id']}/run", raw=raw(build(bad))), field)
    assert Execution.objects.count() == 0


@pytest.mark.parametrize("bad", UNSTORABLE.values(), ids=UNSTORABLE.keys())
@pytest.mark.parametrize("where", ["value", "key", "nested"])
def test_the_public_webhook_trigger(api: ApiClient, workflow: Body, bad: str,
                                    where: str) -> None:
    enabled = api.put(f"/workflows/{workflow['id']}", {**inputs_graph(), "name": "x",
                                                       "webhookEnabled": True}).json()
    bodies: dict[str, Body] = {"value": {"Style": bad}, "key": {bad: "x"},
                               "nested": {"Style": "photo", "form": [{"a": bad}]}}
    body = bodies[where]
    response = Client().post(f"/api/v1/workflow/{enabled['webhookId']}/trigger", data=raw(body),
                             content_type="application/json")
    assert_refused(response, "body")
    assert Execution.objects.count() == 0


@pytest.mark.parametrize("bad", UNSTORABLE.values(), ids=UNSTORABLE.keys())
def test_linting_stores_nothing_and_answers(api: ApiClient, bad: str) -> None:
    response = api.post("/workflows/lint", raw=raw(_graph(bad, "param")))
    assert response.status_code == 200


@pytest.mark.parametrize("bad", UNSTORABLE.values(), ids=UNSTORABLE.keys())
def test_a_provider_delivery_that_cannot_be_stored_is_left_for_the_engine_to_fetch(
        api: ApiClient, bad: str) -> None:
    graph = {"nodes": [node("p", "input:text", "Prompt", text="a fox"),
                       node("g", "generate:flux_2", "Generate", x=300)],
             "edges": [{"id": "e1", "source": "p", "target": "g", "sourceHandle": "out-text",
                        "targetHandle": "in-prompt"}]}
    workflow = create_workflow(api, graph)
    assert api.post(f"/workflows/{workflow['id']}/execute", {}).status_code == 201
    NodeRun.objects.filter(node_id="g").update(status=NodeStatus.RUNNING, request_id="req-1")
    run = NodeRun.objects.get(node_id="g")
    delivery = {"request_id": "req-1", "status": "OK", "payload": {"images": [{"url": bad}]}}

    path = "/" + webhook_url(run).split("/", 3)[3]  # the site's own URL for this run
    response = Client().post(path, data=raw(delivery), content_type="application/json")

    assert response.status_code == 200
    run.refresh_from_db()
    assert "delivered" not in run.remote

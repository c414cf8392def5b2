"""Schemathesis over /api/v1/openapi.json. Every operation gets valid and invalid requests (a
bounded, deterministic set), sent through the WSGI app on the test database, and the run fails
on any 5xx, on any response the document does not describe (status code, content type, body
schema), and on schema-invalid input that is accepted. `positive_data_acceptance` is left out
on purpose: a schema-valid graph that breaks a graph rule is rightly refused with 422.

With a key, path ids point at a real workflow and execution of the key's team, so requests get
past the lookup into the code that reads their bodies and queries (unknown ids are covered by
every endpoint's stranger test). Without a key, every answer must still be a documented one."""

import socket
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.config import SchemathesisConfig
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
)

from wireflow_site.wsgi import application

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_schema_conformance, negative_data_rejection]
SCHEMA_URL = "/api/v1/openapi.json"
SEED = 20261128


def _config(max_examples: int, coverage: bool, keyed: bool) -> SchemathesisConfig:
    return SchemathesisConfig.from_dict({
        "seed": SEED,
        # With a key, every request carries the key's own Authorization header: a generated one
        # (the document's bearer scheme) would be overwritten, and a case made "invalid" by a
        # missing or malformed one would pass as valid. Without a key, they are generated.
        "generation": {"mode": "all", "max-examples": max_examples, "deterministic": True,
                       "with-security-parameters": not keyed},
        # The coverage phase (boundary and invalid values of each parameter, a finite list)
        # runs besides the max-examples random cases; stateful chains are left out (unbounded).
        "phases": {"coverage": {"enabled": coverage}, "stateful": {"enabled": False}},
    })


with_key = schemathesis.openapi.from_wsgi(
    SCHEMA_URL, application, config=_config(max_examples=25, coverage=True, keyed=True))
without_key = schemathesis.openapi.from_wsgi(
    SCHEMA_URL, application, config=_config(max_examples=5, coverage=False, keyed=False))
# One team and one key for all the cases of an operation, on purpose.
SHARED_FIXTURES = settings(deadline=None,
                           suppress_health_check=[HealthCheck.function_scoped_fixture])


@dataclass(frozen=True)
class Resources:
    secret: str
    ids: dict[str, str]


def _graph() -> dict[str, Any]:
    """A valid graph that costs no credits: a text input wired to an output."""
    nodes = [{"id": n, "type": "basedNode", "position": {"x": 0, "y": 0},
              "data": {"label": n, "nodeType": kind, "params": params}}
             for n, kind, params in [("p", "input:text", {"text": "a fox"}),
                                     ("out", "output:result", {})]]
    edges = [{"id": "e1", "source": "p", "target": "out", "sourceHandle": "out-text",
              "targetHandle": "in-value"}]
    return {"name": "fuzzed", "nodes": nodes, "edges": edges}


@pytest.fixture(autouse=True)
def _providers_refuse(settings: Any) -> None:
    """Generating a workflow calls the team's LLM during the request. Here no provider answers:
    a port just let go of refuses the connection at once, so the fuzzer sees the documented
    error event quickly, and never whatever else may listen at the default SITE_URL."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{sock.getsockname()[1]}"
    settings.OPENAI_BASE_URL = f"{closed}/v1"
    settings.ANTHROPIC_BASE_URL = closed


@pytest.fixture
def resources(api_for: Any, owner: Any) -> Iterator[Resources]:
    client = api_for(owner)
    workflow = client.post("/workflows", _graph())
    assert workflow.status_code == 201, workflow.content
    workflow_id = workflow.json()["id"]
    execution = client.post(f"/workflows/{workflow_id}/execute", {})
    assert execution.status_code == 201, execution.content
    with _connection_kept():
        yield Resources(secret=client.secret,
                        ids={"workflow_id": workflow_id,
                             "execution_id": execution.json()["executionId"]})


@pytest.fixture
def no_resources(db: None) -> Iterator[None]:
    with _connection_kept():
        yield


@contextmanager
def _connection_kept() -> Iterator[None]:
    """The fuzzer's requests go straight to the WSGI handler, which closes the database
    connection after each one, and with it the test's transaction. Django's test client unhooks
    the same handler for the same reason (and hooks it back after each of its own requests,
    so this comes after the fixtures' API calls)."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


def _aim(case: Any, resources: Resources) -> None:
    if case.path.endswith("/events"):
        # The event stream of a running execution lasts until it ends, and no worker runs
        # here; the stream itself is tested live in tests/engine/test_sse.py. Its unknown-id,
        # auth and Last-Event-ID validation answers are still fuzzed.
        return
    for name, value in resources.ids.items():
        if case.path_parameters and name in case.path_parameters:
            case.path_parameters[name] = value


@with_key.parametrize()
@SHARED_FIXTURES
def test_every_response_is_what_the_openapi_document_promises(case: Any,
                                                               resources: Resources) -> None:
    _aim(case, resources)
    case.call_and_validate(headers={"Authorization": f"Bearer {resources.secret}"},
                           checks=CHECKS)


@without_key.parametrize()
@SHARED_FIXTURES
def test_without_a_key_every_response_is_still_a_documented_one(case: Any,
                                                                 no_resources: None) -> None:
    case.call_and_validate(checks=CHECKS)


# --- Bugs the fuzzer found, pinned as fixed cases through the same checks ----------------------

def _documented(operation: str, path_parameters: dict[str, str], resources: Resources,
                **request: Any) -> Any:
    method, path = operation.split(" ", 1)
    case = with_key[path][method].Case(path_parameters=path_parameters, **request)
    return case.call_and_validate(headers={"Authorization": f"Bearer {resources.secret}"},
                                  checks=CHECKS)


@pytest.mark.parametrize("operation", ["POST /api/v1/workflows/{workflow_id}/execute",
                                       "POST /api/v1/workflows/{workflow_id}/run"])
def test_a_reused_idempotency_key_answers_a_documented_422(operation: str,
                                                           resources: Resources) -> None:
    ids = {"workflow_id": resources.ids["workflow_id"]}
    key = {"Idempotency-Key": "fuzz-1"}
    _documented(operation, ids, resources, headers=key, body={"inputs": {"p": "one"}})
    reused = _documented(operation, ids, resources, headers=key, body={"inputs": {"p": "two"}})
    assert reused.status_code == 422
    assert reused.json()["code"] == "idempotency_key_reused"


@pytest.mark.parametrize("operation", ["POST /api/v1/workflows/{workflow_id}/execute",
                                       "POST /api/v1/workflows/{workflow_id}/run"])
def test_a_team_short_of_credits_gets_a_documented_402(operation: str, make_user: Any,
                                                       api_for: Any, settings: Any) -> None:
    settings.SIGNUP_CREDITS = 0
    client = api_for(make_user())
    graph = _graph()
    graph["nodes"][1]["data"].update(nodeType="generate:flux_2", params={})
    graph["edges"][0]["targetHandle"] = "in-prompt"
    workflow = client.post("/workflows", graph)
    assert workflow.status_code == 201, workflow.content
    poor = Resources(secret=client.secret, ids={})
    with _connection_kept():
        answer = _documented(operation, {"workflow_id": workflow.json()["id"]}, poor,
                             body={"inputs": {}})
    assert answer.status_code == 402
    assert answer.json()["code"] == "insufficient_credits"

"""Write-only node params (output:webhook's signing secret): stored sealed, never shown again.

Every way a graph is written (create, update, execute with a graph of its own, duplicate) stores
the secret encrypted; every way one is read (workflow get and list, the answers of writes,
execution details, the editor page) shows only that a secret is set."""

import copy
import importlib
from collections.abc import Callable
from typing import Any

import pytest
from django.apps import apps
from django.test import Client

from accounts.models import User
from accounts.services import team_create_and_switch
from executions.models import Execution, NodeRun
from tests.conftest import ApiClient
from workflows import secretbox
from workflows.models import Workflow, WorkflowVersion
from workflows.node_secrets import PLACEHOLDER

from .graph_builders import edge, node

pytestmark = pytest.mark.django_db
SECRET = "whsec-node-0123456789-abcdef"


def webhook_graph(secret: Any = SECRET, node_id: str = "hook") -> dict[str, Any]:
    params = {"url": "https://receiver.example.com/hook"}
    if secret is not None:
        params["secret"] = secret
    return {"nodes": [node("prompt", "input:text", {"text": "a red fox"}),
                      node(node_id, "output:webhook", params)],
            "edges": [edge("e1", "prompt", node_id, "text", "value")]}


def secret_of(nodes: list[dict[str, Any]], node_id: str = "hook") -> Any:
    [found] = [n for n in nodes if n["id"] == node_id]
    return found["data"]["params"].get("secret")


def create(api: ApiClient, graph: dict[str, Any] | None = None) -> dict[str, Any]:
    response = api.post("/workflows", {"name": "Hooked", **(graph or webhook_graph())})
    assert response.status_code == 201, response.content
    return response.json()  # type: ignore[no-any-return]


def put(api: ApiClient, workflow: dict[str, Any], nodes: list[dict[str, Any]]) -> Any:
    return api.put(f"/workflows/{workflow['id']}",
                   {"name": workflow["name"], "nodes": nodes, "edges": workflow["edges"]})


def stored_secret() -> str:
    return str(secret_of(Workflow.objects.get().nodes))


def assert_hidden(text: str) -> None:
    assert SECRET not in text
    assert secretbox.SEALED_PREFIX not in text


# --- Stored sealed ----------------------------------------------------------------------------

def test_the_secret_is_stored_sealed_in_the_workflow_and_its_version(api: ApiClient) -> None:
    create(api)

    stored = stored_secret()
    version = secret_of(WorkflowVersion.objects.get().nodes)

    assert secretbox.is_sealed_param(stored) and SECRET not in stored
    assert version == stored
    assert secretbox.reveal_param(stored) == SECRET


# --- Never shown --------------------------------------------------------------------------------

def test_every_workflow_answer_shows_only_that_a_secret_is_set(api: ApiClient) -> None:
    created = api.post("/workflows", {"name": "Hooked", **webhook_graph()})
    workflow = created.json()
    updated = put(api, workflow, workflow["nodes"])
    enabled = api.put(f"/workflows/{workflow['id']}", {**webhook_graph(PLACEHOLDER),
                                                            "name": "x", "webhookEnabled": True})
    rotated = api.post(f"/workflows/{workflow['id']}/webhook/rotate")

    answers = [created, updated, enabled, rotated, api.get(f"/workflows/{workflow['id']}"),
               api.get("/workflows")]
    for answer in answers:
        assert answer.status_code in (200, 201), answer.content
        assert_hidden(answer.content.decode())
    assert secret_of(api.get(f"/workflows/{workflow['id']}").json()["nodes"]) == PLACEHOLDER
    assert secret_of(api.get("/workflows").json()[0]["nodes"]) == PLACEHOLDER


def test_an_unset_secret_reads_empty_not_as_the_placeholder(api: ApiClient) -> None:
    workflow = create(api, webhook_graph(""))
    assert secret_of(api.get(f"/workflows/{workflow['id']}").json()["nodes"]) == ""


def test_the_editor_page_does_not_carry_the_secret(api: ApiClient, owner: User) -> None:
    workflow = create(api)
    browser = Client()
    browser.force_login(owner)
    for page in (f"/workflows/{workflow['id']}/edit", f"/workflows/{workflow['id']}/settings/",
                 "/workflows/"):
        response = browser.get(page)
        assert response.status_code == 200, page
        assert_hidden(response.content.decode())


def test_a_lint_of_a_graph_with_a_secret_does_not_echo_it(api: ApiClient) -> None:
    response = api.post("/workflows/lint", webhook_graph("x" * 501 + SECRET))
    assert response.status_code == 200
    assert response.json()["ok"] is False
    assert SECRET not in response.content.decode()


# --- Write-only: what a save keeps --------------------------------------------------------------

def test_a_save_that_sends_the_placeholder_back_keeps_the_secret(api: ApiClient) -> None:
    workflow = create(api)
    before = stored_secret()

    saved = put(api, workflow, workflow["nodes"])  # what the editor sends: what it read

    assert saved.status_code == 200, saved.content
    assert stored_secret() == before


def test_a_save_that_leaves_the_secret_out_keeps_it(api: ApiClient) -> None:
    workflow = create(api)
    before = stored_secret()

    saved = put(api, workflow, webhook_graph(secret=None)["nodes"])

    assert saved.status_code == 200, saved.content
    assert stored_secret() == before


def test_a_save_with_an_empty_secret_clears_it(api: ApiClient) -> None:
    workflow = create(api)
    saved = put(api, workflow, webhook_graph("")["nodes"])
    assert secret_of(saved.json()["nodes"]) == ""
    assert stored_secret() == ""


def test_a_save_with_a_new_secret_replaces_it(api: ApiClient) -> None:
    workflow = create(api)
    saved = put(api, workflow, webhook_graph("another-secret-of-20-chars")["nodes"])
    assert secret_of(saved.json()["nodes"]) == PLACEHOLDER
    assert secretbox.reveal_param(stored_secret()) == "another-secret-of-20-chars"


def test_a_secret_that_looks_sealed_is_taken_as_plain_text(api: ApiClient) -> None:
    # Nobody can smuggle in a token sealed elsewhere: what a client sends is always a plaintext.
    workflow = create(api)
    foreign = secretbox.seal_param("someone else's secret")
    put(api, workflow, webhook_graph(foreign)["nodes"])
    assert secretbox.reveal_param(stored_secret()) == foreign


@pytest.mark.parametrize("change", ["another id", "another node type"])
def test_the_placeholder_on_a_node_without_a_stored_secret_is_422(api: ApiClient,
                                                                 change: str) -> None:
    workflow = create(api)
    nodes = copy.deepcopy(workflow["nodes"])
    edges = workflow["edges"]
    if change == "another id":  # a pasted copy of the node
        nodes.append({**copy.deepcopy(nodes[1]), "id": "hook-copy"})
        edges = [*edges, edge("e2", "prompt", "hook-copy", "text", "value")]
        expected = "hook-copy"
    else:
        Workflow.objects.update(nodes=[
            n if n["id"] != "hook" else {**n, "data": {**n["data"], "nodeType": "output:result"}}
            for n in Workflow.objects.get().nodes])
        expected = "hook"
    response = api.put(f"/workflows/{workflow['id']}",
                       {"name": "Hooked", "nodes": nodes, "edges": edges})

    assert response.status_code == 422, response.content
    [violation] = response.json()["violations"]
    assert (violation["rule"], violation["nodeId"]) == ("invalid_params", expected)
    assert "enter the secret again" in violation["message"]


def test_a_secret_over_500_characters_is_refused(api: ApiClient) -> None:
    response = api.post("/workflows", {"name": "Hooked", **webhook_graph("s" * 501)})
    assert response.status_code == 422
    assert response.json()["violations"][0]["rule"] == "invalid_params"
    assert Workflow.objects.count() == 0


def test_a_secret_of_500_characters_is_kept_whole(api: ApiClient) -> None:
    create(api, webhook_graph("é" * 500))
    assert secretbox.reveal_param(stored_secret()) == "é" * 500


def test_a_secret_sealed_under_a_retired_key_must_be_entered_again(api: ApiClient,
                                                                   settings: Any) -> None:
    workflow = create(api)
    settings.SECRET_KEY = "a-new-secret-key-without-the-old-one-as-a-fallback"

    response = put(api, workflow, workflow["nodes"])

    assert response.status_code == 422
    assert "cannot be read" in response.json()["violations"][0]["message"]


# --- Duplicates ---------------------------------------------------------------------------------

def test_a_duplicate_in_the_same_team_keeps_the_secret_sealed(api: ApiClient) -> None:
    workflow = create(api)

    copied = api.post(f"/workflows/{workflow['id']}/duplicate")

    assert copied.status_code == 201
    assert_hidden(copied.content.decode())
    copy_row = Workflow.objects.get(pk=copied.json()["id"])
    assert secretbox.reveal_param(secret_of(copy_row.nodes)) == SECRET
    assert secret_of(api.get(f"/workflows/{copy_row.pk}").json()["nodes"]) == PLACEHOLDER


def test_a_duplicate_into_another_team_leaves_the_secret_behind(api: ApiClient,
                                                                owner: User) -> None:
    workflow = create(api)
    other = team_create_and_switch(user=owner, name="Side project")
    browser = Client()
    browser.force_login(owner)

    copied = browser.post(f"/api/v1/workflows/{workflow['id']}/duplicate")

    assert copied.status_code == 201, copied.content
    copy_row = Workflow.objects.get(pk=copied.json()["id"])
    assert copy_row.team == other
    assert secret_of(copy_row.nodes) == ""


# --- Executions ---------------------------------------------------------------------------------

def execute(api: ApiClient, workflow: dict[str, Any], body: dict[str, Any] | None = None) -> Any:
    return api.post(f"/workflows/{workflow['id']}/execute", body or {})


def test_an_execution_stores_the_sealed_secret_and_its_details_hide_it(api: ApiClient) -> None:
    workflow = create(api)

    started = execute(api, workflow)
    details = api.get(f"/workflows/executions/{started.json()['executionId']}")

    assert started.status_code == 201
    execution = Execution.objects.get()
    assert secret_of(execution.nodes) == stored_secret()  # sealed, as saved
    assert details.status_code == 200
    assert_hidden(details.content.decode())
    assert secret_of(details.json()["graph"]["nodes"]) == PLACEHOLDER


def test_an_execute_with_a_graph_of_its_own_seals_a_new_secret(api: ApiClient) -> None:
    workflow = create(api)

    started = execute(api, workflow, webhook_graph("a-one-off-secret-for-this-run"))

    assert started.status_code == 201, started.content
    stored = secret_of(Execution.objects.get().nodes)
    assert secretbox.reveal_param(stored) == "a-one-off-secret-for-this-run"
    details = api.get(f"/workflows/executions/{started.json()['executionId']}")
    assert "a-one-off-secret-for-this-run" not in details.content.decode()


@pytest.mark.parametrize("secret", [PLACEHOLDER, None])
def test_an_execute_with_a_graph_of_its_own_keeps_the_saved_secret(api: ApiClient,
                                                                  secret: Any) -> None:
    workflow = create(api)
    started = execute(api, workflow, webhook_graph(secret))
    assert started.status_code == 201, started.content
    assert secret_of(Execution.objects.get().nodes) == stored_secret()


def test_an_estimate_of_a_graph_with_a_placeholder_of_nothing_is_422(api: ApiClient) -> None:
    workflow = create(api, webhook_graph(""))
    response = api.post(f"/workflows/{workflow['id']}/estimate", webhook_graph(PLACEHOLDER))
    assert response.status_code == 422
    assert response.json()["violations"][0]["nodeId"] == "hook"


def test_a_node_run_s_stored_input_shows_only_the_placeholder(api: ApiClient) -> None:
    workflow = create(api)
    started = execute(api, workflow)
    # What the engine records when the node runs: its params, as validated (sealed).
    run = NodeRun.objects.get(node_id="hook")
    run.input = {"params": {"url": "https://receiver.example.com/hook",
                            "secret": stored_secret(), "retries": 3}, "inputs": {}}
    run.save(update_fields=["input"])

    details = api.get(f"/workflows/executions/{started.json()['executionId']}").json()

    [state] = [s for s in details["nodeStates"] if s["nodeId"] == "hook"]
    assert state["input"]["params"] == {"url": "https://receiver.example.com/hook",
                                        "secret": PLACEHOLDER, "retries": 3}


# --- Secrets saved before they were sealed --------------------------------------------------------

def test_a_secret_saved_in_plain_text_is_hidden_and_sealed_by_the_migration(
        api: ApiClient, make_user: Callable[..., User]) -> None:
    workflow = create(api, webhook_graph(""))
    execute(api, workflow)
    plain = webhook_graph(SECRET)["nodes"]
    Workflow.objects.update(nodes=plain)
    WorkflowVersion.objects.update(nodes=plain)
    Execution.objects.update(nodes=plain)
    NodeRun.objects.filter(node_id="hook").update(
        input={"params": {"url": "https://receiver.example.com/hook", "secret": SECRET}})
    assert_hidden(api.get(f"/workflows/{workflow['id']}").content.decode())

    migration = importlib.import_module("workflows.migrations.0003_seal_node_secrets")
    migration.seal(apps, None)

    for nodes in (Workflow.objects.get().nodes, WorkflowVersion.objects.get().nodes,
                  Execution.objects.get().nodes,
                  [{"id": "hook", "data": NodeRun.objects.get(node_id="hook").input}]):
        assert secretbox.is_sealed_param(secret_of(nodes))
        assert secretbox.reveal_param(secret_of(nodes)) == SECRET

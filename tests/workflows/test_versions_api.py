"""docs/api.md "Versions": list, read, tag, untag, diff and restore a workflow's versions, through
the full API, as owner, teammate, viewer and stranger; what a save makes a version of; the
webhook's pinned version (PUT and the settings page); an exported workflow imported again."""

import copy
import re
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from accounts.models import User
from accounts.scopes import WORKFLOWS_READ
from tests.conftest import ApiClient
from tests.engine.helpers import save_workflow
from workflows import secretbox
from workflows.models import Workflow, WorkflowVersion
from workflows.node_secrets import PLACEHOLDER
from workflows.versions import semver_normalised

from .graph_builders import edge, node, sticky

pytestmark = pytest.mark.django_db
ISO_MS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
SUMMARY_KEYS = {"number", "tag", "note", "createdAt", "createdBy", "nodeCount", "edgeCount"}
VERSION_NOT_FOUND = {"error": "Version not found", "code": "not_found"}
WORKFLOW_NOT_FOUND = {"error": "Workflow not found", "code": "not_found"}
FORBIDDEN_ROLE = {"error": "Your role in this team cannot do this", "code": "forbidden_role"}
SECRET = "whsec-node-0123456789-abcdef"
NOT_NUMBERS = ["abc", "1.5", "-1", "0", "00", "1e3", "99999999999999999999", "%20", "v1",
               "1.0", "1.0.0.0", "true"]


def graph(text: str = "a red fox", label: str = "Prompt") -> dict[str, Any]:
    """Prompt -> Join -> Result, with a sticky note (a comment, not a node)."""
    nodes = [node("prompt", "input:text", {"text": text}, label=label),
             node("join", "utility:prompt_concat", {"separator": ", "}),
             node("result", "output:result"),
             sticky("note")]
    edges = [edge("e1", "prompt", "join", "text", "texts"),
             edge("e2", "join", "result", "text", "value")]
    return {"nodes": nodes, "edges": edges}


def create(api: ApiClient, body: dict[str, Any] | None = None) -> dict[str, Any]:
    response = api.post("/workflows", {"name": "Versioned", **(body or graph())})
    assert response.status_code == 201, response.content
    return response.json()  # type: ignore[no-any-return]


save = save_workflow


@pytest.fixture
def workflow(api: ApiClient) -> dict[str, Any]:
    """Three versions: 1 "a red fox", 2 "a grey wolf", 3 "a brown bear"."""
    created = create(api)
    save(api, created, graph("a grey wolf"))
    return save(api, created, graph("a brown bear"))


def base(workflow: dict[str, Any]) -> str:
    return f"/workflows/{workflow['id']}/versions"


def tag(client: ApiClient, workflow: dict[str, Any], number: Any, tag_: Any,
        **fields: Any) -> Any:
    return client.post(f"{base(workflow)}/{number}/tag", {"tag": tag_, **fields})


def restore(client: ApiClient, workflow: dict[str, Any], number: Any,
            body: dict[str, Any] | None = None) -> Any:
    path = f"{base(workflow)}/{number}/restore"
    return client.post(path, body) if body is not None else client.post(path, raw="")


def params_of(version: dict[str, Any], node_id: str) -> dict[str, Any]:
    [found] = [n for n in version["nodes"] if n["id"] == node_id]
    return found["data"]["params"]  # type: ignore[no-any-return]


# --- List and read ----------------------------------------------------------------------------

def test_the_list_is_newest_first_with_counts_author_and_times(
        api: ApiClient, workflow: dict[str, Any], owner: User) -> None:
    response = api.get(base(workflow))
    assert response.status_code == 200
    listed = response.json()["versions"]
    assert [v["number"] for v in listed] == [3, 2, 1]
    for summary in listed:
        assert set(summary) == SUMMARY_KEYS
        assert ISO_MS.match(summary["createdAt"])
        assert (summary["tag"], summary["note"], summary["createdBy"]) == (None, "",
                                                                           owner.email)
        # Three nodes and a sticky note: notes are not counted.
        assert (summary["nodeCount"], summary["edgeCount"]) == (3, 2)
    assert listed[0]["createdAt"] == workflow["updatedAt"]


def test_the_list_pages_with_limit_and_before(api: ApiClient, workflow: dict[str, Any]) -> None:
    first = api.get(f"{base(workflow)}?limit=2").json()["versions"]
    assert [v["number"] for v in first] == [3, 2]
    rest = api.get(f"{base(workflow)}?limit=2&before=2").json()["versions"]
    assert [v["number"] for v in rest] == [1]
    assert api.get(f"{base(workflow)}?limit=0").status_code == 400
    assert api.get(f"{base(workflow)}?limit=501").status_code == 400


def test_one_version_adds_its_graph(api: ApiClient, workflow: dict[str, Any]) -> None:
    response = api.get(f"{base(workflow)}/2")
    assert response.status_code == 200
    shown = response.json()
    assert set(shown) == SUMMARY_KEYS | {"nodes", "edges"}
    assert shown["number"] == 2
    assert params_of(shown, "prompt") == {"text": "a grey wolf"}
    stored = WorkflowVersion.objects.get(workflow_id=workflow["id"], version=2)
    assert (shown["nodes"], shown["edges"]) == (stored.nodes, stored.edges)
    assert [e["id"] for e in shown["edges"]] == ["e1", "e2"]


def test_a_version_is_read_by_number_or_by_tag_with_or_without_v(
        api: ApiClient, workflow: dict[str, Any]) -> None:
    assert tag(api, workflow, 2, "1.0.0").status_code == 200
    for ref in ["2", "1.0.0", "v1.0.0"]:
        response = api.get(f"{base(workflow)}/{ref}")
        assert response.status_code == 200, ref
        assert (response.json()["number"], response.json()["tag"]) == (2, "1.0.0")


@pytest.mark.parametrize("ref", ["4", "2.0.0", *NOT_NUMBERS])
def test_a_version_that_is_not_there_is_404(api: ApiClient, workflow: dict[str, Any],
                                            ref: str) -> None:
    for response in [api.get(f"{base(workflow)}/{ref}"),
                     tag(api, workflow, ref, "3.0.0"),
                     api.delete(f"{base(workflow)}/{ref}/tag"),
                     api.get(f"{base(workflow)}/{ref}/diff/1"),
                     api.get(f"{base(workflow)}/1/diff/{ref}"),
                     restore(api, workflow, ref)]:
        assert (response.status_code, response.json()) == (404, VERSION_NOT_FOUND), ref


def test_secrets_in_a_version_are_redacted_like_the_workflow(api: ApiClient) -> None:
    nodes = [node("prompt", "input:text", {"text": "a red fox"}),
             node("hook", "output:webhook", {"url": "https://receiver.example.com/hook",
                                             "secret": SECRET})]
    created = create(api, {"nodes": nodes, "edges": [edge("e1", "prompt", "hook", "text",
                                                          "value")]})
    response = api.get(f"{base(created)}/1")
    assert SECRET not in response.content.decode()
    assert params_of(response.json(), "hook")["secret"] == PLACEHOLDER
    assert response.json()["nodes"] == created["nodes"]


# --- Which saves make a version ---------------------------------------------------------------

def test_a_save_that_changes_nothing_in_the_graph_makes_no_version(
        api: ApiClient, workflow: dict[str, Any]) -> None:
    same = copy.deepcopy(graph("a brown bear"))
    for n in same["nodes"][:3]:
        n["data"]["category"] = "ignored"  # filled in by the server either way
    saved = save(api, workflow, same, description="only the description",
                 baseUpdatedAt=workflow["updatedAt"])
    assert saved["version"] == 3
    assert saved["description"] == "only the description"
    assert saved["updatedAt"] > workflow["updatedAt"]  # an older baseUpdatedAt is now stale
    assert WorkflowVersion.objects.filter(workflow_id=workflow["id"]).count() == 3
    stale = api.put(f"/workflows/{workflow['id']}",
                    {"name": "x", **graph("a moose"), "baseUpdatedAt": workflow["updatedAt"]})
    assert (stale.status_code, stale.json()["code"]) == (409, "stale_write")


def test_a_save_that_changes_the_graph_makes_the_next_version(
        api: ApiClient, workflow: dict[str, Any], teammate: User,
        api_for: Callable[..., ApiClient]) -> None:
    moved = graph("a brown bear")
    moved["nodes"][0]["position"] = {"x": 300, "y": 40}  # a move is a change of the graph
    assert save(api, workflow, moved)["version"] == 4
    changed = graph("a brown bear")
    changed["nodes"].append(node("more", "input:text", {"text": "and a hare"}))
    changed["edges"].append(edge("e3", "more", "join", "text", "texts"))
    assert save(api_for(teammate), workflow, changed)["version"] == 5
    newest = api.get(base(workflow)).json()["versions"][0]
    assert (newest["number"], newest["createdBy"], newest["nodeCount"],
            newest["edgeCount"]) == (5, teammate.email, 4, 3)


def test_resending_the_same_secret_is_no_new_version(api: ApiClient) -> None:
    nodes = [node("prompt", "input:text", {"text": "a red fox"}),
             node("hook", "output:webhook", {"url": "https://receiver.example.com/hook",
                                             "secret": SECRET})]
    body = {"nodes": nodes, "edges": [edge("e1", "prompt", "hook", "text", "value")]}
    created = create(api, body)
    assert save(api, created, body)["version"] == 1  # the same secret, in plaintext
    placeholder = copy.deepcopy(body)
    placeholder["nodes"][1]["data"]["params"]["secret"] = PLACEHOLDER
    assert save(api, created, placeholder)["version"] == 1
    placeholder["nodes"][1]["data"]["params"]["secret"] = "another-secret-0123456789"
    assert save(api, created, placeholder)["version"] == 2


# --- Tags -------------------------------------------------------------------------------------

def test_tagging_answers_the_version_and_stores_the_tag_without_v(
        api: ApiClient, workflow: dict[str, Any]) -> None:
    response = tag(api, workflow, 2, "v1.0.0", note="first release")
    assert response.status_code == 200
    shown = response.json()
    assert (shown["number"], shown["tag"], shown["note"]) == (2, "1.0.0", "first release")
    assert set(shown) == SUMMARY_KEYS | {"nodes", "edges"}
    assert WorkflowVersion.objects.get(workflow_id=workflow["id"], version=2).tag == "1.0.0"
    listed = api.get(base(workflow)).json()["versions"]
    assert [(v["number"], v["tag"]) for v in listed] == [(3, None), (2, "1.0.0"), (1, None)]


def test_tagging_again_with_the_same_tag_is_idempotent(api: ApiClient,
                                                       workflow: dict[str, Any]) -> None:
    first = tag(api, workflow, 2, "1.0.0", note="kept").json()
    again = tag(api, workflow, "2", "v1.0.0")
    assert again.status_code == 200
    assert again.json() == first  # the note is kept when none is sent
    by_tag = tag(api, workflow, "1.0.0", "1.0.0", note="")
    assert (by_tag.status_code, by_tag.json()["note"]) == (200, "")


def test_retagging_a_version_replaces_its_tag(api: ApiClient, workflow: dict[str, Any]) -> None:
    tag(api, workflow, 2, "1.0.0")
    assert tag(api, workflow, 2, "1.0.1").json()["tag"] == "1.0.1"
    assert api.get(f"{base(workflow)}/1.0.0").status_code == 404
    assert tag(api, workflow, 3, "1.0.0").status_code == 200  # the old tag is free again


@pytest.mark.parametrize("taken", ["1.0.0", "v1.0.0"])
def test_a_tag_another_version_has_is_409_version_tag_taken(
        api: ApiClient, workflow: dict[str, Any], taken: str) -> None:
    tag(api, workflow, 2, "1.0.0")
    response = tag(api, workflow, 3, taken)
    assert response.status_code == 409
    assert response.json()["code"] == "version_tag_taken"
    assert "version 2" in response.json()["error"]
    assert WorkflowVersion.objects.get(workflow_id=workflow["id"], version=3).tag == ""


def test_the_same_tag_on_two_workflows_is_fine(api: ApiClient,
                                               workflow: dict[str, Any]) -> None:
    other = create(api)
    assert tag(api, workflow, 1, "1.0.0").status_code == 200
    assert tag(api, other, 1, "1.0.0").status_code == 200


@pytest.mark.parametrize("good", ["0.0.0", "1.4.0", "v1.4.0", "10.20.30", "1.0.0-alpha",
                                  "1.0.0-alpha.1", "1.0.0-0.3.7", "1.0.0-x.7.z.92",
                                  "1.0.0-x-y-z.--", "1.0.0+20130313144700",
                                  "1.0.0-beta+exp.sha.5114f85", "1.0.0+21AF26D3----117B344092BD",
                                  " 2.0.0 "])
def test_semantic_versions_are_tags(api: ApiClient, workflow: dict[str, Any],
                                    good: str) -> None:
    response = tag(api, workflow, 1, good)
    assert response.status_code == 200, response.content
    assert response.json()["tag"] == good.strip().removeprefix("v")


BAD_TAGS = ["", " ", "1", "1.2", "1.2.3.4", "01.2.3", "1.02.3", "1.2.03", "v", "vv1.2.3",
            "V1.2.3", "1.2.3-", "1.2.3+", "1.2.3-01", "1.2.3-a..b", "1.2.3+a..b", "1.2.3-a_b",
            "-1.2.3", "1.-2.3", "a.b.c", "1.2.3 4", "1.2.3\x00", "1.2.3\u00e9", "１.2.3",
            "1.2.3-" + "a" * 40, "1" * 41 + ".0.0", "latest", "1.2.3++", "1.2.3-+"]


@pytest.mark.parametrize("bad", BAD_TAGS)
def test_what_is_no_semantic_version_is_422_invalid_version_tag(
        api: ApiClient, workflow: dict[str, Any], bad: str) -> None:
    response = tag(api, workflow, 1, bad)
    assert response.status_code == 422, (bad, response.content)
    assert response.json()["code"] == "invalid_version_tag"
    assert WorkflowVersion.objects.get(workflow_id=workflow["id"], version=1).tag == ""


@settings(max_examples=200, deadline=None, derandomize=True)
@given(st.text(max_size=60))
def test_semver_check_agrees_with_the_grammar(text: str) -> None:
    reference = re.compile(  # semver.org's suggested pattern, on a bounded string
        r"^v?(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)"
        r"(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)"
        r"(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?"
        r"(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$", re.ASCII)
    expected = bool(reference.match(text)) and len(text.removeprefix("v")) <= 40
    assert (semver_normalised(text) is not None) == expected


@settings(max_examples=40, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.one_of(st.text(max_size=200), st.integers(), st.booleans(), st.none(),
                 st.lists(st.integers(), max_size=3), st.floats(allow_nan=False)))
def test_any_tag_value_is_a_clear_answer_never_a_500(api: ApiClient, workflow: dict[str, Any],
                                                    bad: Any) -> None:
    response = tag(api, workflow, 1, bad)
    assert response.status_code in (200, 400, 409, 422), response.content
    if response.status_code == 422:
        assert response.json()["code"] == "invalid_version_tag"
    elif response.status_code == 400:
        assert response.json()["code"] == "invalid_request"
    elif response.status_code == 200:
        assert semver_normalised(bad.strip()) == response.json()["tag"]
        api.delete(f"{base(workflow)}/1/tag")


def test_a_note_is_at_most_500_characters(api: ApiClient, workflow: dict[str, Any]) -> None:
    assert tag(api, workflow, 1, "1.0.0", note="n" * 500).status_code == 200
    response = tag(api, workflow, 1, "1.0.0", note="n" * 501)
    assert (response.status_code, response.json()["code"]) == (400, "invalid_request")
    assert tag(api, workflow, 1, "1.0.0", note="a\x00b").status_code == 400


@pytest.mark.parametrize("body", ["1.0.0", [], {"note": "no tag"}, {"tag": 1}, {"tag": None},
                                  {"tag": "1.0.0", "note": 5}])
def test_a_malformed_tag_body_is_400(api: ApiClient, workflow: dict[str, Any],
                                     body: Any) -> None:
    response = api.post(f"{base(workflow)}/1/tag", body)
    assert (response.status_code, response.json()["code"]) == (400, "invalid_request")


def test_untagging_takes_the_tag_off(api: ApiClient, workflow: dict[str, Any]) -> None:
    tag(api, workflow, 2, "1.0.0", note="stays")
    response = api.delete(f"{base(workflow)}/1.0.0/tag")
    assert response.status_code == 200
    assert (response.json()["number"], response.json()["tag"], response.json()["note"]) == (
        2, None, "stays")
    again = api.delete(f"{base(workflow)}/2/tag")  # already untagged: nothing to do
    assert (again.status_code, again.json()["tag"]) == (200, None)
    assert api.get(f"{base(workflow)}/1.0.0").status_code == 404


# --- Diff -------------------------------------------------------------------------------------

def test_the_diff_lists_added_removed_and_changed_nodes_and_edges(api: ApiClient) -> None:
    created = create(api)
    changed = graph("a grey wolf", label="Animal")
    nodes = {n["id"]: n for n in changed["nodes"]}
    nodes["join"]["data"]["params"] = {"separator": " | ", "retries": 2}
    nodes["join"]["position"] = {"x": 999, "y": 999}  # moved: not a change
    nodes["result"]["position"] = {"x": -50, "y": 10}  # only moved: not listed at all
    del nodes["note"]
    nodes["extra"] = node("extra", "input:text", {"text": "more"})
    changed["nodes"] = list(nodes.values())
    changed["edges"] = [edge("e1", "prompt", "join", "text", "texts"),
                        edge("e3", "extra", "join", "text", "texts"),
                        edge("e2", "join", "result", "text", "value")]
    save(api, created, changed)
    response = api.get(f"{base(created)}/1/diff/2")
    assert response.status_code == 200
    assert response.json() == {
        "nodesAdded": ["extra"],
        "nodesRemoved": ["note"],
        "nodesChanged": [
            {"nodeId": "prompt", "changes": {
                "label": {"from": "Prompt", "to": "Animal"},
                "params.text": {"from": "a red fox", "to": "a grey wolf"}}},
            {"nodeId": "join", "changes": {
                "params.separator": {"from": ", ", "to": " | "},
                "params.retries": {"from": None, "to": 2}}},
        ],
        "edgesAdded": ["e3"],
        "edgesRemoved": [],
    }
    backwards = api.get(f"{base(created)}/2/diff/1").json()
    assert (backwards["nodesAdded"], backwards["nodesRemoved"]) == (["note"], ["extra"])
    assert (backwards["edgesAdded"], backwards["edgesRemoved"]) == ([], ["e3"])
    assert api.get(f"{base(created)}/2/diff/2").json() == {
        "nodesAdded": [], "nodesRemoved": [], "nodesChanged": [], "edgesAdded": [],
        "edgesRemoved": []}


def test_the_diff_shows_a_node_type_change_and_a_rewired_edge(api: ApiClient) -> None:
    nodes = [node("n", "input:number", {"value": 1}), node("out", "output:result")]
    created = create(api, {"nodes": nodes, "edges": [edge("e1", "n", "out", "value", "value")]})
    changed = [node("n", "input:select", {"options": ["a", "b"], "value": "a"}),
               node("other", "input:text", {"text": "x"}), node("out", "output:result")]
    save(api, created, {"nodes": changed, "edges": [edge("e1", "other", "out", "text",
                                                         "value")]})
    diff = api.get(f"{base(created)}/1/diff/2").json()
    assert diff["nodesChanged"] == [{"nodeId": "n", "changes": {
        "nodeType": {"from": "input:number", "to": "input:select"},
        "params.value": {"from": 1, "to": "a"},
        "params.options": {"from": None, "to": ["a", "b"]}}}]
    # The same edge id with other ends: the old edge went, a new one came.
    assert (diff["edgesAdded"], diff["edgesRemoved"]) == (["e1"], ["e1"])


def test_the_diff_compares_secrets_but_never_shows_them(api: ApiClient) -> None:
    def hooked(secret: str, url: str = "https://receiver.example.com/hook") -> dict[str, Any]:
        return {"nodes": [node("prompt", "input:text", {"text": "a red fox"}),
                          node("hook", "output:webhook", {"url": url, "secret": secret})],
                "edges": [edge("e1", "prompt", "hook", "text", "value")]}

    created = create(api, hooked(SECRET))
    save(api, created, hooked(SECRET, url="https://receiver.example.com/other"))  # 2
    save(api, created, hooked("a-new-secret-0123456789"))  # 3
    same_secret = api.get(f"{base(created)}/1/diff/2")
    assert same_secret.json()["nodesChanged"] == [{"nodeId": "hook", "changes": {
        "params.url": {"from": "https://receiver.example.com/hook",
                       "to": "https://receiver.example.com/other"}}}]
    new_secret = api.get(f"{base(created)}/2/diff/3")
    text = new_secret.content.decode()
    assert SECRET not in text and "a-new-secret-0123456789" not in text
    assert secretbox.SEALED_PREFIX not in text
    changes = new_secret.json()["nodesChanged"][0]["changes"]
    assert changes["params.secret"] == {"from": PLACEHOLDER, "to": PLACEHOLDER}


def test_the_diff_takes_tags(api: ApiClient, workflow: dict[str, Any]) -> None:
    tag(api, workflow, 1, "1.0.0")
    diff = api.get(f"{base(workflow)}/v1.0.0/diff/3").json()
    assert diff["nodesChanged"] == [{"nodeId": "prompt", "changes": {
        "params.text": {"from": "a red fox", "to": "a brown bear"}}}]


# --- Restore ----------------------------------------------------------------------------------

def test_restoring_makes_a_new_version_equal_to_the_old_one(
        api: ApiClient, workflow: dict[str, Any], owner: User) -> None:
    response = restore(api, workflow, "1")
    assert response.status_code == 200
    restored = response.json()
    assert restored["version"] == 4
    assert restored["updatedAt"] > workflow["updatedAt"]
    one = api.get(f"{base(workflow)}/1").json()
    four = api.get(f"{base(workflow)}/4").json()
    assert (four["nodes"], four["edges"]) == (one["nodes"], one["edges"])
    assert (restored["nodes"], restored["edges"]) == (one["nodes"], one["edges"])
    assert (four["note"], four["createdBy"]) == ("Restored from version 1", owner.email)
    # History is never rewritten.
    assert [v["number"] for v in api.get(base(workflow)).json()["versions"]] == [4, 3, 2, 1]
    assert params_of(api.get(f"{base(workflow)}/3").json(), "prompt") == {
        "text": "a brown bear"}
    assert api.get(f"{base(workflow)}/1/diff/4").json()["nodesChanged"] == []


def test_restoring_by_tag_and_the_current_graph(api: ApiClient,
                                                workflow: dict[str, Any]) -> None:
    tag(api, workflow, 2, "1.0.0")
    assert restore(api, workflow, "v1.0.0").json()["version"] == 4
    # The graph it already has: nothing to restore, no new version.
    again = restore(api, workflow, "4")
    assert (again.status_code, again.json()["version"]) == (200, 4)


def test_restoring_with_a_stale_base_is_409(api: ApiClient, workflow: dict[str, Any]) -> None:
    stale = "2000-01-01T00:00:00.000Z"
    response = restore(api, workflow, "1", {"baseUpdatedAt": stale})
    assert (response.status_code, response.json()["code"]) == (409, "stale_write")
    assert Workflow.objects.get(pk=workflow["id"]).version == 3
    fresh = restore(api, workflow, "1", {"baseUpdatedAt": workflow["updatedAt"]})
    assert fresh.status_code == 200


def test_restoring_brings_back_the_old_secret_sealed(api: ApiClient) -> None:
    def hooked(secret: str) -> dict[str, Any]:
        return {"nodes": [node("prompt", "input:text", {"text": "a red fox"}),
                          node("hook", "output:webhook",
                               {"url": "https://receiver.example.com/hook", "secret": secret})],
                "edges": [edge("e1", "prompt", "hook", "text", "value")]}

    created = create(api, hooked(SECRET))
    save(api, created, hooked("a-new-secret-0123456789"))
    restored = restore(api, created, "1")
    assert restored.status_code == 200
    assert SECRET not in restored.content.decode()
    stored = Workflow.objects.get(pk=created["id"])
    [hook] = [n for n in stored.nodes if n["id"] == "hook"]
    sealed = hook["data"]["params"]["secret"]
    assert secretbox.is_sealed_param(sealed) and secretbox.reveal_param(sealed) == SECRET
    assert stored.version == 3


def test_restoring_a_graph_that_no_longer_validates_is_422(api: ApiClient,
                                                           workflow: dict[str, Any]) -> None:
    old = WorkflowVersion.objects.get(workflow_id=workflow["id"], version=1)
    old.nodes = [*old.nodes, node("gone", "generate:no_such_model")]
    old.save(update_fields=["nodes"])
    response = restore(api, workflow, "1")
    assert (response.status_code, response.json()["code"]) == (422, "invalid_graph")
    assert Workflow.objects.get(pk=workflow["id"]).version == 3


# --- Who may ----------------------------------------------------------------------------------

def test_a_viewer_reads_versions_but_may_not_tag_untag_or_restore(
        api: ApiClient, workflow: dict[str, Any], viewer: User,
        api_for: Callable[..., ApiClient]) -> None:
    tag(api, workflow, 2, "1.0.0")
    looker = api_for(viewer, [WORKFLOWS_READ, "workflows:write"])
    assert looker.get(base(workflow)).status_code == 200
    assert looker.get(f"{base(workflow)}/2").status_code == 200
    assert looker.get(f"{base(workflow)}/1/diff/2").status_code == 200
    for response in [tag(looker, workflow, 3, "2.0.0"),
                     looker.delete(f"{base(workflow)}/2/tag"),
                     restore(looker, workflow, "1")]:
        assert (response.status_code, response.json()) == (403, FORBIDDEN_ROLE)
    assert Workflow.objects.get(pk=workflow["id"]).version == 3
    assert WorkflowVersion.objects.get(workflow_id=workflow["id"], version=2).tag == "1.0.0"


def test_a_teammate_tags_and_restores(workflow: dict[str, Any], teammate: User,
                                      api_for: Callable[..., ApiClient]) -> None:
    editor = api_for(teammate)
    assert tag(editor, workflow, 3, "1.0.0").status_code == 200
    assert restore(editor, workflow, "1").json()["version"] == 4


def test_a_key_without_workflows_write_may_only_read(
        workflow: dict[str, Any], owner: User, api_for: Callable[..., ApiClient]) -> None:
    reader = api_for(owner, [WORKFLOWS_READ])
    assert reader.get(base(workflow)).status_code == 200
    missing = {"error": "Forbidden: missing scope workflows:write", "code": "forbidden"}
    for response in [tag(reader, workflow, 1, "1.0.0"),
                     reader.delete(f"{base(workflow)}/1/tag"),
                     restore(reader, workflow, "1")]:
        assert (response.status_code, response.json()) == (403, missing)
    writer = api_for(owner, ["workflows:write"])
    missing_read = {"error": "Forbidden: missing scope workflows:read", "code": "forbidden"}
    assert (writer.get(base(workflow)).status_code,
            writer.get(base(workflow)).json()) == (403, missing_read)


def test_a_stranger_gets_404_everywhere(workflow: dict[str, Any], stranger: User,
                                        api_for: Callable[..., ApiClient]) -> None:
    them = api_for(stranger)
    for response in [them.get(base(workflow)), them.get(f"{base(workflow)}/1"),
                     tag(them, workflow, 1, "1.0.0"), them.delete(f"{base(workflow)}/1/tag"),
                     them.get(f"{base(workflow)}/1/diff/2"),
                     restore(them, workflow, "1"),
                     them.get("/workflows/not-a-uuid/versions"),
                     them.get("/workflows/not-a-uuid/versions/1/diff/2")]:
        assert (response.status_code, response.json()) == (404, WORKFLOW_NOT_FOUND)
    assert Workflow.objects.get(pk=workflow["id"]).version == 3
    assert not WorkflowVersion.objects.exclude(tag="").exists()


def test_a_browser_session_uses_the_versions_api(owner: User,
                                                 workflow: dict[str, Any]) -> None:
    browser = Client(enforce_csrf_checks=False)
    browser.force_login(owner)
    listed = browser.get(f"/api/v1{base(workflow)}")
    assert [v["number"] for v in listed.json()["versions"]] == [3, 2, 1]
    tagged = browser.post(f"/api/v1{base(workflow)}/1/tag", {"tag": "0.1.0"},
                          content_type="application/json")
    assert tagged.status_code == 200


# --- The webhook's pinned version -------------------------------------------------------------

def test_put_pins_the_webhook_to_a_tag_or_a_number_and_null_unpins(
        api: ApiClient, workflow: dict[str, Any]) -> None:
    assert workflow["webhookVersion"] is None
    tag(api, workflow, 2, "1.0.0")
    pinned = save(api, workflow, graph("a brown bear"), webhookVersion="v1.0.0")
    assert (pinned["webhookVersion"], pinned["version"]) == ("1.0.0", 3)
    assert Workflow.objects.get(pk=workflow["id"]).webhook_version == "1.0.0"
    assert save(api, workflow, graph("a brown bear"), webhookVersion="1")["webhookVersion"] == 1
    assert save(api, workflow, graph("a brown bear"), webhookVersion=2)["webhookVersion"] == 2
    # Left out: unchanged.
    assert save(api, workflow, graph("a brown bear"))["webhookVersion"] == 2
    assert api.get(f"/workflows/{workflow['id']}").json()["webhookVersion"] == 2
    assert save(api, workflow, graph("a brown bear"), webhookVersion=None)[
        "webhookVersion"] is None
    assert save(api, workflow, graph("a brown bear"), webhookVersion=3)["webhookVersion"] == 3
    assert save(api, workflow, graph("a brown bear"), webhookVersion="")[
        "webhookVersion"] is None


def test_a_new_version_saved_with_its_pin_can_be_pinned(api: ApiClient,
                                                        workflow: dict[str, Any]) -> None:
    saved = save(api, workflow, graph("an otter"), webhookVersion=4)
    assert (saved["version"], saved["webhookVersion"]) == (4, 4)


@pytest.mark.parametrize("bad", [9, "9", "2.0.0", "nope", 0, -1])
def test_pinning_a_version_that_is_not_there_is_400_and_changes_nothing(
        api: ApiClient, workflow: dict[str, Any], bad: Any) -> None:
    response = api.put(f"/workflows/{workflow['id']}",
                       {"name": "Renamed", **graph("an otter"), "webhookVersion": bad})
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_request"
    assert response.json()["fields"] == ["webhookVersion"]
    assert response.json()["error"].startswith("Version not found")
    stored = Workflow.objects.get(pk=workflow["id"])
    assert (stored.name, stored.version, stored.webhook_version) == ("Versioned", 3, "")


@pytest.mark.parametrize("bad", [1.5, True, [1], {"v": 1}, "x" * 51])
def test_a_pin_of_the_wrong_type_is_400(api: ApiClient, workflow: dict[str, Any],
                                        bad: Any) -> None:
    response = api.put(f"/workflows/{workflow['id']}",
                       {"name": "Versioned", **graph("a brown bear"), "webhookVersion": bad})
    assert (response.status_code, response.json()["code"]) == (400, "invalid_request")


def test_the_pinned_tag_cannot_be_taken_off_or_replaced(api: ApiClient,
                                                        workflow: dict[str, Any]) -> None:
    tag(api, workflow, 2, "1.0.0")
    save(api, workflow, graph("a brown bear"), webhookVersion="1.0.0")
    for response in [api.delete(f"{base(workflow)}/2/tag"), tag(api, workflow, 2, "1.1.0")]:
        assert (response.status_code, response.json()["code"]) == (409, "version_tag_pinned")
    assert tag(api, workflow, 2, "1.0.0", note="same tag: fine").status_code == 200
    save(api, workflow, graph("a brown bear"), webhookVersion=2)
    assert api.delete(f"{base(workflow)}/2/tag").status_code == 200


# --- The settings page's webhook version ------------------------------------------------------

def settings_url(workflow: dict[str, Any]) -> str:
    return f"/workflows/{workflow['id']}/settings/"


def logged_in(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_the_settings_page_offers_the_current_graph_tags_and_numbers(
        api: ApiClient, workflow: dict[str, Any], owner: User) -> None:
    tag(api, workflow, 2, "1.0.0")
    html = logged_in(owner).get(settings_url(workflow)).content.decode()
    assert 'data-testid="webhook-version-form"' in html
    assert 'data-testid="webhook-version-status">Current graph' in html
    for value, text in [("", "Current graph"), ("1.0.0", "1.0.0 (version 2)"),
                        ("3", "Version 3"), ("1", "Version 1")]:
        assert re.search(rf'<option value="{re.escape(value)}"[^>]*>{re.escape(text)}', html), \
            value


def test_the_settings_page_pins_and_unpins_the_webhook(api: ApiClient, workflow: dict[str, Any],
                                                       owner: User) -> None:
    tag(api, workflow, 2, "1.0.0")
    client = logged_in(owner)
    page = client.post(settings_url(workflow), {"action": "set_version", "version": "1.0.0"},
                       follow=True)
    html = page.content.decode()
    assert "The webhook runs the version tagged 1.0.0." in html
    assert 'data-testid="webhook-version-status">Tag 1.0.0' in html
    assert Workflow.objects.get(pk=workflow["id"]).webhook_version == "1.0.0"
    client.post(settings_url(workflow), {"action": "set_version", "version": "3"})
    assert Workflow.objects.get(pk=workflow["id"]).webhook_version == "3"
    html = client.post(settings_url(workflow), {"action": "set_version", "version": ""},
                       follow=True).content.decode()
    assert "The webhook runs the current graph." in html
    assert Workflow.objects.get(pk=workflow["id"]).webhook_version == ""


@pytest.mark.parametrize("bad", ["9", "2.0.0", "x" * 5000, "\x00"])
def test_the_settings_page_refuses_a_version_it_does_not_offer(
        workflow: dict[str, Any], owner: User, bad: str) -> None:
    page = logged_in(owner).post(settings_url(workflow), {"action": "set_version",
                                                          "version": bad})
    assert page.status_code == 200
    assert 'class="field-error"' in page.content.decode()
    assert Workflow.objects.get(pk=workflow["id"]).webhook_version == ""


def test_a_viewer_sees_the_pin_but_cannot_change_it(workflow: dict[str, Any], viewer: User) -> None:
    client = logged_in(viewer)
    html = client.get(settings_url(workflow)).content.decode()
    assert 'data-testid="webhook-version-status"' in html
    assert 'data-testid="webhook-version-form"' not in html
    refused = client.post(settings_url(workflow), {"action": "set_version", "version": "1"})
    assert refused.status_code == 403
    assert Workflow.objects.get(pk=workflow["id"]).webhook_version == ""


def test_a_workflow_without_versions_says_so(owner: User, team: Any) -> None:
    bare = Workflow.objects.create(team=team, created_by=owner, name="Bare", nodes=[], edges=[])
    html = logged_in(owner).get(f"/workflows/{bare.pk}/settings/").content.decode()
    assert 'data-testid="no-versions"' in html


# --- Export and import ------------------------------------------------------------------------

def test_an_exported_workflow_is_accepted_by_create_and_update(
        api: ApiClient, workflow: dict[str, Any]) -> None:
    """What the editor exports (and what GET answers) carries read-only fields — id, version,
    timestamps, counts — that create and update ignore."""
    exported = api.get(f"/workflows/{workflow['id']}").json()
    assert exported["version"] == 3
    imported = api.post("/workflows", exported)
    assert imported.status_code == 201, imported.content
    copy_ = imported.json()
    assert copy_["id"] != workflow["id"] and copy_["version"] == 1
    assert (copy_["nodes"], copy_["edges"]) == (exported["nodes"], exported["edges"])
    # The editor's export: the name, the version, and the graph as saved.
    editor_export = {"name": "Imported", "version": 7, "nodes": exported["nodes"],
                     "edges": exported["edges"], "teamId": 999_999, "executionCount": 5}
    assert api.post("/workflows", editor_export).status_code == 201
    updated = api.put(f"/workflows/{workflow['id']}", exported)
    assert updated.status_code == 200, updated.content
    assert updated.json()["version"] == 3  # the same graph: no new version
    assert api.put(f"/workflows/{workflow['id']}",
                   {**editor_export, **graph("an owl")}).json()["version"] == 4

"""The workflow pages served by Django: the team's list and the canvas editor page."""

import json
import uuid
from pathlib import Path
from typing import Any

import pytest
from django.test import Client

from accounts.models import Team, User
from workflows.models import Workflow
from workflows.templatetags import editor_assets

pytestmark = pytest.mark.django_db

GRAPH = [
    {"id": "n1", "type": "basedNode", "position": {"x": 0, "y": 0},
     "data": {"label": "Prompt", "nodeType": "input:text", "params": {"text": "a fox"}}},
    {"id": "n2", "type": "basedNode", "position": {"x": 300, "y": 0},
     "data": {"label": "Flux", "nodeType": "generate:flux_2", "params": {}}},
    {"id": "s1", "type": "stickyNote", "position": {"x": 0, "y": 200},
     "data": {"label": "Note", "nodeType": "note:sticky", "text": "hello"}},
]


@pytest.fixture
def workflow(team: Team, owner: User) -> Workflow:
    return Workflow.objects.create(team=team, created_by=owner, name="Fox pipeline",
                                   nodes=GRAPH, edges=[])


def logged_in(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def editor_config(html: str) -> dict[str, Any]:
    start = html.index('<script id="editor-config" type="application/json">')
    body = html[start:].split(">", 1)[1].split("</script>", 1)[0]
    config: dict[str, Any] = json.loads(body)
    return config


def test_the_list_shows_the_teams_workflows_with_their_node_count(owner: User,
                                                                  workflow: Workflow) -> None:
    response = logged_in(owner).get("/workflows/")
    html = response.content.decode()
    assert response.status_code == 200
    assert "Fox pipeline" in html
    assert f"/workflows/{workflow.pk}/edit" in html
    assert "<td>2</td>" in html  # the sticky note is not a node that runs
    assert 'href="/workflows/new"' in html


def test_the_list_hides_other_teams_workflows(stranger: User, workflow: Workflow) -> None:
    html = logged_in(stranger).get("/workflows/").content.decode()
    assert "Fox pipeline" not in html
    assert "Start from a template" in html  # an empty list: the starters


def test_a_teammate_sees_the_teams_workflows(teammate: User, workflow: Workflow) -> None:
    assert "Fox pipeline" in logged_in(teammate).get("/workflows/").content.decode()


def test_the_new_page_starts_the_editor_without_a_workflow(owner: User, team: Team,
                                                           built_editor: Path) -> None:
    response = logged_in(owner).get("/workflows/new")
    config = editor_config(response.content.decode())
    assert response.status_code == 200
    assert config["workflowId"] is None
    assert config["team"] == {"id": team.pk, "name": team.name}
    assert config["csrfToken"]


def test_the_edit_page_hands_the_workflow_id_and_built_assets_to_the_editor(
        owner: User, workflow: Workflow, built_editor: Path) -> None:
    html = logged_in(owner).get(f"/workflows/{workflow.pk}/edit").content.decode()
    assert editor_config(html)["workflowId"] == str(workflow.pk)
    assert '<script type="module" src="/static/editor/assets/main-abc123.js">' in html
    assert 'href="/static/editor/assets/main-def456.css"' in html
    assert "<title>Fox pipeline · Wireflow</title>" in html


def test_a_teammate_can_open_the_editor(teammate: User, workflow: Workflow) -> None:
    assert logged_in(teammate).get(f"/workflows/{workflow.pk}/edit").status_code == 200


def test_a_stranger_gets_404_for_another_teams_workflow(stranger: User,
                                                        workflow: Workflow) -> None:
    response = logged_in(stranger).get(f"/workflows/{workflow.pk}/edit")
    assert response.status_code == 404
    assert "Fox pipeline" not in response.content.decode()


# Ids name the random cases: every pytest-xdist process must collect the same tests.
@pytest.mark.parametrize("bad_id", [pytest.param(str(uuid.uuid4()), id="unknown"), "not-a-uuid",
                                    "123"])
def test_unknown_or_malformed_ids_are_404(owner: User, bad_id: str) -> None:
    assert logged_in(owner).get(f"/workflows/{bad_id}/edit").status_code == 404


@pytest.mark.parametrize("path", ["/workflows/", "/workflows/new",
                                  pytest.param(f"/workflows/{uuid.uuid4()}/edit", id="edit")])
def test_anonymous_visitors_are_sent_to_log_in(path: str) -> None:
    response = Client().get(path)
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/?next=")


def test_without_a_build_the_page_says_how_to_build_it(owner: User, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(editor_assets, "manifest_path", lambda: tmp_path / "missing.json")
    response = logged_in(owner).get("/workflows/new")
    assert response.status_code == 200
    assert "The editor has not been built: run <code>make dev</code>" in response.content.decode()


def test_a_broken_manifest_counts_as_not_built(tmp_path: Path) -> None:
    broken = tmp_path / "manifest.json"
    broken.write_text("{not json")
    assert editor_assets.editor_assets_from_manifest(broken) is None
    broken.write_text(json.dumps({"other.tsx": {"file": "x.js"}}))
    assert editor_assets.editor_assets_from_manifest(broken) is None

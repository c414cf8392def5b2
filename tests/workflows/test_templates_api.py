"""The templates API (docs/api.md "Templates"): publish, list, get, update and republish, unpublish,
use; who may do each; what a snapshot carries and what using one copies."""

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.credits import credit_balance
from accounts.models import ApiKey, Team, User
from accounts.services import team_create_and_switch
from executions.models import Execution, ExecutionStatus, NodeRun, NodeStatus
from tests.conftest import ApiClient
from workflows.models import Template, TemplateScope, Workflow
from workflows.services import estimate_credits, starter_templates

from .graph_builders import edge, node, prompt_to_flux_to_result

pytestmark = pytest.mark.django_db

TEMPLATE_KEYS = {"id", "name", "description", "tags", "scope", "teamId", "author", "nodes",
                 "edges", "inputs", "estimatedCredits", "previewUrl", "version", "useCount",
                 "createdAt", "updatedAt", "nodeCount"}
NODE_SECRET = "whsec-node-0123456789-abcdef"
WEBHOOK_SECRET = "webhook-signing-secret-0123456789"
NOT_FOUND = {"error": "Template not found", "code": "not_found"}
FORBIDDEN_ROLE = {"error": "Your role in this team cannot do this", "code": "forbidden_role"}


# --- Helpers --------------------------------------------------------------------------------

def graph(prompt: str = "a red fox") -> dict[str, Any]:
    nodes, edges = prompt_to_flux_to_result()
    nodes[0]["data"]["params"]["text"] = prompt
    return {"nodes": nodes, "edges": edges}


def make_workflow(api: ApiClient, name: str = "Fox pipeline", **fields: Any) -> dict[str, Any]:
    response = api.post("/workflows", {"name": name, "description": "Prompt to print",
                                       "tags": ["fox"], **graph(), **fields})
    assert response.status_code == 201, response.content
    return response.json()  # type: ignore[no-any-return]


def publish(api: ApiClient, workflow_id: str, **fields: Any) -> dict[str, Any]:
    response = api.post("/templates", {"workflowId": workflow_id, "scope": "team", **fields})
    assert response.status_code == 201, response.content
    return response.json()  # type: ignore[no-any-return]


def session(user: User) -> ApiClient:
    """The browser: the session cookie, no key (the test client skips the CSRF check)."""
    client = ApiClient(None)
    client.client.force_login(user)
    return client


def error_of(response: Any) -> dict[str, Any]:
    return {k: v for k, v in response.json().items() if k in ("error", "code")}


def ids_of(response: Any) -> list[str]:
    assert response.status_code == 200, response.content
    return [t["id"] for t in response.json()["templates"]]


def all_ids(api: ApiClient, query: str = "") -> list[str]:
    return ids_of(api.get(f"/templates?limit=100{query}"))


@pytest.fixture
def workflow(api: ApiClient) -> dict[str, Any]:
    return make_workflow(api)


@pytest.fixture
def template(api: ApiClient, workflow: dict[str, Any]) -> dict[str, Any]:
    return publish(api, workflow["id"], name="Fox template", description="A fox, printed",
                   tags=["fox", "image"])


# --- Publish and read -----------------------------------------------------------------------

def test_publishing_answers_201_with_the_whole_template(api: ApiClient, team: Team,
                                                        workflow: dict[str, Any]) -> None:
    response = api.post("/templates", {"workflowId": workflow["id"], "scope": "team",
                                       "name": "Fox template", "description": "A fox",
                                       "tags": ["fox", "image"]})
    assert response.status_code == 201
    body = response.json()
    assert set(body) == TEMPLATE_KEYS
    assert body["name"] == "Fox template" and body["description"] == "A fox"
    assert body["tags"] == ["fox", "image"] and body["scope"] == "team"
    assert body["teamId"] == team.pk and body["version"] == 1 and body["useCount"] == 0
    assert body["author"] == {"name": "owner", "team": team.name}  # never the email address
    assert body["nodes"] == workflow["nodes"] and body["edges"] == workflow["edges"]
    assert body["nodeCount"] == 3 and body["previewUrl"] is None
    assert body["inputs"] == api.get(f"/workflows/{workflow['id']}/run").json()["inputs"]
    assert body["estimatedCredits"] == estimate_credits(workflow["nodes"]) > 0
    assert body["createdAt"].endswith("Z") and body["updatedAt"].endswith("Z")
    assert api.get(f"/templates/{body['id']}").json() == body


def test_what_is_not_sent_comes_from_the_workflow(api: ApiClient,
                                                 workflow: dict[str, Any]) -> None:
    body = publish(api, workflow["id"])
    assert (body["name"], body["description"], body["tags"]) == \
        ("Fox pipeline", "Prompt to print", ["fox"])


def test_the_list_gives_summaries_without_the_graph(api: ApiClient,
                                                    template: dict[str, Any]) -> None:
    response = api.get("/templates")
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"templates", "nextCursor"} and body["nextCursor"] is None
    [summary] = [t for t in body["templates"] if t["id"] == template["id"]]
    assert set(summary) == TEMPLATE_KEYS - {"nodes", "edges"}
    assert summary == {k: v for k, v in template.items() if k not in ("nodes", "edges")}


def test_the_starter_templates_are_in_every_teams_gallery(api: ApiClient,
                                                          api_for: Callable[..., ApiClient],
                                                          stranger: User) -> None:
    starters = Template.objects.filter(scope=TemplateScope.STARTER)
    assert sorted(starters.values_list("slug", flat=True)) == sorted(starter_templates())
    for client in (api, api_for(stranger)):
        listed = client.get("/templates?scope=starter").json()["templates"]
        assert sorted(t["name"] for t in listed) == \
            sorted(t["name"] for t in starter_templates().values())
        assert {(t["scope"], t["teamId"], t["author"]) for t in listed} == \
            {("starter", None, None)}
    seed = starters.get(slug="seed-pipeline")
    assert [n["data"]["category"] for n in seed.nodes] == ["input", "model", "model", "output"]
    assert api.get(f"/templates/{seed.pk}").json()["estimatedCredits"] == 40


def test_a_preview_is_the_first_image_of_the_source_workflows_last_completed_run(
        api: ApiClient, team: Team, workflow: dict[str, Any], template: dict[str, Any]) -> None:
    source = Workflow.objects.get(pk=workflow["id"])
    complete_run(source, "/media/old.png", ago=timedelta(hours=2))
    complete_run(source, "/media/fox.png", ago=timedelta(hours=1))
    complete_run(source, "/media/failed.png", ago=timedelta(minutes=1),
                 status=ExecutionStatus.FAILED)
    assert api.get(f"/templates/{template['id']}").json()["previewUrl"] == "/media/fox.png"
    [listed] = [t for t in api.get("/templates").json()["templates"]
                if t["id"] == template["id"]]
    assert listed["previewUrl"] == "/media/fox.png"


def test_listing_previews_costs_the_same_queries_for_one_template_or_many(
        api: ApiClient, team: Team) -> None:
    def list_queries() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert api.get("/templates?scope=team").status_code == 200
        return len(queries)

    def add() -> None:
        created = make_workflow(api)
        complete_run(Workflow.objects.get(pk=created["id"]), "/media/x.png")
        publish(api, created["id"])

    add()
    one = list_queries()
    for _ in range(4):
        add()
    assert list_queries() == one
    assert {t["previewUrl"] for t in api.get("/templates?scope=team").json()["templates"]} == \
        {"/media/x.png"}


def complete_run(workflow: Workflow, url: str, *, ago: timedelta = timedelta(0),
                 status: str = ExecutionStatus.COMPLETED) -> Execution:
    when = timezone.now() - ago
    execution = Execution.objects.create(workflow=workflow, team=workflow.team, status=status,
                                         created_at=when, deadline_at=when + timedelta(hours=1),
                                         finished_at=when)
    NodeRun.objects.create(execution=execution, node_id="prompt", node_type="input:text",
                           position=0, status=NodeStatus.COMPLETED, ports={"text": "a fox"})
    NodeRun.objects.create(execution=execution, node_id="flux", node_type="generate:flux_2",
                           position=1, status=NodeStatus.COMPLETED,
                           ports={"image": url, "images": [url, "/media/second.png"]})
    return execution


# --- The snapshot never carries secrets ------------------------------------------------------

def test_a_snapshot_carries_no_node_secret_and_no_webhook_setting(api: ApiClient) -> None:
    nodes = [node("prompt", "input:text", {"text": "a red fox"}),
             node("hook", "output:webhook", {"url": "https://receiver.example.com/hook",
                                             "secret": NODE_SECRET})]
    created = api.post("/workflows", {"name": "Hooked", "nodes": nodes,
                                      "edges": [edge("e1", "prompt", "hook", "text", "value")]})
    assert created.status_code == 201
    workflow_id = created.json()["id"]
    changed = api.put(f"/workflows/{workflow_id}", {
        **{k: created.json()[k] for k in ("name", "nodes", "edges")},
        "webhookEnabled": True, "webhookSecret": WEBHOOK_SECRET})
    assert changed.status_code == 200
    stored = Workflow.objects.get(pk=workflow_id)
    sealed = next(n for n in stored.nodes if n["id"] == "hook")["data"]["params"]["secret"]
    assert sealed and stored.webhook_secret and stored.webhook_id

    response = api.post("/templates", {"workflowId": workflow_id, "scope": "public"})
    assert response.status_code == 201
    hook = next(n for n in response.json()["nodes"] if n["id"] == "hook")
    assert hook["data"]["params"]["secret"] == ""
    row = Template.objects.get(pk=response.json()["id"])
    for text in (response.content.decode(), str(row.nodes), str(row.edges)):
        for secret in (NODE_SECRET, sealed, stored.webhook_secret, WEBHOOK_SECRET,
                       stored.webhook_id):
            assert secret not in text
    used = api.post(f"/templates/{row.pk}/use", raw="").json()
    copy = Workflow.objects.get(pk=used["id"])
    assert not copy.webhook_enabled and copy.webhook_secret == "" and copy.webhook_id is None
    assert next(n for n in copy.nodes if n["id"] == "hook")["data"]["params"]["secret"] == ""


# --- Use ----------------------------------------------------------------------------------

def test_using_a_template_makes_a_workflow_of_the_callers_team(
        api: ApiClient, api_for: Callable[..., ApiClient], teammate: User, team: Team,
        template: dict[str, Any]) -> None:
    response = api_for(teammate).post(f"/templates/{template['id']}/use", {"name": "My fox"})
    assert response.status_code == 201
    body = response.json()
    assert set(body) == {"id", "name", "url"}
    assert body["name"] == "My fox" and body["url"] == f"/workflows/{body['id']}/edit"
    made = Workflow.objects.get(pk=body["id"])
    assert made.team == team and made.created_by == teammate and made.version == 1
    assert made.template_id is not None and str(made.template_id) == template["id"]
    assert made.template_version == 1
    assert made.nodes == template["nodes"] and made.edges == template["edges"]
    assert api.get(f"/templates/{template['id']}").json()["useCount"] == 1


def test_use_names_the_workflow_after_the_template_by_default_and_counts_each_use(
        api: ApiClient, template: dict[str, Any]) -> None:
    for _ in range(3):
        response = api.post(f"/templates/{template['id']}/use", raw="")
        assert response.status_code == 201
        assert response.json()["name"] == "Fox template"
    assert api.post(f"/templates/{template['id']}/use", {}).status_code == 201
    assert Template.objects.get(pk=template["id"]).use_count == 4


def test_use_records_the_version_it_came_from(api: ApiClient, workflow: dict[str, Any],
                                              template: dict[str, Any]) -> None:
    assert api.put(f"/templates/{template['id']}",
                   {"workflowId": workflow["id"]}).json()["version"] == 2
    made = api.post(f"/templates/{template['id']}/use", raw="").json()
    assert Workflow.objects.get(pk=made["id"]).template_version == 2


def test_using_a_public_template_copies_no_credits_and_no_keys(
        api: ApiClient, api_for: Callable[..., ApiClient], stranger: User, team: Team,
        workflow: dict[str, Any]) -> None:
    public = publish(api, workflow["id"], scope="public")
    their_team = stranger.current_team
    assert their_team is not None
    stranger_api = api_for(stranger)
    before = (credit_balance(team.pk), credit_balance(their_team.pk),
              ApiKey.objects.filter(team=their_team).count(),
              ApiKey.objects.filter(team=team).count())
    response = stranger_api.post(f"/templates/{public['id']}/use", raw="")
    assert response.status_code == 201
    made = Workflow.objects.get(pk=response.json()["id"])
    assert made.team == their_team and made.created_by == stranger
    assert (credit_balance(team.pk), credit_balance(their_team.pk),
            ApiKey.objects.filter(team=their_team).count(),
            ApiKey.objects.filter(team=team).count()) == before
    assert not Workflow.objects.filter(team=team, pk=made.pk).exists()


def test_a_starter_template_can_be_used_but_not_changed(api: ApiClient, team: Team) -> None:
    seed = Template.objects.get(scope=TemplateScope.STARTER, slug="seed-pipeline")
    response = api.post(f"/templates/{seed.pk}/use", raw="")
    assert response.status_code == 201
    assert Workflow.objects.get(pk=response.json()["id"]).team == team
    assert error_of(api.put(f"/templates/{seed.pk}", {"name": "Mine"})) == FORBIDDEN_ROLE
    assert api.delete(f"/templates/{seed.pk}").status_code == 403
    assert Template.objects.get(pk=seed.pk).name == starter_templates()["seed-pipeline"]["name"]


# --- Update, republish, unpublish ---------------------------------------------------------------

def test_updating_changes_only_what_is_sent(api: ApiClient, template: dict[str, Any]) -> None:
    response = api.put(f"/templates/{template['id']}", {"name": "Renamed", "tags": []})
    assert response.status_code == 200
    body = response.json()
    assert body["name"] == "Renamed" and body["tags"] == []
    assert body["description"] == template["description"] and body["version"] == 1
    assert body["nodes"] == template["nodes"] and body["updatedAt"] >= template["updatedAt"]
    assert api.put(f"/templates/{template['id']}", {"scope": "public"}).json()["scope"] == \
        "public"


def test_republishing_takes_the_workflows_current_graph_and_bumps_the_version(
        api: ApiClient, workflow: dict[str, Any], template: dict[str, Any]) -> None:
    changed = api.put(f"/workflows/{workflow['id']}", {"name": workflow["name"],
                                                        **graph("a blue whale")})
    assert changed.status_code == 200
    response = api.put(f"/templates/{template['id']}", {"workflowId": workflow["id"]})
    assert response.status_code == 200
    body = response.json()
    assert body["version"] == 2 and body["nodes"] == changed.json()["nodes"]
    assert body["nodes"][0]["data"]["params"]["text"] == "a blue whale"
    assert body["name"] == template["name"]  # the card stays
    again = api.put(f"/templates/{template['id']}", {"workflowId": workflow["id"]}).json()
    assert again["version"] == 3


def test_republishing_from_another_workflow_of_the_team_makes_it_the_source(
        api: ApiClient, template: dict[str, Any]) -> None:
    other = make_workflow(api, "Other pipeline")
    body = api.put(f"/templates/{template['id']}", {"workflowId": other["id"]}).json()
    assert body["version"] == 2
    assert str(Template.objects.get(pk=template["id"]).source_workflow_id) == other["id"]


def test_unpublishing_answers_204_and_workflows_made_from_it_stay(
        api: ApiClient, template: dict[str, Any]) -> None:
    made = api.post(f"/templates/{template['id']}/use", raw="").json()
    response = api.delete(f"/templates/{template['id']}")
    assert response.status_code == 204 and response.content == b""
    assert error_of(api.get(f"/templates/{template['id']}")) == NOT_FOUND
    assert api.delete(f"/templates/{template['id']}").status_code == 404
    assert Workflow.objects.get(pk=made["id"]).template is None
    assert api.get(f"/workflows/{made['id']}").status_code == 200


# --- Who may do what ------------------------------------------------------------------------

def test_an_editor_may_change_their_own_template_only(
        api: ApiClient, api_for: Callable[..., ApiClient], teammate: User,
        workflow: dict[str, Any], template: dict[str, Any]) -> None:
    mate = api_for(teammate)
    assert error_of(mate.put(f"/templates/{template['id']}", {"name": "Mine"})) == \
        FORBIDDEN_ROLE
    assert error_of(mate.put(f"/templates/{template['id']}",
                             {"workflowId": workflow["id"]})) == FORBIDDEN_ROLE
    assert error_of(mate.delete(f"/templates/{template['id']}")) == FORBIDDEN_ROLE
    assert Template.objects.get(pk=template["id"]).name == "Fox template"

    own = publish(mate, workflow["id"], name="Teammate's")
    assert own["author"]["name"] == "teammate"
    assert mate.put(f"/templates/{own['id']}", {"workflowId": workflow["id"]}).json()[
        "version"] == 2
    assert mate.delete(f"/templates/{own['id']}").status_code == 204


def test_an_admin_may_change_and_unpublish_anyones_template(
        api_for: Callable[..., ApiClient], teammate: User, admin: User,
        workflow: dict[str, Any]) -> None:
    theirs = publish(api_for(teammate), workflow["id"])
    boss = api_for(admin)
    assert boss.put(f"/templates/{theirs['id']}", {"name": "Tidied",
                                                   "workflowId": workflow["id"]}).json()[
        "version"] == 2
    assert Template.objects.get(pk=theirs["id"]).name == "Tidied"
    assert boss.delete(f"/templates/{theirs['id']}").status_code == 204


VIEWER_CALLS = [
    ("POST", "/templates", "publish"),
    ("PUT", "/templates/{id}", "update"),
    ("PUT", "/templates/{id}", "republish"),
    ("DELETE", "/templates/{id}", None),
    ("POST", "/templates/{id}/use", "use"),
]


@pytest.mark.parametrize("via", ["key", "browser"])
@pytest.mark.parametrize(("method", "path", "kind"), VIEWER_CALLS)
def test_a_viewer_may_read_but_gets_403_forbidden_role_for_the_rest(
        api_for: Callable[..., ApiClient], viewer: User, workflow: dict[str, Any],
        template: dict[str, Any], method: str, path: str, kind: str | None, via: str) -> None:
    client = api_for(viewer) if via == "key" else session(viewer)
    payload = {"publish": {"workflowId": workflow["id"], "scope": "team"},
               "update": {"name": "Viewer's"}, "republish": {"workflowId": workflow["id"]},
               "use": {"name": "Viewer's"}, None: None}[kind]
    response = client.request(method, path.format(id=template["id"]), payload)
    assert response.status_code == 403 and error_of(response) == FORBIDDEN_ROLE
    assert client.get(f"/templates/{template['id']}").status_code == 200
    assert template["id"] in all_ids(client)
    assert Template.objects.filter(team__isnull=False).count() == 1
    assert Template.objects.get(pk=template["id"]).version == 1
    assert Workflow.objects.count() == 1


STRANGER_CALLS = [
    ("GET", "/templates/{id}", None),
    ("PUT", "/templates/{id}", {"name": "Stolen"}),
    ("DELETE", "/templates/{id}", None),
    ("POST", "/templates/{id}/use", {}),
]


@pytest.mark.parametrize("via", ["key", "browser"])
@pytest.mark.parametrize(("method", "path", "payload"), STRANGER_CALLS)
def test_a_stranger_gets_404_for_another_teams_team_template(
        api_for: Callable[..., ApiClient], stranger: User, template: dict[str, Any],
        method: str, path: str, payload: Any, via: str) -> None:
    client = api_for(stranger) if via == "key" else session(stranger)
    response = client.request(method, path.format(id=template["id"]), payload)
    assert response.status_code == 404 and response.json() == NOT_FOUND
    assert template["id"] not in all_ids(client)
    assert Template.objects.get(pk=template["id"]).name == "Fox template"
    assert not Workflow.objects.filter(team=stranger.current_team).exists()


def test_a_stranger_cannot_publish_or_republish_from_another_teams_workflow(
        api_for: Callable[..., ApiClient], stranger: User, workflow: dict[str, Any]) -> None:
    theirs = api_for(stranger)
    response = theirs.post("/templates", {"workflowId": workflow["id"], "scope": "public"})
    assert response.status_code == 404
    assert response.json() == {"error": "Workflow not found", "code": "not_found"}
    own = publish(theirs, make_workflow(theirs)["id"])
    response = theirs.put(f"/templates/{own['id']}", {"workflowId": workflow["id"]})
    assert response.json() == {"error": "Workflow not found", "code": "not_found"}
    assert Template.objects.get(pk=own["id"]).version == 1


def test_a_public_template_is_seen_and_used_by_everyone_but_changed_only_by_its_team(
        api: ApiClient, api_for: Callable[..., ApiClient], stranger: User,
        workflow: dict[str, Any]) -> None:
    public = publish(api, workflow["id"], scope="public")
    theirs = api_for(stranger)
    assert public["id"] in all_ids(theirs, "&scope=public")
    seen = theirs.get(f"/templates/{public['id']}").json()
    assert seen["nodes"] == public["nodes"] and seen["author"]["name"] == "owner"
    assert theirs.post(f"/templates/{public['id']}/use", raw="").status_code == 201
    assert error_of(theirs.put(f"/templates/{public['id']}", {"name": "Mine"})) == \
        FORBIDDEN_ROLE
    assert error_of(theirs.delete(f"/templates/{public['id']}")) == FORBIDDEN_ROLE
    assert error_of(session(stranger).delete(f"/templates/{public['id']}")) == FORBIDDEN_ROLE


def test_a_key_sees_only_its_own_teams_templates(api: ApiClient,
                                                 api_for: Callable[..., ApiClient],
                                                 owner: User, template: dict[str, Any]) -> None:
    team_create_and_switch(user=owner, name="Second team")
    second = api_for(owner)  # a key of the second team, by the same person
    assert error_of(second.get(f"/templates/{template['id']}")) == NOT_FOUND
    assert template["id"] not in all_ids(second)
    assert error_of(second.delete(f"/templates/{template['id']}")) == NOT_FOUND


def test_republishing_from_a_workflow_of_another_of_ones_teams_is_refused(
        api: ApiClient, owner: User, template: dict[str, Any]) -> None:
    team_create_and_switch(user=owner, name="Second team")
    browser = session(owner)  # the browser reaches both teams' workflows
    elsewhere = make_workflow(browser, "Elsewhere")
    response = browser.put(f"/templates/{template['id']}", {"workflowId": elsewhere["id"]})
    assert response.status_code == 400 and response.json()["code"] == "invalid_request"
    assert Template.objects.get(pk=template["id"]).version == 1


# --- The operator's switch for public templates ------------------------------------------------

def test_with_public_templates_turned_off_publishing_public_is_refused(
        api: ApiClient, api_for: Callable[..., ApiClient], stranger: User, settings: Any,
        workflow: dict[str, Any], template: dict[str, Any]) -> None:
    public = publish(api, workflow["id"], scope="public")
    settings.PUBLIC_TEMPLATES_ENABLED = False
    disabled = {"error": "Public templates are turned off on this instance",
                "code": "public_templates_disabled"}
    response = api.post("/templates", {"workflowId": workflow["id"], "scope": "public"})
    assert response.status_code == 403 and response.json() == disabled
    response = api.put(f"/templates/{template['id']}", {"scope": "public"})
    assert response.status_code == 403 and response.json() == disabled
    assert Template.objects.get(pk=template["id"]).scope == "team"
    # What was public before stays with its own team only.
    assert error_of(api_for(stranger).get(f"/templates/{public['id']}")) == NOT_FOUND
    assert public["id"] not in all_ids(api_for(stranger))
    assert public["id"] in all_ids(api)
    assert api.put(f"/templates/{public['id']}", {"scope": "team"}).status_code == 200
    assert api.post("/templates", {"workflowId": workflow["id"],
                                   "scope": "team"}).status_code == 201


# --- Filters and paging -------------------------------------------------------------------------

def test_search_tag_and_scope_filter_the_gallery(api: ApiClient, workflow: dict[str, Any]
                                                 ) -> None:
    fox = publish(api, workflow["id"], name="Red FOX poster", tags=["fox", "print"])
    whale = publish(api, workflow["id"], name="Whale", description="a big blue fox-free sea",
                    tags=["sea"])
    public = publish(api, workflow["id"], name="Shared", scope="public", tags=["Fox"])
    assert all_ids(api, "&q=fox") == [whale["id"], fox["id"]]  # name or description
    assert all_ids(api, "&q=poster") == [fox["id"]]
    assert all_ids(api, "&tag=fox") == [fox["id"]]  # exactly: not "Fox", not a substring
    assert all_ids(api, "&tag=fo") == []
    assert all_ids(api, "&scope=team") == [whale["id"], fox["id"]]
    assert all_ids(api, "&scope=public") == [public["id"]]
    assert len(all_ids(api, "&scope=starter")) == len(starter_templates())
    assert all_ids(api, "&scope=team&q=whale&tag=sea") == [whale["id"]]
    assert all_ids(api, "&scope=starter&q=whale") == []
    assert len(all_ids(api, "&scope=&q=&tag=")) == 3 + len(starter_templates())


def test_the_cursor_walks_every_template_once_newest_first(api: ApiClient,
                                                           workflow: dict[str, Any]) -> None:
    for index in range(5):
        publish(api, workflow["id"], name=f"Template {index}")
    everything = all_ids(api)
    assert len(everything) == 5 + len(starter_templates())
    seen: list[str] = []
    cursor = ""
    while True:
        body = api.get(f"/templates?limit=2{cursor}").json()
        assert len(body["templates"]) <= 2
        seen += [t["id"] for t in body["templates"]]
        if body["nextCursor"] is None:
            break
        cursor = f"&cursor={body['nextCursor']}"
    assert seen == everything
    updated = [t["updatedAt"] for t in api.get("/templates?limit=100").json()["templates"]]
    assert updated == sorted(updated, reverse=True)


def test_paging_within_a_filter_goes_on_after_the_cursor(
        api: ApiClient, workflow: dict[str, Any]) -> None:
    made = [publish(api, workflow["id"], name=f"Template {i}") for i in range(3)]
    first = api.get("/templates?limit=1&scope=team").json()
    assert [t["id"] for t in first["templates"]] == [made[2]["id"]]
    rest = ids_of(api.get(f"/templates?limit=10&scope=team&cursor={first['nextCursor']}"))
    assert rest == [made[1]["id"], made[0]["id"]]


# --- Bad input: 400 or 404, never 500 ----------------------------------------------------------

@pytest.mark.parametrize("bad_id", ["not-a-uuid", "x" * 300, "00000000-0000-0000-0000-000000000000",
                                    "%00", "1"])
@pytest.mark.parametrize(("method", "suffix", "payload"), [
    ("GET", "", None), ("PUT", "", {"name": "x"}), ("DELETE", "", None),
    ("POST", "/use", {})])
def test_an_unknown_or_malformed_id_is_404_template_not_found(
        api: ApiClient, bad_id: str, method: str, suffix: str, payload: Any) -> None:
    response = api.request(method, f"/templates/{bad_id}{suffix}", payload)
    assert response.status_code == 404 and response.json() == NOT_FOUND


@pytest.mark.parametrize("workflow_id", ["not-a-uuid", "00000000-0000-0000-0000-000000000000",
                                         ""])
def test_publishing_an_unknown_workflow_is_404_workflow_not_found(api: ApiClient,
                                                                 workflow_id: str) -> None:
    response = api.post("/templates", {"workflowId": workflow_id, "scope": "team"})
    assert response.status_code == 404
    assert response.json() == {"error": "Workflow not found", "code": "not_found"}


@pytest.mark.parametrize("query", [
    "q=" + "x" * 201, "tag=" + "t" * 51, "limit=0", "limit=101", "limit=many",
    "scope=everyone", "scope=TEAM", "cursor=not-a-cursor", "cursor=" + "c" * 201, "q=%00",
    "cursor=MjAyNi0wMS0wMXxub3QtYS11dWlk",  # "2026-01-01|not-a-uuid"
    "cursor=MjAyNi0wMS0wMVQwMDowMDowMHww",  # a naive time
])
def test_bad_list_queries_are_400_invalid_request(api: ApiClient, query: str) -> None:
    response = api.get(f"/templates?{query}")
    assert response.status_code == 400, response.content
    assert response.json()["code"] == "invalid_request"


def test_the_bounds_themselves_are_accepted(api: ApiClient, workflow: dict[str, Any]) -> None:
    assert api.get(f"/templates?q={'x' * 200}&tag={'t' * 50}&limit=100").status_code == 200
    body = publish(api, workflow["id"], name="n" * 200, description="d" * 2000,
                   tags=[f"{i:02d}" + "t" * 48 for i in range(20)])
    assert len(body["tags"]) == 20 and len(body["name"]) == 200


def oversized(workflow_id: str) -> list[tuple[Any, str]]:
    base = {"workflowId": workflow_id, "scope": "team"}
    return [
        ({**base, "name": "n" * 201}, "name"),
        ({**base, "name": "   "}, "name"),
        ({**base, "name": "a\u0000b"}, "name"),
        ({**base, "name": "\ud800"}, "name"),
        ({**base, "description": "d" * 2001}, "description"),
        ({**base, "tags": ["t"] * 21}, "tags"),
        ({**base, "tags": ["t" * 51]}, "tags.0"),
        ({**base, "tags": [""]}, "tags.0"),
        ({**base, "tags": "fox"}, "tags"),
        ({**base, "scope": "starter"}, "scope"),
        ({**base, "scope": None}, "scope"),
        ({"workflowId": workflow_id}, "scope"),
        ({"scope": "team"}, "workflowId"),
        ({**base, "workflowId": "w" * 101}, "workflowId"),
        ({**base, "workflowId": 7}, "workflowId"),
        ([base], "body"),
    ]


def test_bad_publish_bodies_are_400_naming_the_field(api: ApiClient,
                                                    workflow: dict[str, Any]) -> None:
    for payload, field in oversized(workflow["id"]):
        response = api.post("/templates", payload)
        assert response.status_code == 400, (payload, response.content)
        assert response.json()["code"] == "invalid_request"
        assert field in response.json()["fields"], (payload, response.json())
    assert api.post("/templates", raw="{not json").json()["code"] == "invalid_json"
    assert not Template.objects.filter(team__isnull=False).exists()


def test_bad_update_and_use_bodies_are_400(api: ApiClient, template: dict[str, Any]) -> None:
    path = f"/templates/{template['id']}"
    for payload in ({"name": "n" * 201}, {"description": "d" * 2001}, {"tags": ["t"] * 21},
                    {"scope": "starter"}, {"workflowId": "w" * 101}, {"name": ""}, ["x"]):
        response = api.put(path, payload)
        assert response.status_code == 400 and response.json()["code"] == "invalid_request"
    for body in ({"name": "n" * 201}, {"name": " "}, {"name": "a\u0000"}, {"name": 3}):
        response = api.post(f"{path}/use", body)
        assert response.status_code == 400 and response.json()["code"] == "invalid_request"
    assert Template.objects.get(pk=template["id"]).version == 1
    assert Workflow.objects.count() == 1


def test_a_graph_that_no_longer_validates_is_422_on_use_not_500(api: ApiClient,
                                                               template: dict[str, Any]) -> None:
    row = Template.objects.get(pk=template["id"])
    row.nodes = [*row.nodes, node("gone", "generate:no_such_model")]
    row.save(update_fields=["nodes"])
    response = api.post(f"/templates/{row.pk}/use", raw="")
    assert response.status_code == 422 and response.json()["code"] == "invalid_graph"
    assert Template.objects.get(pk=row.pk).use_count == 0


# --- Authentication and scopes -------------------------------------------------------------------

def test_reading_needs_workflows_read_and_changing_needs_workflows_write(
        api_for: Callable[..., ApiClient], owner: User, workflow: dict[str, Any],
        template: dict[str, Any]) -> None:
    reader = api_for(owner, scopes=["workflows:read"])
    assert reader.get("/templates").status_code == 200
    assert reader.get(f"/templates/{template['id']}").status_code == 200
    missing = {"error": "Forbidden: missing scope workflows:write", "code": "forbidden"}
    for method, path, payload in [
            ("POST", "/templates", {"workflowId": workflow["id"], "scope": "team"}),
            ("PUT", f"/templates/{template['id']}", {"name": "x"}),
            ("DELETE", f"/templates/{template['id']}", None),
            ("POST", f"/templates/{template['id']}/use", {})]:
        assert reader.request(method, path, payload).json() == missing
    usage_only = api_for(owner, scopes=["usage:read"])
    assert usage_only.get("/templates").json() == {
        "error": "Forbidden: missing scope workflows:read", "code": "forbidden"}
    assert Template.objects.get(pk=template["id"]).name == "Fox template"


def test_without_a_key_the_templates_api_is_401(template: dict[str, Any]) -> None:
    anonymous = ApiClient(None)
    for response in (anonymous.get("/templates"), anonymous.get(f"/templates/{template['id']}"),
                     anonymous.post(f"/templates/{template['id']}/use", raw="")):
        assert response.status_code == 401
        assert response.json()["code"] == "missing_authorization"

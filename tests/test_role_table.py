"""docs/api.md's roles table, walked cell by cell. The table is transcribed here from the contract,
independently of accounts/permissions.py; the module, every API endpoint behind a row (as a
browser session and as an API key, which acts with its creator's current role) and the pages
must all agree with it. A cell that differs anywhere fails."""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from django.test import Client

from accounts import keys
from accounts.models import ApiKey, Role, Team, User
from accounts.permissions import Action, role_may
from accounts.scopes import ALL_SCOPES
from executions.services import ExecuteRequest, execution_start
from tests.api.test_executions_api import text_to_result
from tests.conftest import ApiClient
from workflows.models import Template, TemplateScope, Workflow
from workflows.services import WorkflowData, workflow_create

pytestmark = pytest.mark.django_db

ROLES = [Role.OWNER, Role.ADMIN, Role.EDITOR, Role.VIEWER]
FORBIDDEN_ROLE = {"error": "Your role in this team cannot do this", "code": "forbidden_role"}


def _row(*allowed: str) -> dict[str, bool]:
    return {role: role in allowed for role in ROLES}


EVERYONE = _row(Role.OWNER, Role.ADMIN, Role.EDITOR, Role.VIEWER)
MEMBERS = _row(Role.OWNER, Role.ADMIN, Role.EDITOR)
MANAGERS = _row(Role.OWNER, Role.ADMIN)
OWNER_ONLY = _row(Role.OWNER)

# docs/api.md, "Roles": one entry per cell-group of the table.
TABLE: dict[str, dict[str, bool]] = {
    "read": EVERYONE,  # read workflows, runs, templates, stats, members
    "modify": MEMBERS,  # create / edit / delete workflows, versions, schedules
    "execute": MEMBERS,  # execute, run, batch, cancel, rerun
    "publish_template": MEMBERS,  # publish the team's templates
    "change_own_template": MEMBERS,  # update, delete (editor: own)
    "change_others_template": MANAGERS,  # editor: own only
    "create_key_read_scopes": EVERYONE,  # create API keys for themself
    "create_key_all_scopes": MEMBERS,  # viewer: read scopes only
    "manage_members": MANAGERS,  # invite, change roles, remove members, revoke others' keys
    "manage_an_owner": OWNER_ONLY,  # admin: not owners
    "provider_keys": MANAGERS,
    "own_team": OWNER_ONLY,  # plan, transfer ownership, delete the team
}

# The module's actions, against the same transcription.
MODULE_ROWS = {
    Action.READ: "read", Action.MODIFY: "modify", Action.EXECUTE: "execute",
    Action.USE_TEMPLATE: "modify", Action.PUBLISH_TEMPLATE: "publish_template",
    Action.CREATE_API_KEY: "create_key_read_scopes", Action.MANAGE_MEMBERS: "manage_members",
    Action.MANAGE_PROVIDER_KEYS: "provider_keys", Action.OWN_TEAM: "own_team",
}


def test_every_action_of_the_module_is_a_row_of_the_table() -> None:
    assert set(MODULE_ROWS) == set(Action)
    for action, row in MODULE_ROWS.items():
        assert {role: role_may(role, action) for role in ROLES} == TABLE[row], action
    assert not any(role_may(None, action) for action in Action)  # not a member: nothing


# --- The team every probe acts in ---------------------------------------------------------

@dataclass
class World:
    team: Team
    people: dict[str, User]  # role -> the person acting with it
    second_owner: User
    workflow_id: str
    others_template: Template  # published by the owner
    starter: Template

    def own_template(self, role: str) -> Template:
        return Template.objects.create(
            team=self.team, scope=TemplateScope.TEAM, name=f"{role}'s", nodes=[], edges=[],
            author=self.people[role])


@pytest.fixture(autouse=True)
def _no_rate_limits(settings: Any) -> None:
    settings.RATE_LIMITS_ENABLED = False


@pytest.fixture
def world(owner: User, team: Team, member_of: Callable[..., User]) -> World:
    people: dict[str, User] = {Role.OWNER: owner}
    for role in [Role.ADMIN, Role.EDITOR, Role.VIEWER]:
        people[role] = member_of(role, f"{role}@example.com")
    second_owner = member_of(Role.OWNER, "second-owner@example.com")
    nodes, edges = text_to_result()
    workflow = workflow_create(user=owner, team=team,
                               data=WorkflowData(name="Shared", nodes=nodes, edges=edges))
    others = Template.objects.create(team=team, scope=TemplateScope.TEAM, name="Owner's",
                                     nodes=nodes, edges=edges, author=owner,
                                     source_workflow=workflow)
    starter = Template.objects.filter(scope=TemplateScope.STARTER).first()
    assert starter is not None, "the starter templates are installed with the migrations"
    return World(team=team, people=people, second_owner=second_owner,
                 workflow_id=str(workflow.pk), others_template=others, starter=starter)


def session_api(user: User) -> ApiClient:
    client = ApiClient(None)
    client.client.force_login(user)
    return client


def key_api(user: User, team: Team) -> ApiClient:
    """A key with every scope, as it would be had the person held a role allowing them when
    they made it: the key acts with its creator's role now."""
    secret = keys.generate()
    ApiKey.objects.create(team=team, user=user, name="probe", key_hash=keys.hash_key(secret),
                          last4=secret[-4:], scopes=list(ALL_SCOPES))
    return ApiClient(secret)


# --- Probes: one call per row, (method, path, body) and the status when it is allowed ------

Probe = Callable[[World, str], tuple[str, str, Any, int]]


def _put_workflow(w: World, role: str) -> tuple[str, str, Any, int]:
    nodes, edges = text_to_result()
    return "PUT", f"/workflows/{w.workflow_id}", {"name": "Renamed", "nodes": nodes,
                                                   "edges": edges}, 200


def _an_execution(w: World) -> str:
    workflow = Workflow.objects.get(pk=w.workflow_id)
    return str(execution_start(workflow, w.people[Role.OWNER], ExecuteRequest()).pk)


PROBES: dict[str, list[Probe]] = {
    "read": [
        lambda w, r: ("GET", f"/workflows/{w.workflow_id}", None, 200),
        lambda w, r: ("GET", f"/workflows/{w.workflow_id}/versions", None, 200),
        lambda w, r: ("GET", f"/templates/{w.others_template.pk}", None, 200),
        lambda w, r: ("GET", "/team/members", None, 200),
        lambda w, r: ("GET", "/executions", None, 200),
        lambda w, r: ("GET", "/stats", None, 200),
        lambda w, r: ("GET", f"/workflows/{w.workflow_id}/stats", None, 200),
        lambda w, r: ("GET", f"/workflows/{w.workflow_id}/schedules", None, 200),
        lambda w, r: ("GET", "/media", None, 200),
    ],
    "modify": [
        _put_workflow,
        lambda w, r: ("POST", f"/workflows/{w.workflow_id}/versions/1/tag", {"tag": "1.0.0"},
                      200),
        lambda w, r: ("POST", f"/workflows/{w.workflow_id}/versions/1/restore", {}, 200),
        lambda w, r: ("DELETE", f"/workflows/{w.workflow_id}", None, 204),
        lambda w, r: ("POST", f"/templates/{w.starter.pk}/use", {"name": "Mine"}, 201),
        lambda w, r: ("POST", f"/workflows/{w.workflow_id}/schedules",
                      {"cron": "0 9 * * *", "timezone": "UTC"}, 201),
        lambda w, r: ("PATCH", f"/workflows/{w.workflow_id}/nodes/words", {"label": "Said"}, 200),
        lambda w, r: ("POST", f"/workflows/{w.workflow_id}/duplicate", {"name": "Mine"}, 201),
        lambda w, r: ("POST", f"/workflows/{w.workflow_id}/visibility", {"visibility": "view"},
                      200),
    ],
    "execute": [
        lambda w, r: ("POST", f"/workflows/{w.workflow_id}/execute", {}, 201),
        lambda w, r: ("POST", f"/workflows/{w.workflow_id}/batches",
                      {"rows": [{}, {}], "concurrency": 1}, 201),
        lambda w, r: ("POST", f"/workflows/executions/{_an_execution(w)}/rerun", {}, 201),
        lambda w, r: ("POST", f"/workflows/executions/{_an_execution(w)}/cancel", {}, 202),
    ],
    "publish_template": [
        lambda w, r: ("POST", "/templates", {"workflowId": w.workflow_id, "scope": "team"}, 201),
    ],
    "change_own_template": [
        lambda w, r: ("PUT", f"/templates/{w.own_template(r).pk}", {"name": "Renamed"}, 200),
        lambda w, r: ("DELETE", f"/templates/{w.own_template(r).pk}", None, 204),
    ],
    "change_others_template": [
        lambda w, r: ("PUT", f"/templates/{w.others_template.pk}",
                      {"workflowId": w.workflow_id}, 200),
        lambda w, r: ("DELETE", f"/templates/{w.others_template.pk}", None, 204),
    ],
    "manage_members": [
        lambda w, r: ("POST", "/team/invitations", {"email": "new@example.com",
                                                   "role": "editor"}, 201),
        lambda w, r: ("PATCH", f"/team/members/{w.people[Role.VIEWER].pk}",
                      {"role": "editor"}, 200),
        lambda w, r: ("DELETE", f"/team/members/{w.people[Role.EDITOR].pk}", None, 204),
    ],
    "manage_an_owner": [
        lambda w, r: ("PATCH", f"/team/members/{w.second_owner.pk}", {"role": "editor"}, 200),
        lambda w, r: ("DELETE", f"/team/members/{w.second_owner.pk}", None, 204),
        lambda w, r: ("POST", "/team/invitations", {"email": "boss@example.com",
                                                   "role": "owner"}, 201),
    ],
    "own_team": [
        lambda w, r: ("POST", "/team/transfer", {"userId": w.people[Role.EDITOR].pk}, 200),
        lambda w, r: ("DELETE", f"/team?confirm={w.team.name}", None, 204),
    ],
}

CELLS = [(row, index, role) for row, probes in PROBES.items()
         for index in range(len(probes)) for role in ROLES
         # A probe that removes or demotes the acting person tests leaving, not the table.
         if not (row == "manage_members" and index == 2 and role == Role.EDITOR)]


@pytest.mark.parametrize("via", ["session", "key"])
@pytest.mark.parametrize("row,index,role", CELLS)
def test_each_cell_through_the_api(world: World, row: str, index: int, role: str,
                                   via: str) -> None:
    person = world.people[role]
    client = session_api(person) if via == "session" else key_api(person, world.team)
    method, path, body, success = PROBES[row][index](world, role)
    response = client.request(method, path, body)
    if TABLE[row][role]:
        assert response.status_code == success, (row, role, path, response.content[:300])
    else:
        assert response.status_code == 403, (row, role, path, response.content[:300])
        assert response.json() == FORBIDDEN_ROLE


def test_a_stranger_meets_404_not_403_on_every_probe(world: World,
                                                     make_user: Callable[..., User]) -> None:
    """Another team's objects do not exist for a stranger, whatever the row."""
    stranger = make_user("outsider@example.com")
    client = session_api(stranger)
    for row in ["read", "modify", "execute", "change_others_template"]:
        for probe in PROBES[row]:
            method, path, body, _ = probe(world, Role.OWNER)
            if path.startswith((f"/templates/{world.starter.pk}", "/team")) \
                    or path in ("/executions", "/stats", "/media"):
                continue  # starter templates are everyone's; /team, the runs, the stats and
                # the media are the caller's own team's
            response = client.request(method, path, body)
            assert response.status_code == 404, (row, path, response.content[:300])


# --- The pages: what each role is shown, and what a forged form post gets -----------------

def _page(user: User, path: str) -> str:
    client = Client()
    client.force_login(user)
    response = client.get(path)
    assert response.status_code == 200, (path, response.status_code)
    return response.content.decode()


def _shows(html: str, testid: str) -> bool:
    return f'data-testid="{testid}"' in html


def _editor_permissions(html: str) -> dict[str, bool]:
    import json
    import re

    found = re.search(r'<script id="editor-config" type="application/json">(.*?)</script>', html,
                      re.S)
    assert found, "the editor page hands the editor its config"
    return dict(json.loads(found.group(1))["permissions"])


@pytest.mark.parametrize("role", ROLES)
def test_each_page_shows_a_role_exactly_the_controls_of_its_row(world: World, role: str) -> None:
    person = world.people[role]
    listing = _page(person, "/workflows/")
    assert _shows(listing, "new-workflow") == TABLE["modify"][role]
    assert _shows(listing, "publish-template-link") == TABLE["publish_template"][role]

    permissions = _editor_permissions(_page(person, f"/workflows/{world.workflow_id}/edit"))
    for action, row in MODULE_ROWS.items():
        assert permissions[action.value] == TABLE[row][role], (action, role)

    template_page = _page(person, f"/templates/{world.others_template.pk}/")
    assert _shows(template_page, "use-template") == TABLE["modify"][role]
    assert _shows(template_page, "template-manage") == TABLE["change_others_template"][role]

    team_page = _page(person, "/settings/team/")
    assert _shows(team_page, "invite-form") == TABLE["manage_members"][role]
    assert _shows(team_page, "transfer-form") == TABLE["own_team"][role]
    assert _shows(team_page, "delete-team") == TABLE["own_team"][role]

    keys_page = _page(person, "/settings/api-keys/")
    assert ('value="workflows:write"' in keys_page) == TABLE["create_key_all_scopes"][role]
    assert 'value="workflows:read"' in keys_page  # everyone may make a read key


# Form posts behind the page controls: (path, data) for a world, and the row that allows it.
FORM_POSTS: list[tuple[Callable[[World], tuple[str, dict[str, Any]]], str]] = [
    (lambda w: (f"/templates/{w.starter.pk}/use", {"name": "From a page"}), "modify"),
    (lambda w: (f"/workflows/{w.workflow_id}/publish",
                {"name": "Paged", "description": "", "tags": "", "scope": "team"}),
     "publish_template"),
    (lambda w: (f"/settings/team/{w.team.pk}/invite/",
                {"email": "paged@example.com", "role": "viewer"}), "manage_members"),
    (lambda w: (f"/settings/team/{w.team.pk}/transfer/", {"user": str(w.second_owner.pk)}),
     "own_team"),
    (lambda w: ("/settings/api-keys/", {"name": "write key", "expiry": "never",
                                        "scopes": ["workflows:read", "workflows:write"]}),
     "create_key_all_scopes"),
]


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("index", range(len(FORM_POSTS)))
def test_a_forged_form_post_is_refused_exactly_where_the_table_says(world: World, role: str,
                                                                    index: int) -> None:
    post, row = FORM_POSTS[index]
    path, data = post(world)
    client = Client()
    client.force_login(world.people[role])
    response = client.post(path, data)
    if TABLE[row][role]:
        assert response.status_code in {200, 302}, (row, role, response.status_code)
        assert response.status_code == 302 or b"error" not in response.content.lower()
    else:
        assert response.status_code == 403, (row, role, response.status_code)

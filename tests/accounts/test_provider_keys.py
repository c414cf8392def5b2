"""docs/api.md "Provider keys (bring your own)" and Settings > Providers: encryption at rest and its
rotation, the API (shapes, scopes, roles, another team's isolation, bad input), the page, and
the key never coming back in any response."""

from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.test import Client
from pytest_django import Settings

from accounts.models import ProviderKey, Team, User
from accounts.scopes import WORKFLOWS_READ, WORKFLOWS_WRITE
from executions.providers.credentials import NoProviderKey, provider_credentials
from tests.conftest import ApiClient
from workflows.secretbox import unseal_provider_key

from .helpers import logged_in

pytestmark = pytest.mark.django_db

SECRET = "fal-team-secret-0123456789abcdef-WXYZ"
SITE = "https://wireflow.example"
FORBIDDEN_ROLE = {"error": "Your role in this team cannot do this", "code": "forbidden_role"}
PROVIDER_NOT_FOUND = {"error": "Provider not found", "code": "not_found"}


@pytest.fixture(autouse=True)
def _platform(settings: Any) -> None:
    settings.SITE_URL = SITE
    settings.SIMULATORS_ENABLED = True
    settings.FAL_KEY = ""
    settings.FAL_QUEUE_URL = f"{SITE}/_sim/fal"
    # As the environment sets them: the platform's OpenAI key, so the real API's base URL.
    settings.OPENAI_API_KEY = "sk-platform-openai-1111"
    settings.OPENAI_BASE_URL = "https://api.openai.com/v1"
    settings.ANTHROPIC_API_KEY = ""
    settings.REPLICATE_API_TOKEN = ""
    settings.STABILITY_API_KEY = ""
    settings.ENCRYPTION_KEYS = []


def put_key(client: ApiClient, provider: str = "fal", api_key: str = SECRET,
            **extra: Any) -> Any:
    return client.put(f"/providers/{provider}", {"apiKey": api_key, **extra})


def rows(client: ApiClient) -> dict[str, dict[str, Any]]:
    response = client.get("/providers")
    assert response.status_code == 200, response.content
    return {row["provider"]: row for row in response.json()}


def assert_error(response: Any, status: int, body: dict[str, Any]) -> None:
    assert response.status_code == status, response.content
    assert {k: response.json().get(k) for k in body} == body


def raw_column(team: Team) -> str:
    """What the database really holds, read past the ORM."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT key_sealed, last4 FROM accounts_providerkey WHERE team_id = %s",
                       [team.pk])
        sealed, last4 = cursor.fetchone()
    return f"{sealed} {last4}"


# --- Reading -------------------------------------------------------------------------------

def test_it_lists_the_five_providers_and_whose_key_runs_each(api: ApiClient) -> None:
    response = api.get("/providers")
    assert response.status_code == 200
    assert [row["provider"] for row in response.json()] == [
        "fal", "openai", "anthropic", "replicate", "stability"]
    found = rows(api)
    # No FAL_KEY: fal runs on the built-in simulator, which is not a configured key.
    assert found["fal"] == {"provider": "fal", "configured": False, "source": None,
                            "baseUrl": None, "last4": None, "simulated": True}
    assert found["openai"] == {"provider": "openai", "configured": True, "source": "platform",
                               "baseUrl": None, "last4": None, "simulated": False}
    assert found["anthropic"]["configured"] is False and found["anthropic"]["source"] is None


def test_fal_counts_as_configured_by_the_platform_when_fal_key_is_set(
        api: ApiClient, settings: Settings) -> None:
    settings.FAL_KEY = "operator-fal-key-9999"
    assert rows(api)["fal"] | {} == {"provider": "fal", "configured": True,
                                     "source": "platform", "baseUrl": None, "last4": None,
                                     "simulated": False}
    assert "operator-fal-key-9999" not in api.get("/providers").content.decode()


def test_any_member_may_read_the_list(viewer: User, api_for: Any) -> None:
    assert api_for(viewer, [WORKFLOWS_READ]).get("/providers").status_code == 200


# --- Setting, replacing, removing ----------------------------------------------------------

def test_the_owner_sets_a_key_that_is_never_answered_again(api: ApiClient, team: Team) -> None:
    response = put_key(api)
    assert response.status_code == 200, response.content
    assert response.json() == {"provider": "fal", "configured": True, "source": "team",
                               "baseUrl": None, "last4": "WXYZ", "simulated": False}
    assert SECRET not in response.content.decode()
    assert rows(api)["fal"]["source"] == "team"
    assert SECRET not in api.get("/providers").content.decode()
    stored = ProviderKey.objects.get(team=team, provider="fal")
    assert stored.last4 == "WXYZ" and stored.created_by is not None


def test_the_database_never_holds_the_key_in_clear(api: ApiClient, team: Team) -> None:
    put_key(api)
    column = raw_column(team)
    assert SECRET not in column and SECRET[:12] not in column
    assert unseal_provider_key(ProviderKey.objects.get(team=team).key_sealed) == SECRET


def test_replacing_a_key_keeps_one_row_with_the_new_one(api: ApiClient, team: Team) -> None:
    put_key(api)
    response = put_key(api, api_key="another-fal-key-abcd", baseUrl=f"{SITE}/_sim/fal")
    assert response.status_code == 200
    assert (response.json()["last4"], response.json()["baseUrl"]) == ("abcd",
                                                                      f"{SITE}/_sim/fal")
    assert ProviderKey.objects.filter(team=team).count() == 1
    assert provider_credentials(team.pk, "fal") == ("another-fal-key-abcd", f"{SITE}/_sim/fal",
                                                     "team")


def test_removing_the_key_falls_back_to_the_platform(api: ApiClient, team: Team) -> None:
    put_key(api, "openai", "sk-team-openai-2222")
    assert provider_credentials(team.pk, "openai").source == "team"
    response = api.delete("/providers/openai")
    assert response.status_code == 204
    assert rows(api)["openai"]["source"] == "platform"
    assert provider_credentials(team.pk, "openai") == (
        "sk-platform-openai-1111", "https://api.openai.com/v1", "platform")
    assert api.delete("/providers/openai").status_code == 204  # nothing left: still fine


def test_a_public_base_url_is_kept(api: ApiClient) -> None:
    response = put_key(api, baseUrl="https://93.184.216.34/fal/")
    assert response.status_code == 200, response.content
    assert response.json()["baseUrl"] == "https://93.184.216.34/fal"


def test_an_admin_may_manage_keys(admin: User, api_for: Any) -> None:
    client = api_for(admin)
    assert put_key(client).status_code == 200
    assert client.delete("/providers/fal").status_code == 204


@pytest.mark.parametrize("persona", ["teammate", "viewer"])
def test_editors_and_viewers_may_not_change_keys(persona: str, request: Any, api_for: Any,
                                                 team: Team) -> None:
    user = request.getfixturevalue(persona)
    client = api_for(user, ["team:manage", WORKFLOWS_READ] if persona == "viewer" else None)
    if persona == "viewer":  # a viewer cannot even make such a key: give it one directly
        from accounts.models import ApiKey

        ApiKey.objects.filter(user=user).update(scopes=["team:manage", WORKFLOWS_READ])
    assert_error(put_key(client), 403, FORBIDDEN_ROLE)
    assert_error(client.delete("/providers/fal"), 403, FORBIDDEN_ROLE)
    assert not ProviderKey.objects.filter(team=team).exists()


def test_changing_needs_the_team_manage_scope(owner: User, api_for: Any, team: Team) -> None:
    client = api_for(owner, [WORKFLOWS_READ, WORKFLOWS_WRITE])
    response = put_key(client)
    assert response.status_code == 403, response.content
    assert client.delete("/providers/fal").status_code == 403
    assert not ProviderKey.objects.filter(team=team).exists()


def test_another_team_never_sees_nor_touches_the_key(api: ApiClient, team: Team,
                                                     stranger: User, api_for: Any) -> None:
    put_key(api)
    theirs = api_for(stranger)
    assert rows(theirs)["fal"]["source"] is None
    assert SECRET not in theirs.get("/providers").content.decode()
    # Their PUT and DELETE act on their own team only.
    assert theirs.delete("/providers/fal").status_code == 204
    assert ProviderKey.objects.filter(team=team).exists()
    assert put_key(theirs, api_key="stranger-key-0000").status_code == 200
    assert provider_credentials(team.pk, "fal").api_key == SECRET
    assert stranger.current_team is not None
    assert provider_credentials(stranger.current_team.pk, "fal").api_key == "stranger-key-0000"


def test_an_unknown_provider_is_404(api: ApiClient) -> None:
    assert_error(put_key(api, "mistral"), 404, PROVIDER_NOT_FOUND)
    assert_error(api.delete("/providers/mistral"), 404, PROVIDER_NOT_FOUND)


@pytest.mark.parametrize(("body", "status", "code"), [
    ({}, 400, "invalid_request"),
    ({"apiKey": 12345}, 400, "invalid_request"),
    ({"apiKey": "x" * 501}, 400, "invalid_request"),
    ({"apiKey": "short"}, 422, "invalid_provider_key"),
    ({"apiKey": "has a space in it"}, 422, "invalid_provider_key"),
    ({"apiKey": SECRET, "baseUrl": "ftp://files.example/fal"}, 422, "invalid_provider_key"),
    ({"apiKey": SECRET, "baseUrl": "http://10.0.0.7/fal"}, 422, "invalid_provider_key"),
    ({"apiKey": SECRET, "baseUrl": "http://169.254.169.254/latest"}, 422,
     "invalid_provider_key"),
    ({"apiKey": SECRET, "baseUrl": "http://127.0.0.1:6379/"}, 422, "invalid_provider_key"),
    ({"apiKey": SECRET, "baseUrl": "https://" + "a" * 600 + ".example"}, 400,
     "invalid_request"),
])
def test_bad_input_is_refused_with_the_error_body(api: ApiClient, team: Team, body: Any,
                                                   status: int, code: str) -> None:
    response = api.put("/providers/fal", body)
    assert response.status_code == status, response.content
    assert response.json()["code"] == code and response.json()["error"]
    assert not ProviderKey.objects.filter(team=team).exists()


def test_malformed_json_is_400(api: ApiClient) -> None:
    response = api.request("PUT", "/providers/fal", raw="{not json")
    assert_error(response, 400, {"code": "invalid_json"})


def test_a_private_base_url_is_refused_with_the_reason(api: ApiClient) -> None:
    response = put_key(api, baseUrl="http://10.0.0.7/fal")
    assert "not a public address" in response.json()["error"]


# --- Encryption keys and their rotation ----------------------------------------------------

def test_rotation_reseals_every_key_with_the_first_encryption_key(
        api: ApiClient, team: Team, settings: Settings) -> None:
    settings.ENCRYPTION_KEYS = ["old-encryption-secret"]
    put_key(api)
    before = ProviderKey.objects.get(team=team).key_sealed
    settings.ENCRYPTION_KEYS = ["new-encryption-secret"]
    assert unseal_provider_key(before) is None  # the new key alone cannot read it
    settings.ENCRYPTION_KEYS = ["new-encryption-secret", "old-encryption-secret"]
    assert unseal_provider_key(before) == SECRET  # every key decrypts
    call_command("rotateproviderkeys")
    after = ProviderKey.objects.get(team=team).key_sealed
    assert after != before
    settings.ENCRYPTION_KEYS = ["new-encryption-secret"]  # the old one can now be dropped
    assert provider_credentials(team.pk, "fal").api_key == SECRET
    assert SECRET not in raw_column(team)


def test_rotation_reports_keys_no_configured_key_reads(api: ApiClient, team: Team,
                                                       settings: Settings) -> None:
    settings.ENCRYPTION_KEYS = ["lost-encryption-secret"]
    put_key(api)
    settings.ENCRYPTION_KEYS = ["new-encryption-secret"]
    with pytest.raises(CommandError, match="could not be decrypted"):
        call_command("rotateproviderkeys")
    # Never a silent fallback to the platform's key: the node fails with the reason.
    with pytest.raises(NoProviderKey):
        provider_credentials(team.pk, "fal")


def test_without_encryption_keys_they_derive_from_secret_key(api: ApiClient, team: Team,
                                                             settings: Settings) -> None:
    put_key(api)
    settings.SECRET_KEY = "a-completely-different-secret-key-for-this-test"
    assert unseal_provider_key(ProviderKey.objects.get(team=team).key_sealed) is None


# --- The resolver --------------------------------------------------------------------------

def test_in_production_a_provider_configured_nowhere_has_no_key(team: Team,
                                                                settings: Settings) -> None:
    settings.SIMULATORS_ENABLED = False
    with pytest.raises(NoProviderKey, match="no API key for fal: set one in Settings > "
                                            "Providers"):
        provider_credentials(team.pk, "fal")
    with pytest.raises(NoProviderKey, match="no API key for anthropic"):
        provider_credentials(team.pk, "anthropic")


def test_with_the_simulators_fal_falls_back_to_the_simulator(team: Team) -> None:
    found = provider_credentials(team.pk, "fal")
    assert (found.base_url, found.source) == (f"{SITE}/_sim/fal", "platform")


# --- The key never comes back: workflows, executions, estimates -----------------------------

def priced_workflow(api: ApiClient) -> str:
    nodes = [{"id": "gen", "type": "basedNode", "position": {"x": 0, "y": 0},
              "data": {"label": "Generate", "nodeType": "generate:nano_banana_pro",
                       "params": {"prompt": "a fox"}}}]
    response = api.post("/workflows", {"name": "byok", "nodes": nodes, "edges": []})
    assert response.status_code == 201, response.content
    return str(response.json()["id"])


def test_the_estimate_says_a_node_on_the_teams_key_costs_nothing(api: ApiClient) -> None:
    workflow_id = priced_workflow(api)
    before = api.post(f"/workflows/{workflow_id}/estimate", {}).json()
    assert before["breakdown"][0]["credits"] == 20
    assert before["breakdown"][0]["billedBy"] == "platform"
    put_key(api)
    after = api.post(f"/workflows/{workflow_id}/estimate", {}).json()
    assert after["estimatedCredits"] == 0
    assert after["breakdown"] == [{"nodeId": "gen", "nodeLabel": "Generate",
                                   "nodeType": "generate:nano_banana_pro", "credits": 0,
                                   "billedBy": "team"}]


def test_no_workflow_or_execution_response_carries_the_key(api: ApiClient,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("executions.dispatch._send", lambda *args: None)
    put_key(api)
    workflow_id = priced_workflow(api)
    started = api.post(f"/workflows/{workflow_id}/execute", {})
    assert started.status_code == 201, started.content
    execution_id = started.json()["executionId"]
    responses = [started, api.get(f"/workflows/{workflow_id}"), api.get("/workflows"),
                 api.get(f"/workflows/executions/{execution_id}/poll"),
                 api.get(f"/workflows/executions/{execution_id}"),
                 api.get("/executions"), api.get("/team"),
                 api.post(f"/workflows/{workflow_id}/estimate", {})]
    for response in responses:
        assert response.status_code == 200 or response.status_code == 201, response.content
        assert SECRET not in response.content.decode()


# --- Settings > Providers ------------------------------------------------------------------

def save_url(team: Team, provider: str = "fal") -> str:
    return f"/settings/providers/{team.pk}/{provider}/"


def test_the_page_needs_a_login(db: None) -> None:
    response = Client().get("/settings/providers/")
    assert response.status_code == 302 and "login" in response["Location"]


def test_the_owner_sets_a_key_on_the_page_and_sees_only_its_last_4(owner: User, team: Team) -> None:
    client = logged_in(owner)
    page = client.get("/settings/providers/").content.decode()
    assert 'data-testid="provider-form-fal"' in page and "Simulated" in page
    assert "Configured by the platform" in page  # openai
    response = client.post(save_url(team), {"fal-api_key": SECRET, "fal-base_url": ""})
    assert response.status_code == 302
    page = client.get("/settings/providers/").content.decode()
    assert "Configured by the team" in page and "…WXYZ" in page
    assert SECRET not in page
    assert provider_credentials(team.pk, "fal").api_key == SECRET


def test_a_refused_key_shows_the_form_error_without_echoing_the_key(owner: User,
                                                                    team: Team) -> None:
    response = logged_in(owner).post(save_url(team), {"fal-api_key": SECRET,
                                                    "fal-base_url": "http://10.0.0.7/x"})
    html = response.content.decode()
    assert response.status_code == 200
    assert "not a public address" in html and SECRET not in html
    assert not ProviderKey.objects.filter(team=team).exists()


def test_an_empty_key_is_a_form_error(owner: User, team: Team) -> None:
    response = logged_in(owner).post(save_url(team), {"fal-api_key": "", "fal-base_url": ""})
    assert response.status_code == 200 and "This field is required" in response.content.decode()


def test_removing_asks_for_confirmation(owner: User, team: Team, api: ApiClient) -> None:
    put_key(api)
    client = logged_in(owner)
    confirm = client.get(f"{save_url(team)}remove/")
    assert confirm.status_code == 200 and b"confirm-remove-provider-key" in confirm.content
    assert ProviderKey.objects.filter(team=team).exists()
    assert client.post(f"{save_url(team)}remove/").status_code == 302
    assert not ProviderKey.objects.filter(team=team).exists()


@pytest.mark.parametrize("persona", ["teammate", "viewer"])
def test_editors_and_viewers_see_the_page_read_only(persona: str, request: pytest.FixtureRequest,
                                                    team: Team, api: ApiClient) -> None:
    put_key(api)
    client = logged_in(request.getfixturevalue(persona))
    page = client.get("/settings/providers/").content.decode()
    assert "Configured by the team" in page and "…WXYZ" in page and SECRET not in page
    assert "provider-form-" not in page and "provider-remove-" not in page
    assert client.post(save_url(team), {"fal-api_key": "other-key-1234"}).status_code == 403
    assert client.post(f"{save_url(team)}remove/").status_code == 403
    assert provider_credentials(team.pk, "fal").api_key == SECRET


def test_a_stranger_cannot_reach_another_teams_keys(stranger: User, team: Team,
                                                    api: ApiClient) -> None:
    put_key(api)
    client = logged_in(stranger)
    assert client.post(save_url(team), {"fal-api_key": "other-key-1234"}).status_code == 404
    assert client.post(f"{save_url(team)}remove/").status_code == 404
    assert SECRET not in client.get("/settings/providers/").content.decode()
    assert provider_credentials(team.pk, "fal").api_key == SECRET


def test_an_unknown_provider_page_is_404(owner: User, team: Team) -> None:
    assert logged_in(owner).post(save_url(team, "mistral"),
                               {"mistral-api_key": SECRET}).status_code == 404


def test_the_settings_tabs_and_menu_lead_to_the_page(owner: User) -> None:
    html = logged_in(owner).get("/settings/").content.decode()
    assert 'data-testid="tab-providers"' in html and 'data-testid="menu-providers"' in html

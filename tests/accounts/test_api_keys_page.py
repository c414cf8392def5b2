"""Settings > API Keys in the browser: create (shown once), list, revoke; owner, teammate,
viewer and stranger, by docs/api.md's roles table: viewers create read-only keys, anyone revokes
their own key, owners and admins (not an owner's) others'."""

from collections.abc import Callable
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import pytest
from django.test import Client
from django.utils import timezone

from accounts import keys
from accounts.models import ApiKey, Membership, Role, Team, User
from accounts.scopes import (
    ALL_SCOPES,
    READ_SCOPES,
    TEAM_MANAGE,
    USAGE_READ,
    WORKFLOWS_EXECUTE,
    WORKFLOWS_READ,
    WORKFLOWS_WRITE,
)
from accounts.services import api_key_create, api_key_revoke
from accounts.views import NEW_KEY_SESSION_KEY
from wireflow_site.errors import Unauthenticated

from .helpers import authenticate

if TYPE_CHECKING:  # the test client's response type exists only in django-stubs
    from django.test.client import _MonkeyPatchedWSGIResponse

URL = "/settings/api-keys/"


def secret_on(html: str) -> str | None:
    marker = 'data-testid="api-key-secret">'
    if marker not in html:
        return None
    return html.split(marker, 1)[1].split("<", 1)[0]


def create(client: Client, **data: object) -> "_MonkeyPatchedWSGIResponse":
    return client.post(URL, {"name": "CI", "expiry": "never", **data})


# --- access -------------------------------------------------------------------------------

def test_anonymous_visitors_are_sent_to_log_in(db: None) -> None:
    response = Client().get(URL)
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/?next=/settings/api-keys/")


def test_a_user_without_a_team_is_sent_to_create_one(owner: User,
                                                     browser_for: Callable[[User], Client]) -> None:
    Membership.objects.filter(user=owner).delete()
    response = browser_for(owner).get(URL)
    assert response.status_code == 302
    assert response["Location"] == "/settings/teams/"


def test_the_page_is_never_cached(owner: User, browser_for: Callable[[User], Client]) -> None:
    response = browser_for(owner).get(URL)
    assert "no-store" in response["Cache-Control"]


# --- create and show once -------------------------------------------------------------------

def test_creating_a_key_shows_it_once_after_the_redirect(
        owner: User, team: Team, browser_for: Callable[[User], Client]) -> None:
    client = browser_for(owner)

    response = create(client)
    assert response.status_code == 302
    assert response["Location"] == URL

    shown = secret_on(client.get(URL).content.decode())
    assert shown is not None
    assert keys.is_well_formed(shown)
    assert ApiKey.objects.get(team=team).key_hash == keys.hash_key(shown)

    assert secret_on(client.get(URL).content.decode()) is None


def test_the_secret_leaves_the_session_once_shown(owner: User,
                                                  browser_for: Callable[[User], Client]) -> None:
    client = browser_for(owner)
    create(client)
    assert NEW_KEY_SESSION_KEY in client.session
    client.get(URL)
    assert NEW_KEY_SESSION_KEY not in client.session


def test_the_secret_is_never_in_a_url(owner: User, browser_for: Callable[[User], Client]) -> None:
    client = browser_for(owner)
    response = create(client)
    secret = secret_on(client.get(URL).content.decode())
    assert secret is not None
    assert secret not in response["Location"]


def test_the_new_key_box_has_a_copy_button_and_a_warning(
        owner: User, browser_for: Callable[[User], Client]) -> None:
    client = browser_for(owner)
    create(client)
    html = client.get(URL).content.decode()
    assert 'data-testid="copy-key"' in html
    assert "will not be shown again" in html or "cannot be shown again" in html


def test_a_key_with_no_scopes_ticked_gets_every_scope(
        owner: User, browser_for: Callable[[User], Client]) -> None:
    create(browser_for(owner))
    assert ApiKey.objects.get().scopes == ALL_SCOPES


def test_ticked_scopes_are_the_keys_scopes(owner: User,
                                           browser_for: Callable[[User], Client]) -> None:
    create(browser_for(owner), scopes=[USAGE_READ, WORKFLOWS_READ])
    assert ApiKey.objects.get().scopes == [WORKFLOWS_READ, USAGE_READ]


@pytest.mark.parametrize("data, days", [
    ({"expiry": "never"}, None), ({"expiry": "30"}, 30), ({"expiry": "90"}, 90),
    ({"expiry": "365"}, 365), ({"expiry": "custom", "expires_in_days": "7"}, 7),
    ({"expiry": "30", "expires_in_days": "7"}, 30),  # the number counts only for "custom"
])
def test_the_expiry_choice_sets_the_expiry_date(owner: User, browser_for: Callable[[User], Client],
                                                data: dict[str, str], days: int | None) -> None:
    create(browser_for(owner), **data)
    expires_at = ApiKey.objects.get().expires_at
    if days is None:
        assert expires_at is None
    else:
        assert expires_at is not None
        assert abs(expires_at - (timezone.now() + timedelta(days=days))) < timedelta(minutes=1)


def test_the_key_belongs_to_the_current_team_and_the_user(
        owner: User, team: Team, browser_for: Callable[[User], Client]) -> None:
    create(browser_for(owner))
    api_key = ApiKey.objects.get()
    assert (api_key.team, api_key.user) == (team, owner)


@pytest.mark.parametrize("data, error", [
    ({"name": ""}, "This field is required."),
    ({"name": "   "}, "This field is required."),
    ({"name": "x" * 101}, "Ensure this value has at most 100 characters"),
    ({"expiry": "custom"}, "Enter a number of days."),
    ({"expiry": "custom", "expires_in_days": "0"}, "greater than or equal to 1"),
    ({"expiry": "custom", "expires_in_days": "3651"}, "less than or equal to 3650"),
    ({"expiry": "custom", "expires_in_days": "soon"}, "Enter a whole number."),
    ({"expiry": "forever"}, "Select a valid choice."),
    ({"expiry": ""}, "This field is required."),
    ({"scopes": ["workflows:delete"]}, "Select a valid choice."),
])
def test_bad_input_shows_a_form_error_and_creates_nothing(owner: User,
                                                          browser_for: Callable[[User], Client],
                                                          data: dict[str, Any], error: str) -> None:
    client = browser_for(owner)
    response = create(client, **data)
    assert response.status_code == 200
    assert error in response.content.decode()
    assert not ApiKey.objects.exists()
    assert NEW_KEY_SESSION_KEY not in client.session


def test_a_null_character_in_the_name_is_a_form_error_not_a_crash(
        owner: User, browser_for: Callable[[User], Client]) -> None:
    # PostgreSQL refuses NUL in text: it must be stopped at the form, not reach the database.
    response = create(browser_for(owner), name="bad\x00name")
    assert response.status_code == 200
    assert "Null characters are not allowed." in response.content.decode()
    assert not ApiKey.objects.exists()


# --- the list -------------------------------------------------------------------------------

def test_the_list_shows_the_masked_key_and_never_the_secret(
        owner: User, team: Team, browser_for: Callable[[User], Client]) -> None:
    created = api_key_create(user=owner, team=team, name="deploy bot",
                             scopes=[WORKFLOWS_READ], expires_in_days=30)
    html = browser_for(owner).get(URL).content.decode()
    assert "deploy bot" in html
    assert f"sk-wf_…{created.secret[-4:]}" in html
    assert created.secret not in html
    assert created.api_key.key_hash not in html
    assert WORKFLOWS_READ in html


def test_the_list_badges_active_expired_and_revoked_keys(
        owner: User, team: Team, browser_for: Callable[[User], Client]) -> None:
    active = api_key_create(user=owner, team=team, name="a").api_key
    expired = api_key_create(user=owner, team=team, name="e", expires_in_days=1).api_key
    ApiKey.objects.filter(pk=expired.pk).update(expires_at=timezone.now() - timedelta(hours=1))
    revoked = api_key_create(user=owner, team=team, name="r").api_key
    api_key_revoke(revoked)

    html = browser_for(owner).get(URL).content.decode()

    assert f'data-testid="status-{active.pk}">Active<' in html
    assert f'data-testid="status-{expired.pk}">Expired<' in html
    assert f'data-testid="status-{revoked.pk}">Revoked<' in html
    assert f'data-testid="revoke-{active.pk}"' in html
    assert f'data-testid="revoke-{revoked.pk}"' not in html


def test_a_teammate_sees_the_teams_keys(owner: User, team: Team, teammate: User,
                                        browser_for: Callable[[User], Client]) -> None:
    api_key_create(user=owner, team=team, name="owner's key")
    assert "owner&#x27;s key" in browser_for(teammate).get(URL).content.decode()


def test_a_stranger_does_not_see_another_teams_keys(owner: User, team: Team, stranger: User,
                                                    browser_for: Callable[[User], Client]) -> None:
    api_key_create(user=owner, team=team, name="secret project")
    assert "secret project" not in browser_for(stranger).get(URL).content.decode()


def test_the_list_shows_last_use(owner: User, team: Team,
                                 browser_for: Callable[[User], Client]) -> None:
    created = api_key_create(user=owner, team=team, name="k")
    authenticate(created.secret)
    html = browser_for(owner).get(URL).content.decode()
    assert "ago</time>" in html


# --- revoke ---------------------------------------------------------------------------------

def revoke_url(api_key: ApiKey) -> str:
    return f"/settings/api-keys/{api_key.pk}/revoke/"


def test_revoking_asks_for_confirmation_first(owner: User, team: Team,
                                              browser_for: Callable[[User], Client]) -> None:
    api_key = api_key_create(user=owner, team=team, name="k").api_key
    response = browser_for(owner).get(revoke_url(api_key))
    assert response.status_code == 200
    assert 'data-testid="confirm-revoke"' in response.content.decode()
    assert ApiKey.objects.get(pk=api_key.pk).revoked_at is None


def test_confirming_revokes_the_key_and_it_stops_authenticating(
        owner: User, team: Team, browser_for: Callable[[User], Client]) -> None:
    created = api_key_create(user=owner, team=team, name="k")
    response = browser_for(owner).post(revoke_url(created.api_key))
    assert response.status_code == 302
    assert ApiKey.objects.get(pk=created.api_key.pk).revoked_at is not None
    with pytest.raises(Unauthenticated):
        authenticate(created.secret)


def test_an_editor_revokes_their_own_key_but_not_the_owners(
        owner: User, team: Team, teammate: User, browser_for: Callable[[User], Client]) -> None:
    mine = api_key_create(user=teammate, team=team, name="mine").api_key
    owners = api_key_create(user=owner, team=team, name="owner's").api_key
    client = browser_for(teammate)
    html = client.get(URL).content.decode()
    assert f'data-testid="revoke-{mine.pk}"' in html
    assert f'data-testid="revoke-{owners.pk}"' not in html
    assert client.get(revoke_url(owners)).status_code == 403
    assert client.post(revoke_url(owners)).status_code == 403
    assert ApiKey.objects.get(pk=owners.pk).revoked_at is None
    client.post(revoke_url(mine))
    assert ApiKey.objects.get(pk=mine.pk).revoked_at is not None


@pytest.mark.parametrize("by_role, their_role, allowed", [
    (Role.OWNER, Role.OWNER, True), (Role.OWNER, Role.VIEWER, True),
    (Role.ADMIN, Role.OWNER, False), (Role.ADMIN, Role.ADMIN, True),
    (Role.ADMIN, Role.EDITOR, True), (Role.EDITOR, Role.VIEWER, False),
    (Role.VIEWER, Role.EDITOR, False),
])
def test_revoking_another_members_key_follows_the_roles_table(make_user: Callable[..., User],
                                                              team: Team,
                                                              browser_for: Callable[[User], Client],
                                                              by_role: Role, their_role: Role,
                                                              allowed: bool) -> None:
    by, them = make_user(), make_user()
    Membership.objects.create(team=team, user=by, role=by_role)
    Membership.objects.create(team=team, user=them, role=their_role)
    api_key = api_key_create(user=them, team=team, name="theirs").api_key
    response = browser_for(by).post(revoke_url(api_key))
    assert response.status_code == (302 if allowed else 403)
    assert (ApiKey.objects.get(pk=api_key.pk).revoked_at is not None) is allowed


def test_a_stranger_cannot_see_or_revoke_another_teams_key(
        owner: User, team: Team, stranger: User, browser_for: Callable[[User], Client]) -> None:
    api_key = api_key_create(user=owner, team=team, name="k").api_key
    client = browser_for(stranger)
    assert client.get(revoke_url(api_key)).status_code == 404
    assert client.post(revoke_url(api_key)).status_code == 404
    assert ApiKey.objects.get(pk=api_key.pk).revoked_at is None


def test_an_unknown_key_is_not_found(owner: User, browser_for: Callable[[User], Client]) -> None:
    assert browser_for(owner).post("/settings/api-keys/999999/revoke/").status_code == 404
    assert browser_for(owner).post("/settings/api-keys/abc/revoke/").status_code == 404


def test_revoking_needs_the_csrf_token(owner: User, team: Team) -> None:
    api_key = api_key_create(user=owner, team=team, name="k").api_key
    client = Client(enforce_csrf_checks=True)
    client.force_login(owner)
    assert client.post(revoke_url(api_key)).status_code == 403
    assert ApiKey.objects.get(pk=api_key.pk).revoked_at is None


def test_revoking_an_already_revoked_key_changes_nothing(
        owner: User, team: Team, browser_for: Callable[[User], Client]) -> None:
    api_key = api_key_create(user=owner, team=team, name="k").api_key
    api_key_revoke(api_key)
    first = ApiKey.objects.get(pk=api_key.pk).revoked_at
    client = browser_for(owner)
    assert "already revoked" in client.get(revoke_url(api_key)).content.decode()
    client.post(revoke_url(api_key))
    assert ApiKey.objects.get(pk=api_key.pk).revoked_at == first


# --- viewers --------------------------------------------------------------------------------

def test_a_viewer_is_offered_read_scopes_only(owner: User, team: Team, viewer: User,
                                              browser_for: Callable[[User], Client]) -> None:
    api_key = api_key_create(user=owner, team=team, name="k").api_key
    html = browser_for(viewer).get(URL).content.decode()
    assert api_key.masked in html
    assert 'data-testid="create-key"' in html
    assert 'data-testid="read-only-keys"' in html
    offered = {part.split('"', 1)[0] for part in html.split('name="scopes" value="')[1:]}
    assert offered == set(READ_SCOPES)
    assert f'data-testid="revoke-{api_key.pk}"' not in html


def test_a_viewers_key_without_scopes_ticked_gets_every_read_scope(
        viewer: User, team: Team, browser_for: Callable[[User], Client]) -> None:
    assert create(browser_for(viewer)).status_code == 302
    api_key = ApiKey.objects.get()
    assert (api_key.user, api_key.team) == (viewer, team)
    assert api_key.scopes == [s for s in ALL_SCOPES if s in READ_SCOPES]


def test_a_viewer_may_create_a_key_with_chosen_read_scopes(
        viewer: User, browser_for: Callable[[User], Client]) -> None:
    assert create(browser_for(viewer), scopes=[WORKFLOWS_READ]).status_code == 302
    assert ApiKey.objects.get().scopes == [WORKFLOWS_READ]


@pytest.mark.parametrize("scopes", [[WORKFLOWS_WRITE], [WORKFLOWS_READ, WORKFLOWS_EXECUTE],
                                    [TEAM_MANAGE]])
def test_a_viewer_forging_a_write_scope_gets_403(viewer: User,
                                                 browser_for: Callable[[User], Client],
                                                 scopes: list[str]) -> None:
    response = create(browser_for(viewer), scopes=scopes)
    assert response.status_code == 403
    assert not ApiKey.objects.exists()


def test_a_viewer_revokes_their_own_key(viewer: User, team: Team,
                                        browser_for: Callable[[User], Client]) -> None:
    mine = api_key_create(user=viewer, team=team, name="mine", scopes=[WORKFLOWS_READ]).api_key
    assert browser_for(viewer).post(revoke_url(mine)).status_code == 302
    assert ApiKey.objects.get(pk=mine.pk).revoked_at is not None


def test_a_viewer_may_not_revoke_a_key(owner: User, team: Team, viewer: User,
                                       browser_for: Callable[[User], Client]) -> None:
    api_key = api_key_create(user=owner, team=team, name="k").api_key
    client = browser_for(viewer)
    assert client.get(revoke_url(api_key)).status_code == 403
    assert client.post(revoke_url(api_key)).status_code == 403
    assert ApiKey.objects.get(pk=api_key.pk).revoked_at is None

"""Settings > Team in the browser as owner, admin, editor, viewer and stranger: what each sees,
what each may POST (a forged POST is the 403 page, never a change and never a 500)."""

from collections.abc import Callable
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import pytest
from django.core import mail
from django.test import Client
from django.utils import timezone

from accounts.invitations import invitation_create
from accounts.models import ApiKey, Invitation, Membership, Role, Team, User
from accounts.services import api_key_create, team_create

if TYPE_CHECKING:  # the test client's response type exists only in django-stubs
    from django.test.client import _MonkeyPatchedWSGIResponse

pytestmark = pytest.mark.django_db
URL = "/settings/team/"


@pytest.fixture(autouse=True)
def _site(settings: Any) -> None:
    settings.SITE_URL = "http://testserver"


def html_of(response: "_MonkeyPatchedWSGIResponse") -> str:
    return response.content.decode().replace("&#x27;", "'")


def role_of(team: Team, user: User) -> str | None:
    return Membership.objects.filter(team=team, user=user).values_list("role", flat=True).first()


def pending(team: Team, by: User, email: str = "new@example.com",
            role: str = Role.EDITOR) -> Invitation:
    return invitation_create(team=team, by=by, email=email, role=role).invitation


def options_of(html: str, select_testid: str) -> list[str]:
    select = html.split(f'data-testid="{select_testid}"', 1)[1].split("</select>", 1)[0]
    return [part.split('"', 1)[0] for part in select.split('<option value="')[1:]]


# --- Access --------------------------------------------------------------------------------------

def test_the_page_needs_a_login(db: None) -> None:
    assert Client().get(URL)["Location"].startswith("/accounts/login/?next=/settings/team/")


def test_someone_without_a_team_is_sent_to_create_one(
        owner: User, team: Team, browser_for: Callable[[User], Client]) -> None:
    Membership.objects.filter(user=owner).delete()
    assert browser_for(owner).get(URL)["Location"] == "/settings/teams/"


def test_the_settings_tabs_lead_to_the_team_page(owner: User,
                                                 browser_for: Callable[[User], Client]) -> None:
    html = html_of(browser_for(owner).get("/settings/"))
    assert 'href="/settings/team/"' in html


def test_the_page_shows_the_current_team(owner: User, team: Team,
                                         browser_for: Callable[[User], Client]) -> None:
    other = team_create(owner=owner, name="Acme Studio")
    client = browser_for(owner)
    assert 'data-testid="team-name">owner\'s team<' in html_of(client.get(URL))
    client.post("/teams/switch/", {"team": other.pk})
    assert 'data-testid="team-name">Acme Studio<' in html_of(client.get(URL))


# --- What each role sees ---------------------------------------------------------------------

def test_the_owner_sees_every_control(owner: User, team: Team, admin: User, teammate: User,
                                      browser_for: Callable[[User], Client]) -> None:
    invitation = pending(team, owner)
    html = html_of(browser_for(owner).get(URL))
    for testid in ["invite-form", "rename-form", "transfer-form", "delete-team", "leave-team",
                   f"resend-{invitation.pk}", f"revoke-invitation-{invitation.pk}",
                   f"remove-{admin.pk}", f"remove-{teammate.pk}"]:
        assert f'data-testid="{testid}"' in html, testid
    assert options_of(html, "invite-form").count("owner") == 1
    assert options_of(html, f"role-select-{teammate.pk}") == ["owner", "admin", "editor",
                                                              "viewer"]
    assert f'data-testid="remove-{owner.pk}"' not in html  # oneself: "Leave team" instead
    assert f'data-testid="role-select-{owner.pk}"' not in html


def test_an_admin_manages_everyone_but_owners(owner: User, team: Team, admin: User, teammate: User,
                                              browser_for: Callable[[User], Client]) -> None:
    owners_invitation = pending(team, owner, "boss@example.com", Role.OWNER)
    editors_invitation = pending(team, owner, "ed@example.com", Role.EDITOR)
    html = html_of(browser_for(admin).get(URL))
    assert "owner" not in options_of(html, "invite-form")
    assert options_of(html, f"role-select-{teammate.pk}") == ["admin", "editor", "viewer"]
    assert f'data-testid="role-select-{owner.pk}"' not in html
    assert f'data-testid="role-{owner.pk}">Owner<' in html
    assert f'data-testid="remove-{owner.pk}"' not in html
    assert f'data-testid="remove-{teammate.pk}"' in html
    assert f'data-testid="resend-{owners_invitation.pk}"' not in html
    assert f'data-testid="resend-{editors_invitation.pk}"' in html
    assert 'data-testid="rename-form"' in html
    assert 'data-testid="transfer-form"' not in html
    assert 'data-testid="delete-team"' not in html


@pytest.mark.parametrize("role", [Role.EDITOR, Role.VIEWER])
def test_editors_and_viewers_see_members_and_invitations_but_no_controls(
        owner: User, team: Team, member_of: Callable[..., User],
        browser_for: Callable[[User], Client], role: Role) -> None:
    invitation = pending(team, owner)
    me = member_of(role)
    html = html_of(browser_for(me).get(URL))
    assert f'data-testid="role-{owner.pk}">Owner<' in html
    assert "new@example.com" in html
    assert 'data-testid="leave-team"' in html
    for testid in ["invite-form", "rename-form", "transfer-form", "delete-team",
                   f"resend-{invitation.pk}", f"revoke-invitation-{invitation.pk}",
                   f"remove-{owner.pk}", f"role-select-{owner.pk}"]:
        assert f'data-testid="{testid}"' not in html, testid


def test_empty_states_say_what_to_do(owner: User, browser_for: Callable[[User], Client]) -> None:
    html = html_of(browser_for(owner).get(URL))
    assert 'data-testid="alone"' in html
    assert 'data-testid="no-invitations"' in html


# --- Forged POSTs ----------------------------------------------------------------------------

def _every_change(team: Team, target: User,
                  invitation: Invitation) -> list[tuple[str, dict[str, Any]]]:
    base = f"/settings/team/{team.pk}"
    return [
        (f"{base}/invite/", {"email": "x@example.com", "role": "viewer"}),
        (f"{base}/invitations/{invitation.pk}/resend/", {}),
        (f"{base}/invitations/{invitation.pk}/revoke/", {}),
        (f"{base}/members/{target.pk}/role/", {"role": "viewer"}),
        (f"{base}/members/{target.pk}/remove/", {}),
        (f"{base}/rename/", {"name": "Hijacked"}),
        (f"{base}/transfer/", {"user": target.pk}),
        (f"{base}/delete/", {"confirm": team.name}),
    ]


def _nothing_changed(team: Team, target: User, invitation: Invitation) -> None:
    assert Team.objects.get(pk=team.pk).name == "owner's team"
    assert role_of(team, target) == Role.EDITOR
    assert list(Invitation.objects.values_list("email", "revoked_at")) == [
        (invitation.email, None)]
    assert Invitation.objects.get().token_hash == invitation.token_hash


@pytest.mark.parametrize("role", [Role.EDITOR, Role.VIEWER])
def test_a_forged_post_by_an_editor_or_viewer_is_403(owner: User, team: Team,
                                                     member_of: Callable[..., User],
                                                     browser_for: Callable[[User], Client],
                                                     role: Role) -> None:
    target = member_of(Role.EDITOR, "target@example.com")
    invitation = pending(team, owner)
    client = browser_for(member_of(role))
    for url, data in _every_change(team, target, invitation):
        response = client.post(url, data)
        assert response.status_code == 403, url
        assert "Your role in this team cannot do this." in html_of(response)
    _nothing_changed(team, target, invitation)
    assert len(mail.outbox) == 1


def test_a_forged_post_by_an_admin_against_owners_is_403(
        owner: User, team: Team, admin: User, teammate: User,
        browser_for: Callable[[User], Client]) -> None:
    owners_invitation = pending(team, owner, "boss@example.com", Role.OWNER)
    client = browser_for(admin)
    base = f"/settings/team/{team.pk}"
    for url, data in [
        (f"{base}/invite/", {"email": "x@example.com", "role": "owner"}),
        (f"{base}/invitations/{owners_invitation.pk}/resend/", {}),
        (f"{base}/invitations/{owners_invitation.pk}/revoke/", {}),
        (f"{base}/members/{owner.pk}/role/", {"role": "viewer"}),
        (f"{base}/members/{teammate.pk}/role/", {"role": "owner"}),
        (f"{base}/members/{owner.pk}/remove/", {}),
        (f"{base}/transfer/", {"user": teammate.pk}),
        (f"{base}/delete/", {"confirm": team.name}),
    ]:
        assert client.post(url, data).status_code == 403, url
    assert (role_of(team, owner), role_of(team, teammate)) == (Role.OWNER, Role.EDITOR)
    assert Invitation.objects.get().revoked_at is None
    assert Team.objects.filter(pk=team.pk).exists()


def test_a_stranger_finds_nothing_of_another_team(owner: User, team: Team, teammate: User,
                                                  stranger: User,
                                                  browser_for: Callable[[User], Client]) -> None:
    invitation = pending(team, owner)
    client = browser_for(stranger)
    for url, data in _every_change(team, teammate, invitation):
        assert client.post(url, data).status_code == 404, url
    assert client.get(f"/settings/team/{team.pk}/leave/").status_code == 404
    _nothing_changed(team, teammate, invitation)


def test_another_teams_invitation_or_member_is_not_found(
        owner: User, team: Team, stranger: User, browser_for: Callable[[User], Client]) -> None:
    assert stranger.current_team is not None
    theirs = pending(stranger.current_team, stranger, "friend@example.com")
    client = browser_for(owner)
    base = f"/settings/team/{team.pk}"
    assert client.post(f"{base}/invitations/{theirs.pk}/revoke/").status_code == 404
    assert client.post(f"{base}/invitations/{theirs.pk}/resend/").status_code == 404
    assert client.post(f"{base}/members/{stranger.pk}/role/", {"role": "viewer"}
                       ).status_code == 404
    assert client.post(f"{base}/members/{stranger.pk}/remove/").status_code == 404
    assert Invitation.objects.get(pk=theirs.pk).revoked_at is None


@pytest.mark.parametrize("path", ["/settings/team/{team}/members/99999999999999999999/role/",
                                  "/settings/team/99999999999999999999/rename/",
                                  "/settings/team/{team}/invitations/0/revoke/",
                                  "/settings/team/{team}/members/abc/remove/"])
def test_huge_or_garbled_ids_are_not_found(owner: User, team: Team,
                                           browser_for: Callable[[User], Client],
                                           path: str) -> None:
    response = browser_for(owner).post(path.format(team=team.pk), {"role": "viewer"})
    assert response.status_code == 404


def test_changes_take_a_post(owner: User, team: Team, teammate: User,
                             browser_for: Callable[[User], Client]) -> None:
    client = browser_for(owner)
    assert client.get(f"/settings/team/{team.pk}/invite/").status_code == 405
    assert client.get(f"/settings/team/{team.pk}/members/{teammate.pk}/role/").status_code == 405


def test_changes_need_the_csrf_token(owner: User, team: Team, teammate: User) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(owner)
    assert client.post(f"/settings/team/{team.pk}/members/{teammate.pk}/remove/"
                       ).status_code == 403
    assert role_of(team, teammate) == Role.EDITOR


# --- Invitations on the page ---------------------------------------------------------------------

def test_inviting_shows_the_link_once_and_emails_it(owner: User, team: Team,
                                                    browser_for: Callable[[User], Client]) -> None:
    client = browser_for(owner)
    response = client.post(f"/settings/team/{team.pk}/invite/",
                           {"email": "New@Example.com", "role": "viewer"})
    assert response["Location"] == URL
    html = html_of(client.get(URL))
    link = html.split('data-testid="invitation-link">', 1)[1].split("<", 1)[0]
    assert link.startswith("http://testserver/invitations/")
    assert [m.to for m in mail.outbox] == [["new@example.com"]]
    assert link in mail.outbox[0].body
    assert "Invited new@example.com as Viewer." in html
    assert "new@example.com" in html.split('data-testid="invitation-list"', 1)[1]
    assert link not in html_of(client.get(URL))  # shown once


@pytest.mark.parametrize("data, error", [
    ({"email": "nope", "role": "editor"}, "Enter a valid email address."),
    ({"email": "", "role": "editor"}, "This field is required."),
    ({"email": "a@example.com", "role": "boss"}, "Select a valid choice."),
    ({"email": "a\x00@example.com", "role": "editor"}, "Null characters are not allowed."),
])
def test_a_bad_invitation_is_a_form_error(owner: User, team: Team,
                                          browser_for: Callable[[User], Client],
                                          data: dict[str, str], error: str) -> None:
    response = browser_for(owner).post(f"/settings/team/{team.pk}/invite/", data)
    assert response.status_code == 200
    assert error in html_of(response)
    assert not Invitation.objects.exists()


def test_inviting_a_member_says_so(owner: User, team: Team, teammate: User,
                                   browser_for: Callable[[User], Client]) -> None:
    response = browser_for(owner).post(f"/settings/team/{team.pk}/invite/",
                                       {"email": teammate.email, "role": "viewer"}, follow=True)
    assert "teammate@example.com is already a member of owner's team" in html_of(response)
    assert not Invitation.objects.exists()


def test_resending_shows_a_new_link(owner: User, team: Team,
                                    browser_for: Callable[[User], Client]) -> None:
    invitation = pending(team, owner)
    Invitation.objects.update(expires_at=timezone.now() - timedelta(days=1))
    client = browser_for(owner)
    assert "Expired" in html_of(client.get(URL))
    client.post(f"/settings/team/{team.pk}/invitations/{invitation.pk}/resend/")
    html = html_of(client.get(URL))
    link = html.split('data-testid="invitation-link">', 1)[1].split("<", 1)[0]
    assert link in mail.outbox[-1].body
    assert Invitation.objects.get().expires_at > timezone.now()


def test_revoking_removes_the_invitation(owner: User, team: Team,
                                         browser_for: Callable[[User], Client]) -> None:
    invitation = pending(team, owner)
    client = browser_for(owner)
    client.post(f"/settings/team/{team.pk}/invitations/{invitation.pk}/revoke/")
    assert Invitation.objects.get().revoked_at is not None
    assert 'data-testid="no-invitations"' in html_of(client.get(URL))


# --- Members on the page -------------------------------------------------------------------------

def test_the_owner_changes_a_role(owner: User, team: Team, teammate: User,
                                  browser_for: Callable[[User], Client]) -> None:
    response = browser_for(owner).post(f"/settings/team/{team.pk}/members/{teammate.pk}/role/",
                                       {"role": "admin"}, follow=True)
    assert role_of(team, teammate) == Role.ADMIN
    assert "teammate@example.com is now Admin." in html_of(response)


def test_a_bad_role_changes_nothing(owner: User, team: Team, teammate: User,
                                    browser_for: Callable[[User], Client]) -> None:
    browser_for(owner).post(f"/settings/team/{team.pk}/members/{teammate.pk}/role/",
                            {"role": "boss"})
    assert role_of(team, teammate) == Role.EDITOR


def test_removing_asks_first_then_revokes_their_keys(owner: User, team: Team, teammate: User,
                                                     browser_for: Callable[[User], Client]) -> None:
    key = api_key_create(user=teammate, team=team, name="theirs").api_key
    client = browser_for(owner)
    url = f"/settings/team/{team.pk}/members/{teammate.pk}/remove/"
    confirm = client.get(url)
    assert 'data-testid="confirm-remove"' in html_of(confirm)
    assert role_of(team, teammate) == Role.EDITOR
    client.post(url)
    assert role_of(team, teammate) is None
    assert ApiKey.objects.get(pk=key.pk).revoked_at is not None


def test_the_last_owner_cannot_be_demoted_and_is_told_why(
        owner: User, team: Team, browser_for: Callable[[User], Client]) -> None:
    other = team_create(owner=owner, name="Mine too")
    response = browser_for(owner).post(f"/settings/team/{other.pk}/members/{owner.pk}/role/",
                                       {"role": "admin"}, follow=True)
    assert "The last owner of a team cannot be given another role" in html_of(response)
    assert role_of(other, owner) == Role.OWNER


def test_a_member_leaves_and_works_on_in_their_own_team(
        owner: User, team: Team, teammate: User, browser_for: Callable[[User], Client]) -> None:
    client = browser_for(teammate)
    assert 'data-testid="confirm-leave"' in html_of(client.get(f"/settings/team/{team.pk}/leave/"))
    response = client.post(f"/settings/team/{team.pk}/leave/")
    assert response["Location"] == "/settings/teams/"
    assert role_of(team, teammate) is None
    teammate.refresh_from_db()
    assert teammate.current_team is not None and teammate.current_team != team


def test_the_last_owner_cannot_leave(owner: User, team: Team,
                                     browser_for: Callable[[User], Client]) -> None:
    response = browser_for(owner).post(f"/settings/team/{team.pk}/leave/", follow=True)
    assert "The last owner of a team can be neither removed nor leave" in html_of(response)
    assert role_of(team, owner) == Role.OWNER


def test_removing_oneself_is_leaving(owner: User, team: Team, teammate: User,
                                     browser_for: Callable[[User], Client]) -> None:
    response = browser_for(teammate).get(f"/settings/team/{team.pk}/members/{teammate.pk}/remove/")
    assert response["Location"] == f"/settings/team/{team.pk}/leave/"


# --- The team ----------------------------------------------------------------------------------

def test_managers_rename_the_team(owner: User, team: Team, admin: User,
                                  browser_for: Callable[[User], Client]) -> None:
    browser_for(admin).post(f"/settings/team/{team.pk}/rename/", {"name": "Acme"})
    assert Team.objects.get(pk=team.pk).name == "Acme"


@pytest.mark.parametrize("name", ["", "   ", "x" * 101])
def test_a_bad_name_is_a_form_error(owner: User, team: Team, browser_for: Callable[[User], Client],
                                    name: str) -> None:
    response = browser_for(owner).post(f"/settings/team/{team.pk}/rename/", {"name": name})
    assert response.status_code == 200
    assert "field-error" in html_of(response)
    assert Team.objects.get(pk=team.pk).name == "owner's team"


def test_the_owner_transfers_ownership_after_confirming(
        owner: User, team: Team, teammate: User, browser_for: Callable[[User], Client]) -> None:
    client = browser_for(owner)
    url = f"/settings/team/{team.pk}/transfer/"
    confirm = client.get(url, {"user": teammate.pk})
    assert "Make teammate@example.com the owner of owner's team?" in html_of(confirm)
    assert role_of(team, teammate) == Role.EDITOR
    client.post(url, {"user": teammate.pk})
    assert (role_of(team, teammate), role_of(team, owner)) == (Role.OWNER, Role.ADMIN)
    html = html_of(client.get(URL))
    assert 'data-testid="transfer-form"' not in html  # an admin now


def test_a_transfer_to_nobody_changes_nothing(owner: User, team: Team, stranger: User,
                                              browser_for: Callable[[User], Client]) -> None:
    client = browser_for(owner)
    url = f"/settings/team/{team.pk}/transfer/"
    assert client.post(url, {"user": "abc"})["Location"] == URL
    assert client.post(url, {"user": stranger.pk}).status_code == 404
    assert role_of(team, owner) == Role.OWNER


def test_the_owner_deletes_the_team_by_typing_its_name(
        owner: User, team: Team, teammate: User, browser_for: Callable[[User], Client]) -> None:
    client = browser_for(owner)
    url = f"/settings/team/{team.pk}/delete/"
    assert 'data-testid="confirm-delete"' in html_of(client.get(url))
    wrong = client.post(url, {"confirm": "owner's"})
    assert wrong.status_code == 200
    assert "That is not the team's name" in html_of(wrong)
    assert Team.objects.filter(pk=team.pk).exists()
    response = client.post(url, {"confirm": "owner's team"})
    assert response["Location"] == "/settings/teams/"
    assert not Team.objects.filter(pk=team.pk).exists()
    teammate.refresh_from_db()
    assert teammate.current_team is not None


def test_the_team_switcher_links_the_team_page(owner: User,
                                               browser_for: Callable[[User], Client]) -> None:
    html = html_of(browser_for(owner).get("/settings/"))
    assert 'data-testid="team-settings-link"' in html

"""docs/api.md "Team and members" through the full API: /team, /team/members, /team/invitations
(and resend, rename, transfer, delete): shapes, scopes, the roles table, 404 for another team's
ids, every error code."""

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.core import mail
from django.test import Client
from django.utils import timezone

from accounts.invitations import hash_token
from accounts.models import ApiKey, Invitation, Membership, Role, Team, User
from accounts.scopes import ALL_SCOPES, TEAM_MANAGE, USAGE_READ, WORKFLOWS_READ
from accounts.services import api_key_create
from tests.conftest import ApiClient

pytestmark = pytest.mark.django_db

FORBIDDEN_ROLE = {"error": "Your role in this team cannot do this", "code": "forbidden_role"}
MEMBER_NOT_FOUND = {"error": "Member not found", "code": "not_found"}
INVITATION_NOT_FOUND = {"error": "Invitation not found", "code": "not_found"}


@pytest.fixture(autouse=True)
def _site(settings: Any) -> None:
    settings.SITE_URL = "https://wireflow.example"
    settings.RATE_LIMITS_ENABLED = False


def browser(user: User) -> ApiClient:
    """A logged-in browser session speaking JSON to /api/v1 (no key)."""
    client = ApiClient(None)
    client.client.force_login(user)
    return client


def patch(client: ApiClient, path: str, body: Any) -> Any:
    return client.request("PATCH", path, body)


def invite(client: ApiClient, email: str = "new@example.com", role: str = "editor") -> Any:
    return client.post("/team/invitations", {"email": email, "role": role})


def token_of(response: Any) -> str:
    return str(response.json()["acceptUrl"]).rstrip("/").rsplit("/", 1)[1]


def accept(user: User, token: str) -> Any:
    client = Client()
    client.force_login(user)
    return client.post(f"/invitations/{token}/")


def assert_error(response: Any, status: int, body: dict[str, Any]) -> None:
    assert response.status_code == status, response.content
    assert {k: response.json().get(k) for k in body} == body


def role_of(team: Team, user: User) -> str | None:
    return Membership.objects.filter(team=team, user=user).values_list("role", flat=True).first()


# --- GET /team and /team/members ---------------------------------------------------------------

def test_the_team_is_the_keys_team_with_the_callers_role(api: ApiClient,
                                                         api_for: Callable[..., ApiClient],
                                                         team: Team, teammate: User,
                                                         viewer: User) -> None:
    assert api.get("/team").json() == {"id": team.pk, "name": team.name, "slug": team.slug,
                                       "plan": "free", "role": "owner", "memberCount": 3}
    assert api_for(viewer).get("/team").json()["role"] == "viewer"


def test_a_browser_session_reads_its_current_team(owner: User, team: Team, teammate: User) -> None:
    assert teammate.current_team == team
    body = browser(teammate).get("/team").json()
    assert (body["id"], body["role"]) == (team.pk, "editor")


def test_members_are_listed_in_the_order_they_joined(api: ApiClient, owner: User, teammate: User,
                                                     viewer: User) -> None:
    owner.first_name, owner.last_name = "Ada", "Lovelace"
    owner.save()
    members = api.get("/team/members").json()["members"]
    assert [(m["userId"], m["email"], m["role"]) for m in members] == [
        (owner.pk, "owner@example.com", "owner"), (teammate.pk, "teammate@example.com", "editor"),
        (viewer.pk, "viewer@example.com", "viewer")]
    assert [m["name"] for m in members] == ["Ada Lovelace", "teammate", "viewer"]
    assert all(m["joinedAt"].endswith("Z") for m in members)


def test_a_key_lists_only_its_own_teams_members(api_for: Callable[..., ApiClient], owner: User,
                                                teammate: User, stranger: User) -> None:
    emails = [m["email"] for m in api_for(stranger).get("/team/members").json()["members"]]
    assert emails == ["stranger@example.com"]


def test_a_viewer_may_read_the_team_members_and_invitations(api: ApiClient,
                                                            api_for: Callable[..., ApiClient],
                                                            viewer: User) -> None:
    invite(api)
    client = api_for(viewer, [WORKFLOWS_READ])
    assert client.get("/team/members").status_code == 200
    assert [i["email"] for i in client.get("/team/invitations").json()["invitations"]] == [
        "new@example.com"]


# --- Authentication and scopes -----------------------------------------------------------------

EVERY_CALL = [
    ("GET", "/team", None), ("PATCH", "/team", {"name": "x"}),
    ("DELETE", "/team", {"confirm": "x"}), ("POST", "/team/transfer", {"userId": 1}),
    ("GET", "/team/members", None), ("PATCH", "/team/members/1", {"role": "viewer"}),
    ("DELETE", "/team/members/1", None), ("GET", "/team/invitations", None),
    ("POST", "/team/invitations", {"email": "a@example.com", "role": "viewer"}),
    ("POST", "/team/invitations/1/resend", None), ("DELETE", "/team/invitations/1", None),
]
READS = {"/team", "/team/members", "/team/invitations"}


@pytest.mark.parametrize(("method", "path", "body"), EVERY_CALL)
def test_every_endpoint_needs_a_key_or_a_session(method: str, path: str,
                                                 body: dict[str, Any] | None) -> None:
    response = ApiClient(None).request(method, path, body)
    assert_error(response, 401, {"error": "Missing Authorization header",
                                 "code": "missing_authorization"})


@pytest.mark.parametrize(("method", "path", "body"), EVERY_CALL)
def test_reading_needs_workflows_read_and_changing_team_manage(api_for: Callable[..., ApiClient],
                                                               owner: User, team: Team, method: str,
                                                               path: str,
                                                               body: dict[str, Any] | None) -> None:
    needed = WORKFLOWS_READ if method == "GET" and path in READS else TEAM_MANAGE
    others = [s for s in ALL_SCOPES if s != needed]
    response = api_for(owner, others).request(method, path, body)
    assert_error(response, 403, {"error": f"Forbidden: missing scope {needed}",
                                 "code": "forbidden"})
    assert Team.objects.filter(pk=team.pk, name=team.name).exists()


def test_a_read_only_key_cannot_invite(api_for: Callable[..., ApiClient], owner: User) -> None:
    response = invite(api_for(owner, [WORKFLOWS_READ, USAGE_READ]))
    assert_error(response, 403, {"code": "forbidden"})
    assert not Invitation.objects.exists()


# --- Roles -------------------------------------------------------------------------------------

def _calls(owner: User, member: User, invitation_id: int) -> list[tuple[str, str, Any]]:
    return [
        ("POST", "/team/invitations", {"email": "x@example.com", "role": "viewer"}),
        ("POST", f"/team/invitations/{invitation_id}/resend", None),
        ("DELETE", f"/team/invitations/{invitation_id}", None),
        ("PATCH", f"/team/members/{member.pk}", {"role": "viewer"}),
        ("DELETE", f"/team/members/{member.pk}", None),
        ("PATCH", "/team", {"name": "Renamed"}),
        ("POST", "/team/transfer", {"userId": member.pk}),
        ("DELETE", "/team", {"confirm": "owner's team"}),
    ]


@pytest.mark.parametrize("role", [Role.EDITOR, Role.VIEWER])
def test_editors_and_viewers_change_nothing(api: ApiClient, api_for: Callable[..., ApiClient],
                                            owner: User, team: Team, member_of: Callable[..., User],
                                            role: Role) -> None:
    invitation_id = invite(api).json()["id"]
    other = member_of(Role.EDITOR, "other@example.com")
    client = api_for(member_of(role))
    for method, path, body in _calls(owner, other, invitation_id):
        assert_error(client.request(method, path, body), 403, FORBIDDEN_ROLE)
    assert role_of(team, other) == Role.EDITOR
    assert Team.objects.get(pk=team.pk).name == "owner's team"
    assert Invitation.objects.get().revoked_at is None
    assert list(Invitation.objects.values_list("email", flat=True)) == ["new@example.com"]


def test_admins_may_not_transfer_or_delete_the_team(api_for: Callable[..., ApiClient], admin: User,
                                                    teammate: User, team: Team) -> None:
    client = api_for(admin)
    assert_error(client.post("/team/transfer", {"userId": teammate.pk}), 403, FORBIDDEN_ROLE)
    assert_error(client.delete("/team", body={"confirm": team.name}), 403, FORBIDDEN_ROLE)
    assert Team.objects.filter(pk=team.pk).exists()
    assert role_of(team, teammate) == Role.EDITOR


def test_admins_manage_everyone_but_owners(api_for: Callable[..., ApiClient], admin: User,
                                           owner: User, teammate: User, team: Team) -> None:
    client = api_for(admin)
    assert_error(invite(client, role="owner"), 403, FORBIDDEN_ROLE)
    assert_error(patch(client, f"/team/members/{owner.pk}", {"role": "admin"}), 403,
                 FORBIDDEN_ROLE)
    assert_error(patch(client, f"/team/members/{teammate.pk}", {"role": "owner"}), 403,
                 FORBIDDEN_ROLE)
    assert_error(client.delete(f"/team/members/{owner.pk}"), 403, FORBIDDEN_ROLE)
    assert role_of(team, owner) == Role.OWNER
    assert role_of(team, teammate) == Role.EDITOR

    assert invite(client, role="admin").status_code == 201
    assert patch(client, f"/team/members/{teammate.pk}", {"role": "viewer"}).json()["role"] == (
        "viewer")
    assert client.delete(f"/team/members/{teammate.pk}").status_code == 204
    assert patch(client, "/team", {"name": "Renamed by the admin"}).status_code == 200


def test_an_admin_may_not_resend_or_revoke_an_owners_invitation(api: ApiClient,
                                                                api_for: Callable[..., ApiClient],
                                                                admin: User) -> None:
    invitation_id = invite(api, role="owner").json()["id"]
    client = api_for(admin)
    assert_error(client.post(f"/team/invitations/{invitation_id}/resend"), 403, FORBIDDEN_ROLE)
    assert_error(client.delete(f"/team/invitations/{invitation_id}"), 403, FORBIDDEN_ROLE)
    assert Invitation.objects.get().revoked_at is None


def test_an_owner_may_invite_another_owner(api: ApiClient) -> None:
    assert invite(api, role="owner").json()["role"] == "owner"


# --- Another team's ids are 404 ----------------------------------------------------------------

def test_another_teams_member_is_not_found(api: ApiClient, stranger: User, team: Team) -> None:
    assert_error(patch(api, f"/team/members/{stranger.pk}", {"role": "viewer"}), 404,
                 MEMBER_NOT_FOUND)
    assert_error(api.delete(f"/team/members/{stranger.pk}"), 404, MEMBER_NOT_FOUND)
    assert_error(api.post("/team/transfer", {"userId": stranger.pk}), 404, MEMBER_NOT_FOUND)
    assert Membership.objects.filter(user=stranger).count() == 1


def test_another_teams_invitation_is_not_found(api: ApiClient, api_for: Callable[..., ApiClient],
                                               stranger: User) -> None:
    theirs = invite(api_for(stranger), "friend@example.com").json()["id"]
    assert_error(api.delete(f"/team/invitations/{theirs}"), 404, INVITATION_NOT_FOUND)
    assert_error(api.post(f"/team/invitations/{theirs}/resend"), 404, INVITATION_NOT_FOUND)
    assert Invitation.objects.get(pk=theirs).revoked_at is None


@pytest.mark.parametrize("bad_id", ["0", "999999", "abc", "1.5", "-1", "9" * 30, "%C3%A9"])
def test_unknown_or_garbled_ids_are_not_found(api: ApiClient, bad_id: str) -> None:
    assert_error(patch(api, f"/team/members/{bad_id}", {"role": "viewer"}), 404,
                 MEMBER_NOT_FOUND)
    assert_error(api.delete(f"/team/members/{bad_id}"), 404, MEMBER_NOT_FOUND)
    assert_error(api.delete(f"/team/invitations/{bad_id}"), 404, INVITATION_NOT_FOUND)
    assert_error(api.post(f"/team/invitations/{bad_id}/resend"), 404, INVITATION_NOT_FOUND)


# --- Members -----------------------------------------------------------------------------------

def test_an_owner_changes_a_members_role(api: ApiClient, teammate: User, team: Team) -> None:
    response = patch(api, f"/team/members/{teammate.pk}", {"role": "admin"})
    assert response.status_code == 200
    assert response.json() == {**response.json(), "userId": teammate.pk, "role": "admin"}
    assert role_of(team, teammate) == Role.ADMIN


def test_the_last_owner_can_be_neither_demoted_nor_removed(api: ApiClient, owner: User,
                                                           team: Team) -> None:
    assert_error(patch(api, f"/team/members/{owner.pk}", {"role": "admin"}), 409,
                 {"code": "last_owner"})
    assert_error(api.delete(f"/team/members/{owner.pk}"), 409, {"code": "last_owner"})
    assert role_of(team, owner) == Role.OWNER


def test_an_owner_may_step_down_while_another_owner_stays(api: ApiClient, owner: User,
                                                          member_of: Callable[..., User],
                                                          team: Team) -> None:
    member_of(Role.OWNER)
    assert patch(api, f"/team/members/{owner.pk}", {"role": "admin"}).status_code == 200
    assert role_of(team, owner) == Role.ADMIN


def test_removing_a_member_revokes_their_keys_of_the_team(api: ApiClient,
                                                          api_for: Callable[..., ApiClient],
                                                          teammate: User, team: Team) -> None:
    theirs = api_for(teammate)
    assert api.delete(f"/team/members/{teammate.pk}").status_code == 204
    assert not Membership.objects.filter(team=team, user=teammate).exists()
    assert not ApiKey.objects.filter(user=teammate, team=team, revoked_at__isnull=True).exists()
    assert_error(theirs.get("/team"), 401, {"code": "invalid_api_key"})
    teammate.refresh_from_db()
    assert teammate.current_team is not None and teammate.current_team != team


def test_a_member_leaves_by_removing_themself(api_for: Callable[..., ApiClient], teammate: User,
                                              team: Team) -> None:
    assert api_for(teammate).delete(f"/team/members/{teammate.pk}").status_code == 204
    assert not Membership.objects.filter(team=team, user=teammate).exists()


@pytest.mark.parametrize("body", [{}, {"role": "boss"}, {"role": None}, {"role": 3},
                                  {"role": "Owner"}, [], "x"])
def test_a_bad_role_is_invalid_request_naming_the_field(api: ApiClient, teammate: User, team: Team,
                                                        body: object) -> None:
    response = patch(api, f"/team/members/{teammate.pk}", body)
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_request"
    if isinstance(body, dict):
        assert response.json()["fields"] == ["role"]
    assert role_of(team, teammate) == Role.EDITOR


# --- Invitations -------------------------------------------------------------------------------

def test_inviting_answers_201_with_the_link_and_emails_it(api: ApiClient, team: Team) -> None:
    response = invite(api, "  New.Person@Example.COM ", "viewer")
    assert response.status_code == 201
    body = response.json()
    invitation = Invitation.objects.get()
    assert body == {"id": invitation.pk, "email": "new.person@example.com", "role": "viewer",
                    "expiresAt": body["expiresAt"], "acceptUrl": body["acceptUrl"]}
    token = token_of(response)
    assert body["acceptUrl"] == f"https://wireflow.example/invitations/{token}/"
    assert invitation.token_hash == hash_token(token)
    assert abs(invitation.expires_at - (timezone.now() + timedelta(days=7))) < timedelta(
        minutes=1)
    assert [m.to for m in mail.outbox] == [["new.person@example.com"]]
    assert body["acceptUrl"] in mail.outbox[0].body
    assert team.name in mail.outbox[0].subject


def test_inviting_an_existing_member_is_409_already_member(api: ApiClient, teammate: User) -> None:
    assert_error(invite(api, "TeamMate@example.com"), 409, {"code": "already_member"})
    assert not Invitation.objects.exists()
    assert not mail.outbox


def test_inviting_the_same_address_again_resends_the_open_invitation(
        api: ApiClient, make_user: Callable[..., User]) -> None:
    first = invite(api, "new@example.com", "viewer")
    again = invite(api, "NEW@example.com", "editor")
    assert again.status_code == 201
    assert again.json()["id"] == first.json()["id"]
    assert again.json()["role"] == "editor"
    assert token_of(again) != token_of(first)
    assert Invitation.objects.count() == 1
    assert len(mail.outbox) == 2
    newcomer = make_user("new@example.com")
    assert accept(newcomer, token_of(first)).status_code == 404  # the old link is dead
    assert accept(newcomer, token_of(again)).status_code == 302


@pytest.mark.parametrize("body, fields", [
    ({"email": "not-an-email", "role": "editor"}, ["email"]),
    ({"email": "", "role": "editor"}, ["email"]),
    ({"email": "a@" + "b" * 260 + ".com", "role": "editor"}, ["email"]),
    ({"email": "a\x00@example.com", "role": "editor"}, ["email"]),
    ({"email": "a@example.com", "role": "boss"}, ["role"]),
    ({"email": "a@example.com"}, ["role"]),
    ({"role": "editor"}, ["email"]),
    ({"email": ["a@example.com"], "role": "editor"}, ["email"]),
])
def test_a_bad_email_or_role_is_invalid_request_naming_the_field(api: ApiClient,
                                                                 body: dict[str, Any],
                                                                 fields: list[str]) -> None:
    response = api.post("/team/invitations", body)
    assert_error(response, 400, {"code": "invalid_request", "fields": fields})
    assert not Invitation.objects.exists()


@pytest.mark.parametrize("raw", ["{not json", "[]", "null", '"x"'])
def test_a_malformed_invitation_body_is_400(api: ApiClient, raw: str) -> None:
    response = api.request("POST", "/team/invitations", raw=raw)
    assert response.status_code == 400
    assert response.json()["code"] in {"invalid_json", "invalid_request"}


def test_open_invitations_are_listed_newest_first(api: ApiClient, owner: User) -> None:
    invite(api, "a@example.com", "viewer")
    invite(api, "b@example.com", "admin")
    accepted = invite(api, "c@example.com").json()
    Invitation.objects.filter(pk=accepted["id"]).update(accepted_at=timezone.now())
    revoked = invite(api, "d@example.com").json()
    api.delete(f"/team/invitations/{revoked['id']}")
    listed = api.get("/team/invitations").json()["invitations"]
    assert [(i["email"], i["role"], i["invitedBy"]) for i in listed] == [
        ("b@example.com", "admin", "owner@example.com"),
        ("a@example.com", "viewer", "owner@example.com")]
    assert set(listed[0]) == {"id", "email", "role", "expiresAt", "createdAt", "invitedBy"}


def test_revoking_an_invitation_kills_its_link(api: ApiClient,
                                               make_user: Callable[..., User]) -> None:
    created = invite(api)
    assert api.delete(f"/team/invitations/{created.json()['id']}").status_code == 204
    assert api.get("/team/invitations").json() == {"invitations": []}
    assert_error(api.delete(f"/team/invitations/{created.json()['id']}"), 404,
                 INVITATION_NOT_FOUND)
    assert accept(make_user("new@example.com"), token_of(created)).status_code == 410


def test_resending_gives_a_new_link_and_expiry_and_kills_the_old_one(
        api: ApiClient, make_user: Callable[..., User]) -> None:
    created = invite(api)
    Invitation.objects.update(expires_at=timezone.now() - timedelta(days=1))
    resent = api.post(f"/team/invitations/{created.json()['id']}/resend")
    assert resent.status_code == 200
    assert set(resent.json()) == {"id", "email", "role", "expiresAt", "acceptUrl"}
    assert token_of(resent) != token_of(created)
    assert resent.json()["expiresAt"] > created.json()["expiresAt"]
    assert len(mail.outbox) == 2 and resent.json()["acceptUrl"] in mail.outbox[1].body
    newcomer = make_user("new@example.com")
    assert accept(newcomer, token_of(created)).status_code == 404
    assert accept(newcomer, token_of(resent)).status_code == 302


def test_an_expired_link_is_refused(api: ApiClient, make_user: Callable[..., User],
                                    team: Team) -> None:
    created = invite(api)
    Invitation.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    newcomer = make_user("new@example.com")
    assert accept(newcomer, token_of(created)).status_code == 410
    assert role_of(team, newcomer) is None


def test_a_link_works_once(api: ApiClient, make_user: Callable[..., User], team: Team) -> None:
    created = invite(api)
    newcomer = make_user("new@example.com")
    assert accept(newcomer, token_of(created)).status_code == 302
    assert role_of(team, newcomer) == Role.EDITOR
    assert api.get("/team").json()["memberCount"] == 2
    Membership.objects.filter(team=team, user=newcomer).delete()
    assert accept(newcomer, token_of(created)).status_code == 302  # "already accepted"
    assert role_of(team, newcomer) is None  # ... and it did not make them a member again


def test_a_browser_session_invites_into_its_current_team(owner: User, team: Team) -> None:
    response = invite(browser(owner))
    assert response.status_code == 201
    assert Invitation.objects.get().team == team


# --- The team ----------------------------------------------------------------------------------

def test_managers_rename_the_team_and_its_slug_stays(api: ApiClient, team: Team) -> None:
    response = patch(api, "/team", {"name": "  Acme Studio "})
    assert response.status_code == 200
    assert (response.json()["name"], response.json()["slug"]) == ("Acme Studio", team.slug)


@pytest.mark.parametrize("body", [{}, {"name": ""}, {"name": "   "}, {"name": "x" * 101},
                                  {"name": "a\x00b"}, {"name": 5}])
def test_a_bad_team_name_is_invalid_request(api: ApiClient, team: Team,
                                            body: dict[str, Any]) -> None:
    assert_error(patch(api, "/team", body), 400, {"code": "invalid_request", "fields": ["name"]})
    assert Team.objects.get(pk=team.pk).name == "owner's team"


def test_the_owner_transfers_ownership_and_becomes_an_admin(api: ApiClient, owner: User,
                                                            teammate: User, team: Team) -> None:
    response = api.post("/team/transfer", {"userId": teammate.pk})
    assert response.status_code == 200
    assert response.json()["role"] == "admin"
    assert (role_of(team, teammate), role_of(team, owner)) == (Role.OWNER, Role.ADMIN)
    # The owner's key now acts as an admin's: no second transfer.
    assert_error(api.post("/team/transfer", {"userId": teammate.pk}), 403, FORBIDDEN_ROLE)


@pytest.mark.parametrize("body", [{}, {"userId": "abc"}, {"userId": 0}, {"userId": 2**70}])
def test_a_bad_transfer_target_is_invalid_request(api: ApiClient, body: dict[str, Any]) -> None:
    assert_error(api.post("/team/transfer", body), 400,
                 {"code": "invalid_request", "fields": ["userId"]})


def test_transferring_to_oneself_is_invalid_request(api: ApiClient, owner: User,
                                                    team: Team) -> None:
    assert_error(api.post("/team/transfer", {"userId": owner.pk}), 400,
                 {"code": "invalid_request", "fields": ["userId"]})
    assert role_of(team, owner) == Role.OWNER


@pytest.mark.parametrize("how", ["body", "query"])
def test_the_owner_deletes_the_team_by_confirming_its_name(api: ApiClient, owner: User,
                                                           teammate: User, team: Team,
                                                           how: str) -> None:
    if how == "body":
        response = api.delete("/team", body={"confirm": "owner's team"})
    else:
        response = api.delete("/team?confirm=owner%27s%20team")
    assert response.status_code == 204
    assert not Team.objects.filter(pk=team.pk).exists()
    teammate.refresh_from_db()
    assert teammate.current_team == Membership.objects.get(user=teammate).team  # their own
    owner.refresh_from_db()
    assert owner.current_team is None  # it was their only team


@pytest.mark.parametrize("call", ["no confirmation", "wrong name", "another case", "not a dict"])
def test_deleting_without_the_right_name_is_invalid_request(api: ApiClient, team: Team,
                                                            call: str) -> None:
    response = {
        "no confirmation": lambda: api.delete("/team"),
        "wrong name": lambda: api.delete("/team", body={"confirm": "other team"}),
        "another case": lambda: api.delete("/team?confirm=OWNER%27S%20TEAM"),
        "not a dict": lambda: api.request("DELETE", "/team", raw="[1]"),
    }[call]()
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_request"
    assert Team.objects.filter(pk=team.pk).exists()


def test_a_key_of_a_deleted_team_is_dead(api: ApiClient, team: Team) -> None:
    api.delete("/team", body={"confirm": team.name})
    assert_error(api.get("/team"), 401, {"code": "invalid_api_key"})


def test_invitations_are_bounded_per_team(api: ApiClient, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("accounts.invitations.MAX_OPEN_INVITATIONS", 2)
    assert invite(api, "a@example.com").status_code == 201
    assert invite(api, "b@example.com").status_code == 201
    assert_error(invite(api, "c@example.com"), 409, {"code": "too_many_invitations"})
    assert invite(api, "a@example.com").status_code == 201  # re-sending is still fine


def test_a_key_made_for_a_viewer_with_team_manage_still_cannot_manage(
        api_for: Callable[..., ApiClient], viewer: User) -> None:
    assert viewer.current_team is not None
    created = api_key_create(user=viewer, team=viewer.current_team, name="k",
                             scopes=[TEAM_MANAGE])
    client = ApiClient(created.secret)
    assert_error(invite(client), 403, FORBIDDEN_ROLE)

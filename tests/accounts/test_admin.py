"""The operator's admin: every accounts model is there, and no key secret or hash is."""

from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client

from accounts.models import ApiKey, Membership, Role, Team, User
from accounts.scopes import ALL_SCOPES
from accounts.services import api_key_create


@pytest.fixture
def admin_client_(make_user: Callable[..., User]) -> Client:
    admin = make_user("admin@example.com")
    admin.is_staff = admin.is_superuser = True
    admin.save()
    client = Client()
    client.force_login(admin)
    return client


@pytest.mark.parametrize("model", ["user", "team", "membership", "apikey", "invitation"])
def test_every_accounts_model_has_a_changelist(admin_client_: Client, owner: User,
                                               model: str) -> None:
    assert admin_client_.get(f"/admin/accounts/{model}/").status_code == 200


def test_the_key_pages_show_the_masked_key_but_no_hash(admin_client_: Client, owner: User,
                                                       team: Team) -> None:
    api_key = api_key_create(user=owner, team=team, name="k").api_key
    for path in ["/admin/accounts/apikey/", f"/admin/accounts/apikey/{api_key.pk}/change/"]:
        html = admin_client_.get(path).content.decode()
        assert api_key.masked in html
        assert api_key.key_hash not in html
        assert 'name="key_hash"' not in html


def test_keys_cannot_be_added_in_the_admin(admin_client_: Client) -> None:
    assert admin_client_.get("/admin/accounts/apikey/add/").status_code == 403


def test_the_admin_can_only_rename_a_key(admin_client_: Client, owner: User, team: Team) -> None:
    api_key = api_key_create(user=owner, team=team, name="k").api_key
    admin_client_.post(f"/admin/accounts/apikey/{api_key.pk}/change/", {
        "name": "renamed", "key_hash": "0" * 64, "scopes": '["usage:read"]'})
    api_key.refresh_from_db()
    assert api_key.name == "renamed"
    assert api_key.key_hash != "0" * 64
    assert api_key.scopes == ALL_SCOPES


def test_the_revoke_action_revokes_the_chosen_keys(admin_client_: Client, owner: User,
                                                   team: Team) -> None:
    api_key = api_key_create(user=owner, team=team, name="k").api_key
    admin_client_.post("/admin/accounts/apikey/", {
        "action": "revoke", "_selected_action": [api_key.pk]})
    assert ApiKey.objects.get(pk=api_key.pk).revoked_at is not None


def test_adding_a_user_by_email_gives_them_a_personal_team(admin_client_: Client) -> None:
    response = admin_client_.post("/admin/accounts/user/add/", {
        "email": "new@example.com", "usable_password": "false"})
    assert response.status_code == 302
    user = User.objects.get(email="new@example.com")
    assert not user.has_usable_password()
    assert Membership.objects.get(user=user).role == Role.OWNER


def test_a_user_change_page_opens(admin_client_: Client, owner: User) -> None:
    assert admin_client_.get(f"/admin/accounts/user/{owner.pk}/change/").status_code == 200


# --- Removing people from teams revokes their keys of that team ------------------------------

@pytest.fixture
def member_with_key(make_user: Callable[..., User], team: Team) -> tuple[Membership, ApiKey]:
    member = make_user("member@example.com")
    membership = Membership.objects.create(team=team, user=member, role=Role.EDITOR)
    api_key = api_key_create(user=member, team=team, name="k").api_key
    return membership, api_key


def _assert_removed_and_revoked(membership: Membership, api_key: ApiKey) -> None:
    assert not Membership.objects.filter(pk=membership.pk).exists()
    assert ApiKey.objects.get(pk=api_key.pk).revoked_at is not None


def test_deleting_a_membership_revokes_the_members_keys_of_that_team(
        admin_client_: Client, member_with_key: tuple[Membership, ApiKey]) -> None:
    membership, api_key = member_with_key
    response = admin_client_.post(f"/admin/accounts/membership/{membership.pk}/delete/",
                                  {"post": "yes"})
    assert response.status_code == 302
    _assert_removed_and_revoked(membership, api_key)


def test_deleting_memberships_in_bulk_revokes_the_keys_too(
        admin_client_: Client, member_with_key: tuple[Membership, ApiKey]) -> None:
    membership, api_key = member_with_key
    response = admin_client_.post("/admin/accounts/membership/", {
        "action": "delete_selected", "_selected_action": [membership.pk], "post": "yes"})
    assert response.status_code == 302
    _assert_removed_and_revoked(membership, api_key)


def _team_form(team: Team, memberships: list[Membership], **changes: Any) -> dict[str, str]:
    """The team change form as the admin page posts it, with `changes` on the inline rows."""
    data = {"name": team.name, "slug": team.slug, "plan": team.plan,
            "created_at_0": team.created_at.strftime("%Y-%m-%d"),
            "created_at_1": team.created_at.strftime("%H:%M:%S"),
            "memberships-TOTAL_FORMS": str(len(memberships)),
            "memberships-INITIAL_FORMS": str(len(memberships)),
            "memberships-MIN_NUM_FORMS": "0", "memberships-MAX_NUM_FORMS": "1000"}
    for i, membership in enumerate(memberships):
        data.update({f"memberships-{i}-id": str(membership.pk),
                     f"memberships-{i}-team": str(team.pk),
                     f"memberships-{i}-user": str(membership.user_id),
                     f"memberships-{i}-role": membership.role,
                     f"memberships-{i}-created_at_0": membership.created_at.strftime("%Y-%m-%d"),
                     f"memberships-{i}-created_at_1": membership.created_at.strftime("%H:%M:%S")})
    data.update({key.format(i=memberships.index(m)): value
                 for m, key, value in changes.get("rows", [])})
    return data


def test_removing_a_member_on_the_team_page_revokes_their_keys(
        admin_client_: Client, team: Team, member_with_key: tuple[Membership, ApiKey]) -> None:
    membership, api_key = member_with_key
    memberships = list(Membership.objects.filter(team=team).order_by("pk"))
    data = _team_form(team, memberships,
                      rows=[(membership, "memberships-{i}-DELETE", "on")])
    response = admin_client_.post(f"/admin/accounts/team/{team.pk}/change/", data)
    assert response.status_code == 302, response.content.decode()[:2000]
    _assert_removed_and_revoked(membership, api_key)


def test_a_membership_cannot_be_handed_to_another_person(
        admin_client_: Client, team: Team, stranger: User,
        member_with_key: tuple[Membership, ApiKey]) -> None:
    membership, api_key = member_with_key
    response = admin_client_.post(f"/admin/accounts/membership/{membership.pk}/change/", {
        "team": team.pk, "user": stranger.pk, "role": membership.role,
        "created_at_0": membership.created_at.strftime("%Y-%m-%d"),
        "created_at_1": membership.created_at.strftime("%H:%M:%S")})
    assert response.status_code == 200  # the form again, with the error
    assert Membership.objects.get(pk=membership.pk).user_id == membership.user_id
    assert ApiKey.objects.get(pk=api_key.pk).revoked_at is None


def test_a_membership_on_the_team_page_cannot_be_handed_to_another_person(
        admin_client_: Client, team: Team, stranger: User,
        member_with_key: tuple[Membership, ApiKey]) -> None:
    membership, api_key = member_with_key
    memberships = list(Membership.objects.filter(team=team).order_by("pk"))
    data = _team_form(team, memberships,
                      rows=[(membership, "memberships-{i}-user", str(stranger.pk))])
    response = admin_client_.post(f"/admin/accounts/team/{team.pk}/change/", data)
    assert response.status_code == 200
    assert Membership.objects.get(pk=membership.pk).user_id == membership.user_id


def test_changing_a_members_role_in_the_admin_keeps_their_keys(
        admin_client_: Client, team: Team, member_with_key: tuple[Membership, ApiKey]) -> None:
    membership, api_key = member_with_key
    response = admin_client_.post(f"/admin/accounts/membership/{membership.pk}/change/", {
        "team": team.pk, "user": membership.user_id, "role": Role.VIEWER,
        "created_at_0": membership.created_at.strftime("%Y-%m-%d"),
        "created_at_1": membership.created_at.strftime("%H:%M:%S")})
    assert response.status_code == 302
    assert Membership.objects.get(pk=membership.pk).role == Role.VIEWER
    assert ApiKey.objects.get(pk=api_key.pk).revoked_at is None


def test_the_invitation_pages_show_no_token_hash_and_can_revoke(admin_client_: Client, owner: User,
                                                                team: Team) -> None:
    from accounts.invitations import invitation_create
    from accounts.models import Invitation

    invitation = invitation_create(team=team, by=owner, email="new@example.com",
                                   role=Role.EDITOR).invitation
    for path in ["/admin/accounts/invitation/",
                 f"/admin/accounts/invitation/{invitation.pk}/change/"]:
        html = admin_client_.get(path).content.decode()
        assert "new@example.com" in html
        assert invitation.token_hash not in html
    assert admin_client_.get("/admin/accounts/invitation/add/").status_code == 403
    admin_client_.post("/admin/accounts/invitation/", {
        "action": "revoke", "_selected_action": [invitation.pk]})
    assert Invitation.objects.get().revoked_at is not None

"""The operator's admin: every accounts model is there, and no key secret or hash is."""

import pytest
from django.test import Client

from accounts.models import ApiKey, Membership, Role, User
from accounts.services import api_key_create


@pytest.fixture
def admin_client_(make_user) -> Client:
    admin = make_user("admin@example.com")
    admin.is_staff = admin.is_superuser = True
    admin.save()
    client = Client()
    client.force_login(admin)
    return client


@pytest.mark.parametrize("model", ["user", "team", "membership", "apikey"])
def test_every_accounts_model_has_a_changelist(admin_client_, owner, model):
    assert admin_client_.get(f"/admin/accounts/{model}/").status_code == 200


def test_the_key_pages_show_the_masked_key_but_no_hash(admin_client_, owner, team):
    api_key = api_key_create(user=owner, team=team, name="k").api_key
    for path in ["/admin/accounts/apikey/", f"/admin/accounts/apikey/{api_key.pk}/change/"]:
        html = admin_client_.get(path).content.decode()
        assert api_key.masked in html
        assert api_key.key_hash not in html
        assert 'name="key_hash"' not in html


def test_keys_cannot_be_added_in_the_admin(admin_client_):
    assert admin_client_.get("/admin/accounts/apikey/add/").status_code == 403


def test_the_admin_can_only_rename_a_key(admin_client_, owner, team):
    api_key = api_key_create(user=owner, team=team, name="k").api_key
    admin_client_.post(f"/admin/accounts/apikey/{api_key.pk}/change/", {
        "name": "renamed", "key_hash": "0" * 64, "scopes": '["usage:read"]'})
    api_key.refresh_from_db()
    assert api_key.name == "renamed"
    assert api_key.key_hash != "0" * 64
    assert len(api_key.scopes) == 5


def test_the_revoke_action_revokes_the_chosen_keys(admin_client_, owner, team):
    api_key = api_key_create(user=owner, team=team, name="k").api_key
    admin_client_.post("/admin/accounts/apikey/", {
        "action": "revoke", "_selected_action": [api_key.pk]})
    assert ApiKey.objects.get(pk=api_key.pk).revoked_at is not None


def test_adding_a_user_by_email_gives_them_a_personal_team(admin_client_):
    response = admin_client_.post("/admin/accounts/user/add/", {
        "email": "new@example.com", "usable_password": "false"})
    assert response.status_code == 302
    user = User.objects.get(email="new@example.com")
    assert not user.has_usable_password()
    assert Membership.objects.get(user=user).role == Role.OWNER


def test_a_user_change_page_opens(admin_client_, owner):
    assert admin_client_.get(f"/admin/accounts/user/{owner.pk}/change/").status_code == 200

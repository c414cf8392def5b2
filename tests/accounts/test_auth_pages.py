"""Sign up, log in, log out and password reset: allauth's views with our templates."""

import re

import pytest
from django.core import mail
from django.test import Client

from accounts.models import Membership, Role, User

PASSWORD = "correct-horse-battery"


def logged_in_user_id(client: Client) -> str | None:
    return client.session.get("_auth_user_id")


def test_signing_up_creates_the_user_and_their_personal_team_and_logs_them_in(db: None) -> None:
    client = Client()
    response = client.post("/accounts/signup/", {
        "email": "new@example.com", "password1": "a-long-new-pass", "password2": "a-long-new-pass"})

    assert response.status_code == 302
    user = User.objects.get(email="new@example.com")
    membership = Membership.objects.get(user=user)
    assert membership.role == Role.OWNER
    assert user.current_team == membership.team
    assert logged_in_user_id(client) == str(user.pk)


@pytest.mark.parametrize("data, error", [
    ({"email": "new@example.com", "password1": "a-long-new-pass", "password2": "different-pass"},
     "You must type the same password each time."),
    ({"email": "not-an-email", "password1": "a-long-new-pass", "password2": "a-long-new-pass"},
     "Enter a valid email address."),
    ({"email": "new@example.com", "password1": "short", "password2": "short"},
     "This password is too short."),
    ({"email": "", "password1": "", "password2": ""}, "This field is required."),
])
def test_bad_sign_ups_show_the_error_on_the_form_and_create_nobody(db: None, data: dict[str, str],
                                                                   error: str) -> None:
    response = Client().post("/accounts/signup/", data)
    assert response.status_code == 200
    assert error in response.content.decode()
    assert 'class="field-error"' in response.content.decode()
    assert not User.objects.exists()


def test_signing_up_with_a_taken_email_is_refused(owner: User) -> None:
    response = Client().post("/accounts/signup/", {
        "email": "OWNER@example.com", "password1": "a-long-new-pass",
        "password2": "a-long-new-pass"})
    assert response.status_code == 200
    assert "field-error" in response.content.decode()
    assert User.objects.count() == 1


def test_logging_in_with_the_right_password_starts_a_session(owner: User) -> None:
    client = Client()
    response = client.post("/accounts/login/", {"login": "owner@example.com",
                                                "password": PASSWORD})
    assert response.status_code == 302
    assert logged_in_user_id(client) == str(owner.pk)


def test_logging_in_with_a_wrong_password_shows_an_error(owner: User) -> None:
    client = Client()
    response = client.post("/accounts/login/", {"login": "owner@example.com",
                                                "password": "wrong-password"})
    assert response.status_code == 200
    assert "not correct" in response.content.decode()
    assert logged_in_user_id(client) is None


def test_logging_in_honours_a_safe_next_url(owner: User) -> None:
    response = Client().post("/accounts/login/?next=/settings/api-keys/", {
        "login": "owner@example.com", "password": PASSWORD, "next": "/settings/api-keys/"})
    assert response["Location"] == "/settings/api-keys/"


def test_logging_out_takes_a_post(owner: User) -> None:
    client = Client()
    client.force_login(owner)

    assert client.get("/accounts/logout/").status_code == 200
    assert logged_in_user_id(client) == str(owner.pk)

    response = client.post("/accounts/logout/")
    assert response.status_code == 302
    assert logged_in_user_id(client) is None


def test_a_password_reset_link_lets_the_user_choose_a_new_password(owner: User) -> None:
    client = Client()
    response = client.post("/accounts/password/reset/", {"email": "owner@example.com"})
    assert response.status_code == 302
    assert len(mail.outbox) == 1
    link = re.search(r"http://testserver(/accounts/password/reset/key/\S+/)",
                     str(mail.outbox[0].body))
    assert link is not None

    form_page = client.get(link.group(1), follow=True)
    assert "Choose a new password" in form_page.content.decode()
    done = client.post(form_page.redirect_chain[-1][0], {
        "password1": "a-brand-new-pass", "password2": "a-brand-new-pass"})

    assert done.status_code == 302
    owner.refresh_from_db()
    assert owner.check_password("a-brand-new-pass")


def test_a_used_password_reset_link_says_so(owner: User) -> None:
    client = Client()
    client.post("/accounts/password/reset/", {"email": "owner@example.com"})
    link = re.search(r"http://testserver(/accounts/password/reset/key/\S+/)",
                     str(mail.outbox[0].body))
    assert link is not None
    path = link.group(1)
    set_page = client.get(path, follow=True).redirect_chain[-1][0]
    client.post(set_page, {"password1": "a-brand-new-pass", "password2": "a-brand-new-pass"})

    again = Client().get(path, follow=True)

    assert "This link no longer works" in again.content.decode()


def test_a_password_reset_for_an_unknown_email_reveals_nothing(db: None) -> None:
    response = Client().post("/accounts/password/reset/", {"email": "nobody@example.com"},
                             follow=True)
    assert "Check your email" in response.content.decode()


def test_changing_the_password_needs_the_current_one(owner: User) -> None:
    client = Client()
    client.force_login(owner)
    response = client.post("/accounts/password/change/", {
        "oldpassword": "wrong-password", "password1": "a-brand-new-pass",
        "password2": "a-brand-new-pass"})
    assert response.status_code == 200
    assert "field-error" in response.content.decode()
    owner.refresh_from_db()
    assert owner.check_password(PASSWORD)


@pytest.mark.parametrize("path, heading", [
    ("/accounts/login/", "Log in"),
    ("/accounts/signup/", "Create your account"),
    ("/accounts/password/reset/", "Reset your password"),
    ("/accounts/password/reset/done/", "Check your email"),
])
def test_every_entrance_page_uses_the_site_layout(db: None, path: str, heading: str) -> None:
    html = Client().get(path).content.decode()
    assert 'class="topbar"' in html
    assert "/static/css/app.css" in html
    assert f"<h1>{heading}</h1>" in html
    assert "Menu:" not in html  # allauth's bare default layout


@pytest.mark.parametrize("path", ["/accounts/password/change/", "/accounts/logout/",
                                  "/accounts/email/"])
def test_every_signed_in_account_page_uses_the_site_layout_under_settings(owner: User,
                                                                          path: str) -> None:
    client = Client()
    client.force_login(owner)
    html = client.get(path).content.decode()
    assert 'class="topbar"' in html
    assert 'aria-label="Settings"' in html
    assert "Menu:" not in html

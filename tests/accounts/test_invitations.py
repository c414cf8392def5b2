"""Invitations: the services, the email, and accepting the link in the browser, for an existing
account (after log-in) and a new one (after sign-up with that address)."""

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

import pytest
from django.core import mail
from django.core.mail.backends.base import BaseEmailBackend
from django.test import Client
from django.utils import timezone
from pytest_django import Settings

from accounts import invitations
from accounts.invitations import (
    InvitationGone,
    invitation_accept,
    invitation_create,
    invitation_find,
    invitation_resend,
    invitation_revoke,
)
from accounts.models import Invitation, Membership, Role, Team, User
from accounts.permissions import ForbiddenRole
from accounts.services import team_create
from wireflow_site.errors import Conflict, Forbidden, InvalidRequest

if TYPE_CHECKING:  # the test client's response type exists only in django-stubs
    from django.test.client import _MonkeyPatchedWSGIResponse

pytestmark = pytest.mark.django_db
PASSWORD = "correct-horse-battery"


@pytest.fixture(autouse=True)
def _site(settings: Any) -> None:
    settings.SITE_URL = "http://testserver"


def send(team: Team, by: User, email: str = "new@example.com",
         role: str = Role.EDITOR) -> tuple[Invitation, str]:
    sent = invitation_create(team=team, by=by, email=email, role=role)
    return sent.invitation, sent.accept_url.removeprefix("http://testserver")


def member_role(team: Team, user: User) -> str | None:
    return Membership.objects.filter(team=team, user=user).values_list("role", flat=True).first()


def page(response: "_MonkeyPatchedWSGIResponse") -> str:
    return response.content.decode().replace("&#x27;", "'")


# --- The service and the email -----------------------------------------------------------------

def test_only_the_tokens_hash_is_stored(owner: User, team: Team) -> None:
    sent = invitation_create(team=team, by=owner, email="new@example.com", role=Role.EDITOR)
    token = sent.accept_url.rstrip("/").rsplit("/", 1)[1]
    assert len(token) >= 40
    row = Invitation.objects.filter(pk=sent.invitation.pk).values().get()
    assert row["token_hash"] == invitations.hash_token(token)
    assert not any(token in str(value) for value in row.values())
    assert invitation_find(token) == sent.invitation


def test_the_email_carries_the_link_the_team_and_the_role(owner: User, team: Team) -> None:
    sent = invitation_create(team=team, by=owner, email="New@Example.com", role=Role.VIEWER)
    assert sent.emailed is True
    [message] = mail.outbox
    assert message.to == ["new@example.com"]
    assert message.subject == "owner@example.com invited you to join owner's team on Wireflow"
    assert sent.accept_url in message.body
    assert sent.accept_url.startswith("http://testserver/invitations/")
    assert "viewer" in message.body


def test_the_invitation_expires_after_the_configured_days(owner: User, team: Team,
                                                          settings: Settings) -> None:
    settings.INVITATION_DAYS = 3
    invitation, _ = send(team, owner)
    assert abs(invitation.expires_at - (timezone.now() + timedelta(days=3))) < timedelta(
        minutes=1)


def test_a_team_name_with_a_newline_makes_a_one_line_subject(owner: User) -> None:
    team = team_create(owner=owner, name="Evil\r\nBcc: victim@example.com")
    send(team, owner)
    assert "\n" not in mail.outbox[0].subject
    assert mail.outbox[0].to == ["new@example.com"]
    assert not mail.outbox[0].bcc


class RefusingBackend(BaseEmailBackend):
    def send_messages(self, email_messages: Any) -> int:
        raise ConnectionRefusedError("no mail server")


def test_a_mail_server_failure_keeps_the_invitation_and_its_link(owner: User, team: Team,
                                                                 settings: Settings) -> None:
    settings.EMAIL_BACKEND = "tests.accounts.test_invitations.RefusingBackend"
    sent = invitation_create(team=team, by=owner, email="new@example.com", role=Role.EDITOR)
    assert sent.emailed is False
    assert invitation_find(sent.accept_url.rstrip("/").rsplit("/", 1)[1]) == sent.invitation


@pytest.mark.parametrize("email", ["", "nope", "a@b", "a" * 250 + "@example.com", "a b@c.com"])
def test_a_bad_address_invites_nobody(owner: User, team: Team, email: str) -> None:
    with pytest.raises(InvalidRequest):
        send(team, owner, email)
    assert not Invitation.objects.exists()
    assert not mail.outbox


def test_a_member_already_cannot_be_invited(owner: User, team: Team, teammate: User) -> None:
    with pytest.raises(Conflict) as refused:
        send(team, owner, "TEAMMATE@example.com")
    assert refused.value.code == "already_member"


@pytest.mark.parametrize("role", [Role.EDITOR, Role.VIEWER])
def test_editors_and_viewers_may_not_invite(team: Team, member_of: Callable[..., User],
                                            role: Role) -> None:
    with pytest.raises(ForbiddenRole):
        send(team, member_of(role))
    assert not Invitation.objects.exists()


def test_an_admin_may_not_invite_an_owner(team: Team, admin: User) -> None:
    with pytest.raises(ForbiddenRole):
        send(team, admin, role=Role.OWNER)
    send(team, admin, role=Role.ADMIN)


def test_a_stranger_may_not_invite_into_another_team(team: Team, stranger: User) -> None:
    with pytest.raises(ForbiddenRole):
        send(team, stranger)


def test_resending_replaces_the_token_and_sends_again(owner: User, team: Team) -> None:
    invitation, old_link = send(team, owner)
    resent = invitation_resend(invitation, by=owner)
    assert resent.invitation.pk == invitation.pk
    assert invitation_find(old_link.split("/")[2]) is None
    assert len(mail.outbox) == 2
    assert resent.accept_url in mail.outbox[1].body


def test_a_revoked_invitation_cannot_be_resent(owner: User, team: Team) -> None:
    invitation, _ = send(team, owner)
    invitation_revoke(invitation, by=owner)
    with pytest.raises(Exception, match="Invitation not found"):
        invitation_resend(invitation, by=owner)


def test_accepting_makes_a_member_with_the_role_and_switches_the_team(
        owner: User, team: Team, make_user: Callable[..., User]) -> None:
    invitation, _ = send(team, owner, "Mixed.Case@Example.com", Role.VIEWER)
    person = make_user("mixed.case@example.com")
    membership = invitation_accept(invitation, user=person)
    assert (membership.team, membership.role) == (team, Role.VIEWER)
    person.refresh_from_db()
    assert person.current_team == team
    invitation.refresh_from_db()
    assert (invitation.accepted_by, invitation.accepted_at is not None) == (person, True)


def test_only_the_invited_address_may_accept(owner: User, team: Team, stranger: User) -> None:
    invitation, _ = send(team, owner)
    with pytest.raises(Forbidden) as refused:
        invitation_accept(invitation, user=stranger)
    assert refused.value.code == "wrong_account"
    assert member_role(team, stranger) is None
    assert Invitation.objects.get().accepted_at is None


@pytest.mark.parametrize("spoil, code", [
    (lambda i: Invitation.objects.filter(pk=i.pk).update(
        expires_at=timezone.now() - timedelta(seconds=1)), "invitation_expired"),
    (lambda i: Invitation.objects.filter(pk=i.pk).update(revoked_at=timezone.now()),
     "invitation_revoked"),
    (lambda i: Invitation.objects.filter(pk=i.pk).update(accepted_at=timezone.now()),
     "invitation_used"),
])
def test_an_expired_revoked_or_used_invitation_is_refused(owner: User, team: Team,
                                                          make_user: Callable[..., User],
                                                          spoil: Callable[[Invitation], int],
                                                          code: str) -> None:
    invitation, _ = send(team, owner)
    spoil(invitation)
    invitation.refresh_from_db()
    person = make_user("new@example.com")
    with pytest.raises(InvitationGone) as refused:
        invitation_accept(invitation, user=person)
    assert (refused.value.status, refused.value.code) == (410, code)
    assert member_role(team, person) is None


def test_an_invitation_read_before_it_was_used_elsewhere_is_still_single_use(
        owner: User, team: Team, make_user: Callable[..., User]) -> None:
    invitation, _ = send(team, owner)
    stale = Invitation.objects.get(pk=invitation.pk)  # loaded by a second request, say
    person = make_user("new@example.com")
    invitation_accept(invitation, user=person)
    Membership.objects.filter(team=team, user=person).delete()
    with pytest.raises(InvitationGone):
        invitation_accept(stale, user=person)
    assert member_role(team, person) is None


def test_someone_already_in_the_team_keeps_their_role(owner: User, team: Team,
                                                      teammate: User) -> None:
    invitation = Invitation.objects.create(team=team, email=teammate.email, role=Role.VIEWER,
                                           token_hash="x" * 64,
                                           expires_at=timezone.now() + timedelta(days=1))
    invitation_accept(invitation, user=teammate)
    assert member_role(team, teammate) == Role.EDITOR


# --- The link in the browser -------------------------------------------------------------------

def test_a_visitor_sees_whom_they_join_and_how(owner: User, team: Team) -> None:
    _, link = send(team, owner, role=Role.VIEWER)
    response = Client().get(link)
    html = page(response)
    assert response.status_code == 200
    assert "Join owner's team as viewer" in html
    assert "Sign up with new@example.com" in html
    assert f"/accounts/login/?next={link.replace('/', '%2F')}" in html
    signup = html.split('data-testid="invitation-signup"')[0].rsplit('href="', 1)[1]
    query = parse_qs(urlsplit(signup.split('"')[0].replace("&amp;", "&")).query)
    assert query == {"email": ["new@example.com"], "next": [link]}


def test_the_sign_up_form_comes_prefilled_with_the_invited_address(owner: User, team: Team) -> None:
    send(team, owner)
    html = page(Client().get("/accounts/signup/?email=new@example.com&next=/x/"))
    assert 'value="new@example.com"' in html


def test_a_new_account_signed_up_through_the_link_lands_in_the_team(owner: User,
                                                                    team: Team) -> None:
    _, link = send(team, owner, role=Role.VIEWER)
    client = Client()
    client.get(link)
    response = client.post("/accounts/signup/", {
        "email": "new@example.com", "password1": PASSWORD, "password2": PASSWORD,
        "next": link}, follow=True)
    assert response.redirect_chain[-1][0] == "/workflows/"
    person = User.objects.get(email="new@example.com")
    assert member_role(team, person) == Role.VIEWER
    assert person.current_team == team
    assert "You joined owner's team as Viewer." in page(response)
    assert "already accepted" not in page(response)
    assert Invitation.objects.get().accepted_by == person


def test_signing_up_with_another_address_joins_nothing_and_says_why(owner: User,
                                                                    team: Team) -> None:
    _, link = send(team, owner)
    client = Client()
    client.get(link)
    response = client.post("/accounts/signup/", {
        "email": "someone.else@example.com", "password1": PASSWORD, "password2": PASSWORD,
        "next": link}, follow=True)
    person = User.objects.get(email="someone.else@example.com")
    assert member_role(team, person) is None
    assert "This invitation is for <strong>new@example.com</strong>" in page(response)
    assert Invitation.objects.get().accepted_at is None


def test_a_sign_up_without_opening_the_link_accepts_nothing(owner: User, team: Team) -> None:
    send(team, owner)
    Client().post("/accounts/signup/", {"email": "new@example.com", "password1": PASSWORD,
                                        "password2": PASSWORD})
    assert member_role(team, User.objects.get(email="new@example.com")) is None


def test_an_existing_account_joins_after_logging_in(owner: User, team: Team,
                                                    make_user: Callable[..., User]) -> None:
    person = make_user("new@example.com", password=PASSWORD)
    _, link = send(team, owner, role=Role.ADMIN)
    client = Client()
    assert 'data-testid="invitation-login"' in page(client.get(link))
    logged_in = client.post("/accounts/login/", {"login": "new@example.com",
                                                 "password": PASSWORD, "next": link})
    assert logged_in["Location"] == link
    html = page(client.get(link))
    assert 'data-testid="join-team"' in html
    assert member_role(team, person) is None  # looking is not joining
    joined = client.post(link, follow=True)
    assert joined.redirect_chain == [("/workflows/", 302)]
    assert "You joined owner's team as Admin." in page(joined)
    assert member_role(team, person) == Role.ADMIN
    person.refresh_from_db()
    assert person.current_team == team


def test_the_address_matches_whatever_its_case(owner: User, team: Team,
                                               make_user: Callable[..., User]) -> None:
    person = make_user("new@example.com")
    _, link = send(team, owner, "NEW@Example.com")
    client = Client()
    client.force_login(person)
    assert client.post(link).status_code == 302
    assert member_role(team, person) == Role.EDITOR


def test_another_account_is_told_and_offered_to_log_out(owner: User, team: Team,
                                                        stranger: User) -> None:
    _, link = send(team, owner)
    client = Client()
    client.force_login(stranger)
    html = page(client.get(link))
    assert "This invitation is for <strong>new@example.com</strong>" in html
    assert "you are logged in as <strong>stranger@example.com</strong>" in html
    assert 'data-testid="invitation-logout"' in html
    assert 'data-testid="join-team"' not in html
    response = client.post(link)
    assert response.status_code == 403
    assert member_role(team, stranger) is None
    assert Invitation.objects.get().accepted_at is None


def test_joining_needs_a_login(owner: User, team: Team) -> None:
    _, link = send(team, owner)
    response = Client().post(link)
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")
    assert Invitation.objects.get().accepted_at is None


@pytest.mark.parametrize("spoil, status, text", [
    ({"expires_at": timezone.now() - timedelta(minutes=1)}, 410, "This invitation has expired"),
    ({"revoked_at": timezone.now()}, 410, "This invitation was revoked"),
    ({"accepted_at": timezone.now()}, 410, "This invitation has already been used"),
])
def test_an_expired_revoked_or_used_link_changes_nothing(owner: User, team: Team,
                                                         make_user: Callable[..., User],
                                                         spoil: dict[str, datetime], status: int,
                                                         text: str) -> None:
    _, link = send(team, owner)
    Invitation.objects.update(**spoil)
    person = make_user("new@example.com")
    client = Client()
    client.force_login(person)
    for response in (Client().get(link), client.get(link), client.post(link)):
        assert response.status_code == status
        assert text in page(response)
        assert 'data-testid="join-team"' not in page(response)
    assert member_role(team, person) is None


def test_a_used_link_cannot_be_used_again_by_anyone(owner: User, team: Team,
                                                    make_user: Callable[..., User]) -> None:
    _, link = send(team, owner)
    person = make_user("new@example.com")
    first = Client()
    first.force_login(person)
    assert first.post(link).status_code == 302
    assert Client().get(link).status_code == 410
    again = first.get(link, follow=True)  # the person who accepted it: straight to the team
    assert again.redirect_chain == [("/workflows/", 302)]
    assert "already accepted this invitation" in page(again)


@pytest.mark.parametrize("token", ["unknown", "x" * 43, "x" * 500])
def test_an_unknown_link_is_not_found(db: None, token: str) -> None:
    response = Client().get(f"/invitations/{token}/")
    assert response.status_code == 404
    assert "This invitation link is not valid" in page(response)


def test_a_revoked_link_is_refused_after_a_sign_up_too(owner: User, team: Team) -> None:
    invitation, link = send(team, owner)
    client = Client()
    client.get(link)
    invitation_revoke(invitation, by=owner)
    response = client.post("/accounts/signup/", {
        "email": "new@example.com", "password1": PASSWORD, "password2": PASSWORD,
        "next": link}, follow=True)
    assert response.status_code == 410
    assert member_role(team, User.objects.get(email="new@example.com")) is None

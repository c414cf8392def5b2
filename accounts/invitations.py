"""Invitations: owners and admins invite people by email to join their team with a role.

The link `{SITE_URL}/invitations/<token>/` is the only proof that its holder received the email
(sign-up does not verify addresses), so the token is random, stored only as its SHA-256, valid
settings.INVITATION_DAYS days and good for one acceptance; a resend makes a new token and the old
link stops working. There is at most one open invitation per (team, email): inviting the same
address again re-sends that invitation (new link, new expiry, the role asked for now) instead of
refusing, which is what a person pressing "Invite" a second time means.

Open: neither accepted nor revoked. An expired invitation stays open so that it can be re-sent
or revoked; only a live one (open and unexpired) can be accepted.
"""

import hashlib
import logging
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.core.validators import validate_email
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from wireflow_site.errors import ApiError, Conflict, Forbidden, InvalidRequest, NotFound

from .models import Invitation, Membership, Team, User
from .permissions import Action, ForbiddenRole, may_manage_member, require_role
from .services import parse_role

logger = logging.getLogger("wireflow.accounts")

MAX_EMAIL_LENGTH = 254
MAX_TOKEN_LENGTH = 128  # a real token is 43 characters; anything longer is not worth hashing
MAX_OPEN_INVITATIONS = 100  # per team: invitations send email, so they are bounded

# Where an invitation link opened by a visitor waits while they sign up (signals.py accepts it).
SESSION_KEY = "accounts.invitation_token"
# Set when a sign-up accepted an invitation, so that the link's page, where the sign-up sends
# the person next, says "you joined" rather than "already accepted".
JOINED_SESSION_KEY = "accounts.joined_invitation"


class InvitationGone(ApiError):
    """The invitation exists but can no longer be accepted: expired, revoked or used."""

    status = 410
    code = "invitation_gone"
    message = "This invitation can no longer be used"


@dataclass(frozen=True)
class SentInvitation:
    invitation: Invitation
    accept_url: str  # holds the token: shown to the inviter once, never stored
    emailed: bool  # False if the mail server refused; the inviter can still share the link


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def accept_url(token: str) -> str:
    return f"{settings.SITE_URL}/invitations/{token}/"


def normalize_email(email: str) -> str:
    """The address lower-cased, or 400 invalid_request naming `email`."""
    email = email.strip().lower()
    try:
        if len(email) > MAX_EMAIL_LENGTH:
            raise ValidationError("too long")
        validate_email(email)
    except ValidationError:
        raise InvalidRequest("email: not a valid email address", fields=["email"]) from None
    return email


# --- Reads ------------------------------------------------------------------------------------

def invitations_open(team: Team) -> QuerySet[Invitation]:
    return (Invitation.objects.filter(team=team, accepted_at__isnull=True,
                                      revoked_at__isnull=True)
            .select_related("invited_by").order_by("-created_at", "-pk"))


def invitation_get_open(team: Team, invitation_id: int) -> Invitation:
    """An open invitation of `team`, else 404: another team's, a used or a revoked one are all
    'not found' to the caller."""
    found = invitations_open(team).filter(pk=invitation_id).first()
    if found is None:
        raise NotFound("Invitation not found")
    return found


def invitation_find(token: str) -> Invitation | None:
    """The invitation a link's token belongs to, whatever its state; None for an unknown one."""
    if not token or len(token) > MAX_TOKEN_LENGTH:
        return None
    return (Invitation.objects.select_related("team", "invited_by")
            .filter(token_hash=hash_token(token)).first())


def invitation_state(invitation: Invitation, now: datetime | None = None) -> str:
    """pending, accepted, revoked or expired (in that order of precedence)."""
    if invitation.accepted_at is not None:
        return "accepted"
    if invitation.revoked_at is not None:
        return "revoked"
    if invitation.expires_at <= (now or timezone.now()):
        return "expired"
    return "pending"


def is_member_email(team: Team, email: str) -> bool:
    return Membership.objects.filter(team=team, user__email__iexact=email).exists()


# --- Writes -----------------------------------------------------------------------------------

def _check_may_invite(team: Team, by: User, role: str) -> None:
    inviter_role = require_role(by, team, Action.MANAGE_MEMBERS)
    if not may_manage_member(inviter_role, role):
        raise ForbiddenRole()


def _new_token() -> tuple[str, str, datetime]:
    token = secrets.token_urlsafe(32)
    return token, hash_token(token), timezone.now() + timedelta(days=settings.INVITATION_DAYS)


def invitation_create(*, team: Team, by: User, email: str, role: str) -> SentInvitation:
    """Invite `email` to `team` as `role` and email them the link. Owners and admins only, and
    admins not as owners (403 forbidden_role); a member already: 409 already_member. An open
    invitation for the same address is re-sent with this role (see the module's docstring)."""
    email, role = normalize_email(email), parse_role(role)
    token, token_hash, expires_at = _new_token()
    with transaction.atomic():
        Team.objects.select_for_update().filter(pk=team.pk).first()  # one writer per team
        _check_may_invite(team, by, role)
        if is_member_email(team, email):
            raise Conflict(f"{email} is already a member of {team.name}", code="already_member")
        invitation = invitations_open(team).filter(email=email).first()
        if invitation is None:
            if invitations_open(team).count() >= MAX_OPEN_INVITATIONS:
                raise Conflict(f"A team can have at most {MAX_OPEN_INVITATIONS} open "
                               "invitations: revoke some first", code="too_many_invitations")
            invitation = Invitation(team=team, email=email)
        _renew(invitation, by=by, role=role, token_hash=token_hash, expires_at=expires_at)
    return _send(invitation, token)


def invitation_resend(invitation: Invitation, *, by: User) -> SentInvitation:
    """A new link (the old one stops working) and a new expiry, emailed again."""
    token, token_hash, expires_at = _new_token()
    with transaction.atomic():
        Team.objects.select_for_update().filter(pk=invitation.team_id).first()
        _check_may_invite(invitation.team, by, invitation.role)
        current = invitation_get_open(invitation.team, invitation.pk)
        _renew(current, by=by, role=current.role, token_hash=token_hash, expires_at=expires_at)
    return _send(current, token)


def _renew(invitation: Invitation, *, by: User, role: str, token_hash: str,
           expires_at: datetime) -> None:
    invitation.role = role
    invitation.invited_by = by
    invitation.token_hash = token_hash
    invitation.sent_at = timezone.now()
    invitation.expires_at = expires_at
    invitation.save()


def invitation_revoke(invitation: Invitation, *, by: User) -> None:
    """The link stops working. Who may invite someone with that role may revoke it."""
    _check_may_invite(invitation.team, by, invitation.role)
    Invitation.objects.filter(pk=invitation.pk, accepted_at__isnull=True,
                              revoked_at__isnull=True).update(revoked_at=timezone.now())


_GONE = {
    "accepted": ("This invitation has already been used", "invitation_used"),
    "revoked": ("This invitation was revoked", "invitation_revoked"),
    "expired": ("This invitation has expired", "invitation_expired"),
}


def invitation_accept(invitation: Invitation, *, user: User) -> Membership:
    """Make `user` a member of the invitation's team with its role and switch them to that team.
    Only for the person the invitation was sent to (their account's email, ignoring case: 403
    wrong_account otherwise), and only once, while it lasts (410 invitation_used, _revoked,
    _expired). Someone who is already a member keeps their role."""
    refusal = invitation_refusal(invitation)
    if refusal is not None:
        raise refusal
    if user.email.lower() != invitation.email.lower():
        raise Forbidden(f"This invitation is for {invitation.email}, and you are logged in as "
                        f"{user.email}", code="wrong_account")
    now = timezone.now()
    with transaction.atomic():
        # The conditional UPDATE is the single use: of two concurrent acceptances one wins.
        taken = Invitation.objects.filter(
            pk=invitation.pk, token_hash=invitation.token_hash, accepted_at__isnull=True,
            revoked_at__isnull=True, expires_at__gt=now).update(accepted_at=now,
                                                               accepted_by=user)
        if not taken:
            invitation.refresh_from_db()
            raise invitation_refusal(invitation) or InvitationGone(
                "This link was replaced by a newer one: use the latest invitation email",
                code="invitation_revoked")
        membership, _ = Membership.objects.get_or_create(
            team=invitation.team, user=user, defaults={"role": invitation.role})
        user.current_team = invitation.team
        user.save(update_fields=["current_team"])
    return membership


def invitation_refusal(invitation: Invitation) -> InvitationGone | None:
    """Why the invitation cannot be accepted any more, or None while it can."""
    state = invitation_state(invitation)
    return _gone(state) if state in _GONE else None


def _gone(state: str) -> InvitationGone:
    message, code = _GONE[state]
    return InvitationGone(message, code=code)


# --- The email --------------------------------------------------------------------------------

def _one_line(text: str) -> str:
    """A header must be one line (a newline in a team name would be refused, or worse)."""
    return re.sub(r"\s+", " ", text).strip()


def _send(invitation: Invitation, token: str) -> SentInvitation:
    url = accept_url(token)
    team, inviter = invitation.team, invitation.invited_by
    who = inviter.email if inviter else "Someone"
    subject = _one_line(f"{who} invited you to join {team.name} on Wireflow")[:200]
    body = (
        f"{who} invited you to join the team \u201c{team.name}\u201d on Wireflow as "
        f"{invitation.get_role_display().lower()}.\n\n"
        f"Accept the invitation:\n{url}\n\n"
        f"The link works once and expires on {invitation.expires_at:%Y-%m-%d %H:%M} UTC. "
        f"No account yet? The link lets you sign up with {invitation.email}.\n\n"
        "If you did not expect this invitation, ignore this email.\n"
    )
    try:
        send_mail(subject, body, None, [invitation.email])
    except Exception:  # the mail server's failure must not lose the invitation
        logger.warning("could not send the invitation email to %s", invitation.email,
                       exc_info=True)
        return SentInvitation(invitation, url, emailed=False)
    return SentInvitation(invitation, url, emailed=True)


__all__ = ["JOINED_SESSION_KEY", "MAX_OPEN_INVITATIONS", "SESSION_KEY", "InvitationGone",
           "SentInvitation", "accept_url", "hash_token", "invitation_accept",
           "invitation_create", "invitation_find", "invitation_get_open", "invitation_refusal",
           "invitation_resend", "invitation_revoke", "invitation_state", "invitations_open",
           "is_member_email", "normalize_email"]

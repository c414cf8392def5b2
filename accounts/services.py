"""Writes for people, teams and API keys."""

from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.text import slugify

from wireflow_site.errors import Conflict, InvalidRequest, NotFound

from . import keys
from .credits import signup_grant
from .models import ApiKey, Membership, Role, Team, User
from .permissions import Action, ForbiddenRole, require_role
from .scopes import ALL_SCOPES
from .selectors import current_team_for_user

LAST_USED_RESOLUTION = timedelta(minutes=1)


def _unique_slug(base: str) -> str:
    root = slugify(base)[:100] or "team"
    slug, n = root, 1
    while Team.objects.filter(slug=slug).exists():
        n += 1
        slug = f"{root}-{n}"
    return slug


@transaction.atomic
def team_create(*, owner: User, name: str) -> Team:
    team = Team.objects.create(name=name, slug=_unique_slug(name))
    Membership.objects.create(team=team, user=owner, role=Role.OWNER)
    if owner.current_team_id is None:
        owner.current_team = team
        owner.save(update_fields=["current_team"])
    return team


def user_setup_personal_team(user: User) -> Team:
    local_part = user.email.split("@")[0] or "personal"
    team = team_create(owner=user, name=f"{local_part}'s team")
    # The sign-up credits come with the person's own team, not with every team they create:
    # otherwise creating teams would mint credits.
    signup_grant(team, settings.SIGNUP_CREDITS)
    return team


def user_get_or_create(*, email: str) -> tuple[User, bool]:
    email = email.strip().lower()
    user = User.objects.filter(email__iexact=email).first()
    if user:
        return user, False
    return User.objects.create_user(email=email), True


def user_ensure_team(user: User) -> Team:
    """The user's current team, creating their personal team if they have none left."""
    return current_team_for_user(user) or user_setup_personal_team(user)


def user_switch_team(user: User, team: Team) -> None:
    user.current_team = team
    user.save(update_fields=["current_team"])


def team_create_and_switch(*, user: User, name: str) -> Team:
    team = team_create(owner=user, name=name)
    user_switch_team(user, team)
    return team


@transaction.atomic
def membership_remove(team: Team, user: User, by: User | None) -> None:
    """Take `user` out of `team` and revoke their API keys of that team, in one transaction:
    a key must not outlive its creator's place in the team, also if they rejoin later.

    `by` is the member doing it: anyone may leave (`by` is `user`); removing someone else takes
    an owner, or an admin for anyone but an owner (403 forbidden_role). The last owner can
    neither leave nor be removed (409 last_owner). `by=None` is the operator (the admin site),
    whom the team's rules do not bind.
    """
    # Changes to one team's members take turns, so two owners cannot remove each other at once.
    Team.objects.select_for_update().filter(pk=team.pk).first()
    membership = Membership.objects.filter(team=team, user=user).first()
    if membership is None:
        raise NotFound("Member not found")
    if by is not None:
        _check_may_remove(membership, by)
    membership.delete()
    ApiKey.objects.filter(team=team, user=user, revoked_at__isnull=True).update(
        revoked_at=timezone.now())


def _check_may_remove(membership: Membership, by: User) -> None:
    team = membership.team
    if by.pk != membership.user_id:
        role = require_role(by, team, Action.MANAGE_MEMBERS)
        if membership.role == Role.OWNER and role != Role.OWNER:
            raise ForbiddenRole()
    other_owners = Membership.objects.filter(team=team, role=Role.OWNER).exclude(pk=membership.pk)
    if membership.role == Role.OWNER and not other_owners.exists():
        raise Conflict("The last owner of a team can be neither removed nor leave: make "
                       "someone else an owner first", code="last_owner")


@dataclass(frozen=True)
class CreatedKey:
    api_key: ApiKey
    secret: str  # the full key; shown once, never stored


def api_key_create(*, user: User, team: Team, name: str, scopes: list[str] | None = None,
                   expires_in_days: int | None = None) -> CreatedKey:
    name = name.strip()
    if not name or len(name) > 100:
        raise InvalidRequest("Name must be 1 to 100 characters")
    chosen = list(scopes) if scopes else list(ALL_SCOPES)
    unknown = sorted(set(chosen) - set(ALL_SCOPES))
    if unknown:
        raise InvalidRequest(f"Unknown scope: {', '.join(unknown)}")
    if expires_in_days is not None and not 1 <= expires_in_days <= 3650:
        raise InvalidRequest("Expiry must be between 1 and 3650 days")
    expires_at = timezone.now() + timedelta(days=expires_in_days) if expires_in_days else None
    secret = keys.generate()
    api_key = ApiKey.objects.create(
        user=user, team=team, name=name, key_hash=keys.hash_key(secret), last4=secret[-4:],
        scopes=[s for s in ALL_SCOPES if s in chosen], expires_at=expires_at,
    )
    return CreatedKey(api_key=api_key, secret=secret)


@transaction.atomic
def api_key_create_for_email(*, email: str, name: str, scopes: list[str] | None = None,
                             expires_in_days: int | None = None) -> CreatedKey:
    """For operators: a key for the person with this email, creating them (with no usable
    password) and their team if they do not exist yet. Bad input creates nothing."""
    try:
        validate_email(email.strip())
    except ValidationError:
        raise InvalidRequest(f"Not a valid email address: {email!r}") from None
    user, _ = user_get_or_create(email=email)
    return api_key_create(user=user, team=user_ensure_team(user), name=name, scopes=scopes,
                          expires_in_days=expires_in_days)


def api_key_revoke(api_key: ApiKey) -> None:
    ApiKey.objects.filter(pk=api_key.pk, revoked_at__isnull=True).update(revoked_at=timezone.now())


def api_key_touch(api_key: ApiKey) -> None:
    """Record use at most once a minute: a conditional UPDATE, so a busy key costs one write
    per minute, not one per request."""
    now = timezone.now()
    if api_key.last_used_at and now - api_key.last_used_at < LAST_USED_RESOLUTION:
        return
    ApiKey.objects.filter(pk=api_key.pk).filter(
        Q(last_used_at__isnull=True) | Q(last_used_at__lt=now - LAST_USED_RESOLUTION)
    ).update(last_used_at=now)
    api_key.last_used_at = now


__all__ = ["CreatedKey", "api_key_create", "api_key_create_for_email", "api_key_revoke",
           "api_key_touch", "membership_remove", "team_create", "team_create_and_switch",
           "user_ensure_team", "user_get_or_create", "user_setup_personal_team",
           "user_switch_team"]

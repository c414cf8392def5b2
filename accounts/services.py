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
from .permissions import (
    Action,
    ForbiddenRole,
    api_key_scopes_allowed,
    may_manage_member,
    require_role,
)
from .scopes import ALL_SCOPES
from .selectors import current_team_for_user, member_get, membership_role, teams_for_user

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


def user_switch_team(user: User, team: Team | None) -> None:
    user.current_team = team
    user.save(update_fields=["current_team"])


def _leave_current_team(user: User, team: Team) -> None:
    """Someone who no longer belongs to `team` (or whose team is going away) works on in
    another of their teams; with none left, in none (the pages offer to create one)."""
    if user.current_team_id == team.pk:
        user_switch_team(user, teams_for_user(user).exclude(pk=team.pk).first())


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
    _lock(team)
    membership = _member(team, user.pk)
    if by is not None:
        _check_may_remove(membership, by)
    membership.delete()
    ApiKey.objects.filter(team=team, user=user, revoked_at__isnull=True).update(
        revoked_at=timezone.now())
    user.refresh_from_db(fields=["current_team"])
    _leave_current_team(user, team)


def _lock(team: Team) -> None:
    # Changes to one team's members take turns, so two owners cannot remove each other at once.
    Team.objects.select_for_update().filter(pk=team.pk).first()


def _member(team: Team, user_id: int) -> Membership:
    membership = member_get(team, user_id)
    if membership is None:
        raise NotFound("Member not found")
    return membership


def _check_may_remove(membership: Membership, by: User) -> None:
    if by.pk != membership.user_id:
        _check_may_manage(membership.team, by, membership.role)
    if membership.role == Role.OWNER and _is_last_owner(membership):
        raise Conflict("The last owner of a team can be neither removed nor leave: make "
                       "someone else an owner first", code="last_owner")


def _check_may_manage(team: Team, by: User, *target_roles: str) -> str:
    """`by`'s role if they may manage members of every one of `target_roles`, else 403."""
    role = require_role(by, team, Action.MANAGE_MEMBERS)
    if not all(may_manage_member(role, target) for target in target_roles):
        raise ForbiddenRole()
    return role


def _is_last_owner(membership: Membership) -> bool:
    return not (Membership.objects.filter(team=membership.team_id, role=Role.OWNER)
                .exclude(pk=membership.pk).exists())


def parse_role(role: str) -> Role:
    if role not in Role.values:
        raise InvalidRequest(f"role: must be one of {', '.join(Role.values)}", fields=["role"])
    return Role(role)


@transaction.atomic
def member_change_role(team: Team, user_id: int, role: str, *, by: User) -> Membership:
    """Give a member another role. Owners and admins only; admins neither change an owner nor
    make one (403 forbidden_role); the last owner cannot be demoted (409 last_owner)."""
    new_role = parse_role(role)
    _lock(team)
    membership = _member(team, user_id)
    _check_may_manage(team, by, membership.role, new_role)
    if membership.role == Role.OWNER and new_role != Role.OWNER and _is_last_owner(membership):
        raise Conflict("The last owner of a team cannot be given another role: make someone "
                       "else an owner first", code="last_owner")
    membership.role = new_role
    membership.save(update_fields=["role"])
    return membership


def member_remove(team: Team, user_id: int, *, by: User) -> None:
    """Remove a member by id (their keys of the team are revoked): membership_remove's rules."""
    with transaction.atomic():
        membership_remove(team, _member(team, user_id).user, by=by)


def team_leave(team: Team, user: User) -> None:
    membership_remove(team, user, by=user)


MAX_TEAM_NAME = 100


def team_name_clean(name: str) -> str:
    name = name.strip()
    if not name or len(name) > MAX_TEAM_NAME or "\x00" in name:
        raise InvalidRequest(f"name: must be 1 to {MAX_TEAM_NAME} characters", fields=["name"])
    return name


def team_rename(team: Team, name: str, *, by: User) -> Team:
    """Owners and admins (the team's managers) rename it; its slug stays, links keep working."""
    name = team_name_clean(name)
    require_role(by, team, Action.MANAGE_MEMBERS)
    team.name = name
    team.save(update_fields=["name"])
    return team


@transaction.atomic
def team_transfer_ownership(team: Team, user_id: int, *, by: User) -> Membership:
    """The owner hands the team to another member: they become an owner, `by` an admin.
    Returns the new owner's membership."""
    _lock(team)
    require_role(by, team, Action.OWN_TEAM)
    target = _member(team, user_id)
    if target.user_id == by.pk:
        raise InvalidRequest("userId: choose another member: you already own this team",
                             fields=["userId"])
    target.role = Role.OWNER
    target.save(update_fields=["role"])
    Membership.objects.filter(team=team, user=by).update(role=Role.ADMIN)
    return target


@transaction.atomic
def team_delete(team: Team, *, by: User, confirm: str) -> None:
    """The owner deletes the team with everything in it (workflows, runs, keys, credits), once
    they have typed its name (400 invalid_request naming `confirm` otherwise). Its members
    whose current team it was move to another of their teams."""
    _lock(team)
    require_role(by, team, Action.OWN_TEAM)
    if confirm.strip() != team.name.strip():
        raise InvalidRequest("confirm: type the team's name exactly to delete it",
                             fields=["confirm"])
    for user in User.objects.filter(current_team=team):
        _leave_current_team(user, team)
    team.delete()


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


def api_key_create_as_member(*, user: User, team: Team, name: str,
                             scopes: list[str] | None = None,
                             expires_in_days: int | None = None) -> CreatedKey:
    """A key a member makes for themself, within what their role allows (viewers: read scopes
    only, 403 forbidden_role beyond). No scopes: every scope the role may give."""
    role = membership_role(user, team)
    unknown = sorted(set(scopes or ()) - set(ALL_SCOPES))
    if unknown:
        raise InvalidRequest(f"Unknown scope: {', '.join(unknown)}")
    if not scopes:
        scopes = [s for s in ALL_SCOPES if api_key_scopes_allowed(role, [s])]
    if not scopes or not api_key_scopes_allowed(role, scopes):
        raise ForbiddenRole()
    return api_key_create(user=user, team=team, name=name, scopes=scopes,
                          expires_in_days=expires_in_days)


def api_key_may_revoke(api_key: ApiKey, *, by: User, by_role: str | None,
                       creator_role: str | None) -> bool:
    """One's own key anyone may revoke; another member's takes an owner, or an admin for
    anyone but an owner (docs/api.md's "revoke others' keys")."""
    if by_role is None:
        return False
    if api_key.user_id == by.pk:
        return True
    # A creator who left the team has no role there: their (dead) key is anyone's to clean up
    # who may revoke others' keys.
    return may_manage_member(by_role, creator_role or Role.VIEWER)


def api_key_revoke_as_member(api_key: ApiKey, *, by: User) -> None:
    team = api_key.team
    allowed = api_key_may_revoke(api_key, by=by, by_role=membership_role(by, team),
                                 creator_role=membership_role(api_key.user, team))
    if not allowed:
        raise ForbiddenRole()
    api_key_revoke(api_key)


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


__all__ = ["CreatedKey", "api_key_create", "api_key_create_as_member",
           "api_key_create_for_email", "api_key_may_revoke", "api_key_revoke",
           "api_key_revoke_as_member", "api_key_touch", "member_change_role", "member_remove",
           "membership_remove", "parse_role", "team_create", "team_create_and_switch",
           "team_delete", "team_leave", "team_name_clean", "team_rename",
           "team_transfer_ownership", "user_ensure_team", "user_get_or_create",
           "user_setup_personal_team", "user_switch_team"]

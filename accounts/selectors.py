"""Reads for people, teams and API keys. Every lookup is scoped to the caller's teams."""

from django.db.models import Exists, OuterRef, QuerySet

from . import keys
from .models import ApiKey, Membership, Team, User


def teams_for_user(user: User) -> QuerySet[Team]:
    return Team.objects.filter(memberships__user=user).order_by("name")


def team_ids_for_user(user: User) -> list[int]:
    return list(Membership.objects.filter(user=user).values_list("team_id", flat=True))


def current_team_for_user(user: User) -> Team | None:
    """The user's current team if they still belong to it, else their first team."""
    if user.current_team_id and Membership.objects.filter(
        user=user, team_id=user.current_team_id
    ).exists():
        return user.current_team
    return teams_for_user(user).first()


def team_get_for_user(user: User, team_id: int) -> Team | None:
    return Team.objects.filter(pk=team_id, memberships__user=user).first()


def memberships_for_user(user: User) -> QuerySet[Membership]:
    return (Membership.objects.filter(user=user).select_related("team")
            .order_by("team__name", "team_id"))


def membership_get(user: User, team: Team) -> Membership | None:
    return Membership.objects.filter(user=user, team=team).first()


def membership_role(user: User, team: Team) -> str | None:
    """The user's role in the team now, or None if they are not a member."""
    return (Membership.objects.filter(user=user, team=team)
            .values_list("role", flat=True).first())


def members_of_team(team: Team) -> QuerySet[Membership]:
    """The team's memberships with their people, in the order they joined."""
    return (Membership.objects.filter(team=team).select_related("user")
            .order_by("created_at", "pk"))


def member_get(team: Team, user_id: int) -> Membership | None:
    return members_of_team(team).filter(user_id=user_id).first()


def member_roles(team: Team) -> dict[int, str]:
    """user id -> role, for every member of the team."""
    return dict(Membership.objects.filter(team=team).values_list("user_id", "role"))


def member_count(team: Team) -> int:
    return Membership.objects.filter(team=team).count()


def user_exists_with_email(email: str) -> bool:
    return User.objects.filter(email__iexact=email).exists()


def api_keys_for_team(team: Team) -> QuerySet[ApiKey]:
    return ApiKey.objects.filter(team=team).select_related("user")


def api_key_get_for_user(user: User, key_id: int) -> ApiKey | None:
    return ApiKey.objects.filter(pk=key_id, team__memberships__user=user).first()


def api_key_find(secret: str) -> ApiKey | None:
    """The live key row for a full secret, or None: a key is dead once revoked, or once its
    creator is deactivated or no longer a member of the key's team (it acts with its creator's
    current rights, and they have none there). Expiry is left to the caller, which names it.
    Call only with a well-formed key."""
    creator_is_member = Exists(Membership.objects.filter(team=OuterRef("team"),
                                                         user=OuterRef("user")))
    return (ApiKey.objects.select_related("team", "user")
            .filter(creator_is_member, key_hash=keys.hash_key(secret), revoked_at__isnull=True,
                    user__is_active=True).first())

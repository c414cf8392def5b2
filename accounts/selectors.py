"""Reads for people, teams and API keys. Every lookup is scoped to the caller's teams."""

import functools
from typing import Any, cast

from django.db import connection
from django.db.models import QuerySet

from wireflow_site.rows import column_field, columns, instances

from . import keys
from .models import ApiKey, Membership, ProviderKey, Team, User


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
    Call only with a well-formed key.

    Every API request makes this lookup, so it is one statement written once (the ORM spent
    ~2.5 ms building it on each call, more than the rest of a request's queries), read back
    into the key with its team and creator attached as select_related would."""
    with connection.cursor() as cursor:
        cursor.execute(_live_key_sql(), [keys.hash_key(secret), True])
        row = cursor.fetchone()
    if row is None:
        return None
    api_key, team, user = instances(row, (ApiKey, Team, User))
    ApiKey._meta.get_field("team").set_cached_value(api_key, team)
    ApiKey._meta.get_field("user").set_cached_value(api_key, user)
    return cast(ApiKey, api_key)  # instances() made it from the row, in that order


@functools.cache
def _live_key_sql() -> str:
    quote = connection.ops.quote_name
    key, team, user = (quote(m._meta.db_table) for m in (ApiKey, Team, User))
    member = quote(Membership._meta.db_table)
    # Names from the models' metadata, quoted; the values are parameters.
    sql = (f"SELECT {columns(ApiKey, 'k')}, {columns(Team, 't')}, {columns(User, 'u')} "  # noqa: S608
           f"FROM {key} k JOIN {team} t ON t.id = k.team_id JOIN {user} u ON u.id = k.user_id "
           "WHERE k.key_hash = %s AND k.revoked_at IS NULL AND u.is_active = %s "
           f"AND EXISTS (SELECT 1 FROM {member} m WHERE m.team_id = k.team_id "
           "AND m.user_id = k.user_id)")
    return sql


# --- the providers a team has its own keys for, read with another row ----------------------

def team_providers_sql(team_column: str) -> str:
    """An expression for a query's select list: on PostgreSQL, as an array, the providers the
    team named by `team_column` (a qualified column of that query, ours) has its own keys for;
    elsewhere NULL (they are then read when needed). An execute reads them with its workflow
    and a pass with its lease, so that neither reads a key the team does not have."""
    if connection.vendor != "postgresql":
        return "NULL"
    quote = connection.ops.quote_name
    provider, team = (quote(column_field(ProviderKey, name).column)
                      for name in ("provider", "team"))
    # Only our own table and column names are interpolated.
    return (f"ARRAY(SELECT p.{provider} FROM {quote(ProviderKey._meta.db_table)} p "  # noqa: S608
            f"WHERE p.{team} = {team_column})")


def keep_team_providers(row_object: Any, value: object) -> None:
    """Keep on the object read what team_providers_sql gave (nothing, where it gave NULL)."""
    if isinstance(value, list):
        row_object.read_team_providers = frozenset(value)


def team_providers_read(row_object: object) -> frozenset[str] | None:
    """The providers the object's team has keys for, as read with it (keep_team_providers);
    None when it was read otherwise."""
    read = getattr(row_object, "read_team_providers", None)
    return read if isinstance(read, frozenset) else None

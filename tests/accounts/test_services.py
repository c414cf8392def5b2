import hashlib
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone
from pytest_django import DjangoAssertNumQueries

from accounts import keys
from accounts.models import ApiKey, Membership, Role, Team, User
from accounts.permissions import ForbiddenRole
from accounts.scopes import ALL_SCOPES, EXECUTIONS_READ, WORKFLOWS_READ
from accounts.services import (
    api_key_create,
    api_key_create_as_member,
    api_key_create_for_email,
    api_key_revoke,
    api_key_touch,
    member_change_role,
    membership_remove,
    team_create_and_switch,
    user_ensure_team,
    user_switch_team,
)
from wireflow_site.errors import Conflict, InvalidRequest, NotFound

# --- api_key_create ----------------------------------------------------------------------


def test_creating_a_key_stores_only_its_sha256_and_last_four(owner: User, team: Team) -> None:
    created = api_key_create(user=owner, team=team, name="CI")

    row = ApiKey.objects.get(pk=created.api_key.pk)
    assert keys.is_well_formed(created.secret)
    assert row.key_hash == hashlib.sha256(created.secret.encode()).hexdigest()
    assert row.last4 == created.secret[-4:]
    assert row.masked == f"sk-wf_…{created.secret[-4:]}"
    stored = [str(value) for value in ApiKey.objects.filter(pk=row.pk).values().get().values()]
    assert not any(created.secret in value for value in stored)


def test_a_key_created_without_scopes_has_all_of_them(owner: User, team: Team) -> None:
    assert api_key_create(user=owner, team=team, name="k").api_key.scopes == ALL_SCOPES


def test_chosen_scopes_are_kept_in_catalogue_order_without_duplicates(owner: User,
                                                                      team: Team) -> None:
    api_key = api_key_create(user=owner, team=team, name="k",
                             scopes=[EXECUTIONS_READ, WORKFLOWS_READ, WORKFLOWS_READ]).api_key
    assert api_key.scopes == [WORKFLOWS_READ, EXECUTIONS_READ]


def test_expiry_in_days_sets_the_expiry_date(owner: User, team: Team) -> None:
    api_key = api_key_create(user=owner, team=team, name="k", expires_in_days=30).api_key
    assert api_key.expires_at is not None
    assert abs(api_key.expires_at - (timezone.now() + timedelta(days=30))) < timedelta(minutes=1)


def test_a_key_without_expiry_never_expires(owner: User, team: Team) -> None:
    assert api_key_create(user=owner, team=team, name="k").api_key.expires_at is None


@pytest.mark.parametrize("kwargs", [
    {"name": ""}, {"name": "   "}, {"name": "x" * 101},
    {"name": "k", "scopes": ["workflows:delete"]},
    {"name": "k", "expires_in_days": 0}, {"name": "k", "expires_in_days": -3},
    {"name": "k", "expires_in_days": 3651},
])
def test_bad_input_is_refused_and_creates_nothing(owner: User, team: Team,
                                                  kwargs: dict[str, Any]) -> None:
    with pytest.raises(InvalidRequest):
        api_key_create(user=owner, team=team, **kwargs)
    assert not ApiKey.objects.exists()


# --- api_key_revoke ----------------------------------------------------------------------


def test_revoking_a_key_stamps_it_once(owner: User, team: Team) -> None:
    api_key = api_key_create(user=owner, team=team, name="k").api_key
    api_key_revoke(api_key)
    first = ApiKey.objects.get(pk=api_key.pk).revoked_at

    api_key_revoke(api_key)

    assert first is not None
    assert ApiKey.objects.get(pk=api_key.pk).revoked_at == first


def test_revoking_one_key_leaves_the_others_alone(owner: User, team: Team) -> None:
    kept = api_key_create(user=owner, team=team, name="kept").api_key
    api_key_revoke(api_key_create(user=owner, team=team, name="gone").api_key)
    assert ApiKey.objects.get(pk=kept.pk).revoked_at is None


# --- api_key_touch -----------------------------------------------------------------------


def test_last_used_is_written_on_first_use(owner: User, team: Team) -> None:
    api_key = api_key_create(user=owner, team=team, name="k").api_key
    api_key_touch(api_key)
    assert ApiKey.objects.get(pk=api_key.pk).last_used_at is not None


def test_two_uses_within_a_minute_cost_one_write(
        owner: User, team: Team, django_assert_num_queries: DjangoAssertNumQueries) -> None:
    api_key = api_key_create(user=owner, team=team, name="k").api_key
    with django_assert_num_queries(1):
        api_key_touch(api_key)
        api_key_touch(api_key)


def test_another_process_within_the_minute_does_not_move_last_used(owner: User, team: Team) -> None:
    api_key = api_key_create(user=owner, team=team, name="k").api_key
    api_key_touch(api_key)
    written = ApiKey.objects.get(pk=api_key.pk).last_used_at
    stale_copy = ApiKey.objects.get(pk=api_key.pk)
    stale_copy.last_used_at = None  # as loaded by a request that started before the write

    api_key_touch(stale_copy)

    assert ApiKey.objects.get(pk=api_key.pk).last_used_at == written


def test_last_used_moves_again_after_a_minute(owner: User, team: Team) -> None:
    api_key = api_key_create(user=owner, team=team, name="k").api_key
    long_ago = timezone.now() - timedelta(seconds=61)
    ApiKey.objects.filter(pk=api_key.pk).update(last_used_at=long_ago)
    api_key.refresh_from_db()

    api_key_touch(api_key)

    last_used = ApiKey.objects.get(pk=api_key.pk).last_used_at
    assert last_used is not None and last_used > long_ago


# --- teams -------------------------------------------------------------------------------


def test_a_new_user_gets_a_personal_team_they_own(owner: User) -> None:
    membership = Membership.objects.get(user=owner)
    assert membership.role == Role.OWNER
    assert owner.current_team == membership.team
    assert membership.team.name == "owner's team"


def test_creating_a_team_makes_the_creator_its_owner_and_switches_to_it(owner: User,
                                                                        team: Team) -> None:
    new = team_create_and_switch(user=owner, name="Acme Studio")
    owner.refresh_from_db()
    assert new.slug == "acme-studio"
    assert Membership.objects.get(user=owner, team=new).role == Role.OWNER
    assert owner.current_team == new


def test_two_teams_with_one_name_get_distinct_slugs(owner: User, stranger: User) -> None:
    first = team_create_and_switch(user=owner, name="Acme")
    second = team_create_and_switch(user=stranger, name="Acme")
    assert first.slug != second.slug


def test_switching_team_changes_the_current_team(owner: User, team: Team) -> None:
    other = team_create_and_switch(user=owner, name="Other")
    user_switch_team(owner, team)
    owner.refresh_from_db()
    assert owner.current_team == team != other


def test_ensure_team_gives_a_user_left_without_teams_a_personal_team(owner: User,
                                                                     team: Team) -> None:
    Membership.objects.filter(user=owner).delete()
    restored = user_ensure_team(owner)
    assert restored != team
    assert Membership.objects.filter(user=owner, team=restored, role=Role.OWNER).exists()


def test_ensure_team_keeps_the_current_team(owner: User, team: Team) -> None:
    assert user_ensure_team(owner) == team
    assert Team.objects.count() == 1


# --- api_key_create_for_email ------------------------------------------------------------


def test_a_key_for_a_new_email_creates_the_user_without_a_password_and_their_team(db: None) -> None:
    created = api_key_create_for_email(email="  Ops@Example.com ", name="ops")
    user = User.objects.get(email="ops@example.com")
    assert not user.has_usable_password()
    assert created.api_key.user == user
    assert created.api_key.team == user.current_team


def test_a_key_for_an_existing_email_goes_to_their_current_team(owner: User, team: Team) -> None:
    created = api_key_create_for_email(email="OWNER@example.com", name="ops")
    assert (created.api_key.user, created.api_key.team) == (owner, team)
    assert User.objects.count() == 1


@pytest.mark.parametrize("kwargs", [
    {"email": "not-an-email", "name": "ops"},
    {"email": "new@example.com", "name": "ops", "scopes": ["nope"]},
    {"email": "new@example.com", "name": "ops", "expires_in_days": 0},
])
def test_a_refused_operator_key_creates_no_user_either(db: None, kwargs: dict[str, Any]) -> None:
    with pytest.raises(InvalidRequest):
        api_key_create_for_email(**kwargs)
    assert not User.objects.exists()
    assert not ApiKey.objects.exists()


# --- membership_remove -------------------------------------------------------------------


def _member(make_user: Callable[..., User], team: Team, role: Role,
            email: str | None = None) -> User:
    user = make_user(email)
    Membership.objects.create(team=team, user=user, role=role)
    return user


def test_removing_a_member_revokes_exactly_their_keys_of_that_team(make_user: Callable[..., User],
                                                                   owner: User, team: Team) -> None:
    member = _member(make_user, team, Role.EDITOR)
    theirs = api_key_create(user=member, team=team, name="theirs").api_key
    assert member.current_team is not None
    in_their_own_team = api_key_create(user=member, team=member.current_team, name="own").api_key
    owners = api_key_create(user=owner, team=team, name="owner's").api_key

    membership_remove(team, member, by=owner)

    assert not Membership.objects.filter(team=team, user=member).exists()
    assert ApiKey.objects.get(pk=theirs.pk).revoked_at is not None
    assert ApiKey.objects.get(pk=in_their_own_team.pk).revoked_at is None
    assert ApiKey.objects.get(pk=owners.pk).revoked_at is None


def test_a_key_revoked_earlier_keeps_its_revocation_time(make_user: Callable[..., User],
                                                         owner: User, team: Team) -> None:
    member = _member(make_user, team, Role.EDITOR)
    api_key = api_key_create(user=member, team=team, name="k").api_key
    api_key_revoke(api_key)
    revoked_at = ApiKey.objects.get(pk=api_key.pk).revoked_at
    membership_remove(team, member, by=owner)
    assert ApiKey.objects.get(pk=api_key.pk).revoked_at == revoked_at


@pytest.mark.parametrize("by_role, their_role, allowed", [
    (Role.OWNER, Role.OWNER, True), (Role.OWNER, Role.ADMIN, True),
    (Role.OWNER, Role.EDITOR, True), (Role.OWNER, Role.VIEWER, True),
    (Role.ADMIN, Role.OWNER, False), (Role.ADMIN, Role.ADMIN, True),
    (Role.ADMIN, Role.EDITOR, True), (Role.ADMIN, Role.VIEWER, True),
    (Role.EDITOR, Role.EDITOR, False), (Role.EDITOR, Role.VIEWER, False),
    (Role.VIEWER, Role.VIEWER, False), (Role.VIEWER, Role.EDITOR, False),
])
def test_who_may_remove_whom_follows_the_roles_table(make_user: Callable[..., User], team: Team,
                                                     by_role: Role, their_role: Role,
                                                     allowed: bool) -> None:
    by = _member(make_user, team, by_role)
    them = _member(make_user, team, their_role)
    api_key = api_key_create(user=them, team=team, name="k").api_key
    if allowed:
        membership_remove(team, them, by=by)
    else:
        with pytest.raises(ForbiddenRole):
            membership_remove(team, them, by=by)
    assert Membership.objects.filter(team=team, user=them).exists() is not allowed
    assert (ApiKey.objects.get(pk=api_key.pk).revoked_at is not None) is allowed


@pytest.mark.parametrize("role", list(Role))
def test_anyone_may_leave(make_user: Callable[..., User], team: Team, role: Role) -> None:
    member = _member(make_user, team, role)
    membership_remove(team, member, by=member)
    assert not Membership.objects.filter(team=team, user=member).exists()


def test_the_last_owner_cannot_leave(owner: User, team: Team) -> None:
    api_key = api_key_create(user=owner, team=team, name="k").api_key
    with pytest.raises(Conflict) as refused:
        membership_remove(team, owner, by=owner)
    assert refused.value.code == "last_owner"
    assert Membership.objects.filter(team=team, user=owner, role=Role.OWNER).exists()
    assert ApiKey.objects.get(pk=api_key.pk).revoked_at is None


def test_an_owner_may_leave_while_another_owner_stays(make_user: Callable[..., User], owner: User,
                                                      team: Team) -> None:
    _member(make_user, team, Role.OWNER)
    membership_remove(team, owner, by=owner)
    assert not Membership.objects.filter(team=team, user=owner).exists()


def test_the_operator_may_remove_anyone(owner: User, team: Team) -> None:
    api_key = api_key_create(user=owner, team=team, name="k").api_key
    membership_remove(team, owner, by=None)
    assert not Membership.objects.filter(team=team).exists()
    assert ApiKey.objects.get(pk=api_key.pk).revoked_at is not None


def test_removing_someone_who_is_not_a_member_is_404(owner: User, team: Team,
                                                     stranger: User) -> None:
    with pytest.raises(NotFound, match="Member not found"):
        membership_remove(team, stranger, by=owner)


# --- member_change_role, api_key_create_as_member ----------------------------------------------

@pytest.mark.parametrize("by_role, their_role, new_role, allowed", [
    (Role.OWNER, Role.EDITOR, Role.OWNER, True), (Role.OWNER, Role.OWNER, Role.VIEWER, True),
    (Role.ADMIN, Role.EDITOR, Role.ADMIN, True), (Role.ADMIN, Role.ADMIN, Role.VIEWER, True),
    (Role.ADMIN, Role.EDITOR, Role.OWNER, False), (Role.ADMIN, Role.OWNER, Role.VIEWER, False),
    (Role.EDITOR, Role.VIEWER, Role.EDITOR, False), (Role.VIEWER, Role.EDITOR, Role.VIEWER, False),
])
def test_who_may_give_whom_which_role_follows_the_roles_table(make_user: Callable[..., User],
                                                              owner: User, team: Team,
                                                              by_role: Role, their_role: Role,
                                                              new_role: Role,
                                                              allowed: bool) -> None:
    by = _member(make_user, team, by_role)
    them = _member(make_user, team, their_role)
    if allowed:
        member_change_role(team, them.pk, new_role, by=by)
    else:
        with pytest.raises(ForbiddenRole):
            member_change_role(team, them.pk, new_role, by=by)
    expected = new_role if allowed else their_role
    assert Membership.objects.get(team=team, user=them).role == expected


@pytest.mark.parametrize("role, scopes, made", [
    (Role.OWNER, None, ALL_SCOPES), (Role.EDITOR, [WORKFLOWS_READ], [WORKFLOWS_READ]),
    (Role.VIEWER, None, [WORKFLOWS_READ, EXECUTIONS_READ, "usage:read"]),
    (Role.VIEWER, [EXECUTIONS_READ], [EXECUTIONS_READ]),
    (Role.VIEWER, ["workflows:write"], None), (Role.VIEWER, ["team:manage"], None),
])
def test_members_create_keys_within_their_role(make_user: Callable[..., User], team: Team,
                                               role: Role, scopes: list[str] | None,
                                               made: list[str] | None) -> None:
    user = _member(make_user, team, role)
    if made is None:
        with pytest.raises(ForbiddenRole):
            api_key_create_as_member(user=user, team=team, name="k", scopes=scopes)
        assert not ApiKey.objects.filter(user=user).exists()
    else:
        created = api_key_create_as_member(user=user, team=team, name="k", scopes=scopes)
        assert created.api_key.scopes == made


def test_a_stranger_creates_no_key_in_another_team(team: Team, stranger: User) -> None:
    with pytest.raises(ForbiddenRole):
        api_key_create_as_member(user=stranger, team=team, name="k")

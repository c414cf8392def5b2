
from accounts.models import ApiKey, Membership, Role, Team, User
from accounts.selectors import (
    api_key_find,
    api_key_get_for_user,
    api_keys_for_team,
    current_team_for_user,
    member_get,
    member_roles,
    members_of_team,
    memberships_for_user,
    team_get_for_user,
    teams_for_user,
)
from accounts.services import api_key_create, api_key_revoke, team_create


def test_a_user_sees_only_the_teams_they_belong_to(owner: User, team: Team, teammate: User,
                                                   stranger: User) -> None:
    assert team in teams_for_user(teammate)
    assert team not in teams_for_user(stranger)
    assert set(teams_for_user(stranger)) == {stranger.current_team}


def test_team_lookup_is_scoped_to_the_users_teams(owner: User, team: Team, teammate: User,
                                                  stranger: User) -> None:
    assert team_get_for_user(owner, team.pk) == team
    assert team_get_for_user(teammate, team.pk) == team
    assert team_get_for_user(stranger, team.pk) is None
    assert team_get_for_user(owner, 987654) is None


def test_memberships_list_the_users_teams_with_their_roles(owner: User, team: Team) -> None:
    other = team_create(owner=owner, name="Acme")
    assert [(m.team, m.role) for m in memberships_for_user(owner)] == [
        (other, Role.OWNER), (team, Role.OWNER)]


def test_key_lookup_is_scoped_to_the_users_teams(owner: User, team: Team, teammate: User,
                                                 stranger: User) -> None:
    api_key = api_key_create(user=owner, team=team, name="k").api_key
    assert api_key_get_for_user(owner, api_key.pk) == api_key
    assert api_key_get_for_user(teammate, api_key.pk) == api_key
    assert api_key_get_for_user(stranger, api_key.pk) is None


def test_a_teams_key_list_holds_only_that_teams_keys(owner: User, team: Team,
                                                     stranger: User) -> None:
    mine = api_key_create(user=owner, team=team, name="mine").api_key
    assert stranger.current_team is not None
    api_key_create(user=stranger, team=stranger.current_team, name="theirs")
    assert list(api_keys_for_team(team)) == [mine]


def test_a_teams_members_are_listed_in_the_order_they_joined(owner: User, team: Team,
                                                             teammate: User, viewer: User) -> None:
    assert [(m.user, m.role) for m in members_of_team(team)] == [
        (owner, Role.OWNER), (teammate, Role.EDITOR), (viewer, Role.VIEWER)]
    assert member_roles(team) == {owner.pk: Role.OWNER, teammate.pk: Role.EDITOR,
                                  viewer.pk: Role.VIEWER}


def test_a_member_lookup_is_scoped_to_the_team(owner: User, team: Team, teammate: User,
                                               stranger: User) -> None:
    found = member_get(team, teammate.pk)
    assert found is not None and found.role == Role.EDITOR
    assert member_get(team, stranger.pk) is None
    assert stranger.current_team is not None
    assert member_get(stranger.current_team, owner.pk) is None


def test_the_current_team_falls_back_when_the_user_left_it(owner: User, team: Team,
                                                           teammate: User) -> None:
    Membership.objects.filter(user=teammate, team=team).delete()
    teammate.refresh_from_db()
    fallback = current_team_for_user(teammate)
    assert fallback is not None
    assert fallback != team


def test_the_key_lookup_reads_key_team_and_creator_as_the_orm_does(owner: User, team: Team) -> None:
    """api_key_find is a hand-written statement: every column of the key, its team and its
    creator must come back with the value and type the ORM gives (JSON scopes, dates...)."""
    created = api_key_create(user=owner, team=team, name="k", scopes=["workflows:read"],
                             expires_in_days=3)
    found = api_key_find(created.secret)
    expected = ApiKey.objects.select_related("team", "user").get(pk=created.api_key.pk)
    assert found is not None
    for mine, theirs in ((found, expected), (found.team, expected.team),
                         (found.user, expected.user)):
        for field in type(theirs)._meta.concrete_fields:
            value, wanted = getattr(mine, field.attname), getattr(theirs, field.attname)
            assert (value, type(value)) == (wanted, type(wanted)), field.attname
    assert found.scopes == ["workflows:read"]


def test_the_key_lookup_finds_no_dead_key(owner: User, team: Team, teammate: User) -> None:
    """Revoked, a creator deactivated, a creator who left the team: no key."""
    revoked = api_key_create(user=owner, team=team, name="revoked")
    api_key_revoke(revoked.api_key)
    left = api_key_create(user=teammate, team=team, name="left")
    Membership.objects.filter(user=teammate, team=team).delete()
    assert api_key_find(revoked.secret) is None
    assert api_key_find(left.secret) is None
    live = api_key_create(user=owner, team=team, name="live")
    assert api_key_find(live.secret) is not None
    owner.is_active = False
    owner.save(update_fields=["is_active"])
    assert api_key_find(live.secret) is None

"""The team switcher in the top bar and Settings > Teams."""

from collections.abc import Callable

from django.test import Client

from accounts.models import Membership, Role, Team, User
from accounts.services import team_create


def test_the_top_bar_shows_the_current_team_and_lists_the_users_teams(
        owner: User, team: Team, browser_for: Callable[[User], Client]) -> None:
    other = team_create(owner=owner, name="Acme Studio")
    html = browser_for(owner).get("/settings/").content.decode()
    assert f'data-testid="current-team">{team.name}<' in html.replace("&#x27;", "'")
    assert f'name="team" value="{other.pk}"' in html
    assert f'name="team" value="{team.pk}"' in html


def test_the_switcher_lists_no_team_of_a_stranger(owner: User, stranger: User,
                                                  browser_for: Callable[[User], Client]) -> None:
    assert stranger.current_team is not None
    html = browser_for(owner).get("/settings/").content.decode()
    assert f'name="team" value="{stranger.current_team.pk}"' not in html


def test_switching_to_one_of_my_teams_makes_it_current(
        owner: User, team: Team, browser_for: Callable[[User], Client]) -> None:
    other = team_create(owner=owner, name="Acme Studio")
    response = browser_for(owner).post("/teams/switch/", {"team": other.pk,
                                                          "next": "/settings/api-keys/"})
    assert response.status_code == 302
    assert response["Location"] == "/settings/api-keys/"
    owner.refresh_from_db()
    assert owner.current_team == other


def test_switching_to_a_strangers_team_is_not_found(owner: User, team: Team, stranger: User,
                                                    browser_for: Callable[[User], Client]) -> None:
    assert stranger.current_team is not None
    response = browser_for(owner).post("/teams/switch/", {"team": stranger.current_team.pk})
    assert response.status_code == 404
    owner.refresh_from_db()
    assert owner.current_team == team


def test_a_garbled_team_id_is_not_found(owner: User, browser_for: Callable[[User], Client]) -> None:
    client = browser_for(owner)
    for value in ["", "abc", "-1", "1.5", "9" * 30]:
        assert client.post("/teams/switch/", {"team": value}).status_code == 404


def test_switching_never_redirects_off_site(owner: User,
                                            browser_for: Callable[[User], Client]) -> None:
    other = team_create(owner=owner, name="Acme Studio")
    response = browser_for(owner).post("/teams/switch/", {"team": other.pk,
                                                          "next": "https://evil.example/"})
    assert response["Location"] == "/"


def test_switching_takes_a_post(owner: User, browser_for: Callable[[User], Client]) -> None:
    assert browser_for(owner).get("/teams/switch/").status_code == 405


def test_a_viewer_can_switch_into_their_team(owner: User, team: Team, viewer: User,
                                             browser_for: Callable[[User], Client]) -> None:
    assert viewer.current_team == team
    own = Membership.objects.exclude(team=team).get(user=viewer).team
    browser_for(viewer).post("/teams/switch/", {"team": own.pk})
    viewer.refresh_from_db()
    assert viewer.current_team == own


def test_the_teams_page_lists_my_teams_and_roles(owner: User, team: Team, viewer: User,
                                                 browser_for: Callable[[User], Client]) -> None:
    html = browser_for(viewer).get("/settings/teams/").content.decode()
    assert "owner&#x27;s team" in html
    assert "Viewer" in html


def test_creating_a_team_makes_me_its_owner_and_switches_to_it(
        owner: User, browser_for: Callable[[User], Client]) -> None:
    response = browser_for(owner).post("/settings/teams/", {"name": "Acme Studio"})
    assert response.status_code == 302
    new = Team.objects.get(name="Acme Studio")
    assert Membership.objects.get(team=new, user=owner).role == Role.OWNER
    owner.refresh_from_db()
    assert owner.current_team == new


def test_a_blank_or_overlong_team_name_is_a_form_error(
        owner: User, browser_for: Callable[[User], Client]) -> None:
    client = browser_for(owner)
    for name in ["", "  ", "x" * 101]:
        response = client.post("/settings/teams/", {"name": name})
        assert response.status_code == 200
        assert "field-error" in response.content.decode()
    assert Team.objects.count() == 1


def test_settings_pages_need_a_login(db: None) -> None:
    for path in ["/settings/", "/settings/teams/"]:
        assert Client().get(path)["Location"].startswith("/accounts/login/")


def test_the_account_page_shows_who_i_am(owner: User,
                                         browser_for: Callable[[User], Client]) -> None:
    html = browser_for(owner).get("/settings/").content.decode()
    assert "owner@example.com" in html
    assert "/accounts/password/change/" in html


def test_an_operator_made_user_is_offered_to_set_a_password(
        make_user: Callable[..., User], browser_for: Callable[[User], Client]) -> None:
    user = make_user("ops@example.com")
    user.set_unusable_password()
    user.save()
    assert "/accounts/password/set/" in browser_for(user).get("/settings/").content.decode()

import pytest
from django.core.management import CommandError

from accounts import keys
from accounts.models import ApiKey, Team, User
from accounts.scopes import ALL_SCOPES, WORKFLOWS_EXECUTE, WORKFLOWS_READ
from tests.harness import command_output

from .helpers import authenticate


def createapikey(*args: str) -> str:
    return command_output("createapikey", *args)


def test_it_prints_a_working_key_as_the_last_line(db: None) -> None:
    output = createapikey("--email", "ops@example.com")

    secret = output.strip().splitlines()[-1]
    assert keys.is_well_formed(secret)
    caller = authenticate(secret)
    assert caller.user.email == "ops@example.com"
    assert caller.scopes == frozenset(ALL_SCOPES)


def test_it_creates_the_user_without_a_password_and_their_team(db: None) -> None:
    createapikey("--email", "ops@example.com")
    user = User.objects.get(email="ops@example.com")
    assert not user.has_usable_password()
    assert user.current_team is not None
    assert ApiKey.objects.get().team == user.current_team


def test_it_reuses_an_existing_user_and_team(owner: User, team: Team) -> None:
    secret = createapikey("--email", "owner@example.com").strip().splitlines()[-1]
    assert authenticate(secret).team == team
    assert User.objects.count() == 1


def test_it_applies_name_scopes_and_expiry(db: None) -> None:
    output = createapikey("--email", "ops@example.com", "--name", "nightly",
                          "--scopes", WORKFLOWS_EXECUTE, WORKFLOWS_READ,
                          "--expires-in-days", "7")
    api_key = ApiKey.objects.get()
    assert api_key.name == "nightly"
    assert api_key.scopes == [WORKFLOWS_READ, WORKFLOWS_EXECUTE]
    assert api_key.expires_at is not None
    assert authenticate(output.strip().splitlines()[-1]).scopes == {WORKFLOWS_READ,
                                                                    WORKFLOWS_EXECUTE}


def test_the_key_appears_nowhere_but_the_last_line(db: None) -> None:
    lines = createapikey("--email", "ops@example.com").strip().splitlines()
    assert not any(lines[-1] in line for line in lines[:-1])


def test_an_unknown_scope_is_a_clear_error_and_creates_nothing(db: None) -> None:
    with pytest.raises(CommandError, match="Unknown scope: workflows:delete"):
        createapikey("--email", "ops@example.com", "--scopes", "workflows:delete")
    assert not User.objects.exists()


@pytest.mark.parametrize("days", ["0", "-1", "3651", "soon"])
def test_bad_days_are_a_clear_error_and_create_nothing(db: None, days: str) -> None:
    with pytest.raises(CommandError, match="(?i)expir|invalid int"):
        createapikey("--email", "ops@example.com", "--expires-in-days", days)
    assert not User.objects.exists()
    assert not ApiKey.objects.exists()


def test_a_bad_email_is_a_clear_error(db: None) -> None:
    with pytest.raises(CommandError, match="Not a valid email address"):
        createapikey("--email", "nobody")
    assert not User.objects.exists()


def test_the_email_is_required(db: None) -> None:
    with pytest.raises(CommandError, match="--email"):
        createapikey()

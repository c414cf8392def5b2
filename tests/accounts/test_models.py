from datetime import timedelta

from django.utils import timezone

from accounts.models import Team, User
from accounts.services import api_key_create, api_key_revoke


def test_a_new_key_is_active(owner: User, team: Team) -> None:
    assert api_key_create(user=owner, team=team, name="k").api_key.status == "active"


def test_a_key_past_its_expiry_is_expired(owner: User, team: Team) -> None:
    api_key = api_key_create(user=owner, team=team, name="k", expires_in_days=1).api_key
    api_key.expires_at = timezone.now() - timedelta(seconds=1)
    assert api_key.status == "expired"


def test_a_revoked_key_reads_revoked_even_when_also_expired(owner: User, team: Team) -> None:
    api_key = api_key_create(user=owner, team=team, name="k", expires_in_days=1).api_key
    api_key_revoke(api_key)
    api_key.refresh_from_db()
    api_key.expires_at = timezone.now() - timedelta(days=1)
    assert api_key.status == "revoked"


def test_a_key_prints_only_its_masked_form(owner: User, team: Team) -> None:
    created = api_key_create(user=owner, team=team, name="CI")
    assert str(created.api_key) == f"CI (sk-wf_…{created.secret[-4:]})"
    assert created.secret not in str(created.api_key)

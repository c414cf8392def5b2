"""api.md's authentication table, row by row, through the full API."""

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from accounts import keys
from accounts.models import ApiKey, Team, User
from accounts.scopes import EXECUTIONS_READ, WORKFLOWS_READ
from accounts.services import api_key_create, api_key_revoke
from tests.conftest import ApiClient

pytestmark = pytest.mark.django_db


def _get_with(authorization: str) -> Any:
    return Client().get("/api/v1/workflows", headers={"Authorization": authorization})


def _assert_error(response: Any, status: int, error: str, code: str) -> None:
    assert response.status_code == status
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert body["error"] == error
    assert body["code"] == code


def test_a_request_without_an_authorization_header_is_401_missing_authorization() -> None:
    response = Client().get("/api/v1/workflows")
    _assert_error(response, 401, "Missing Authorization header", "missing_authorization")


@pytest.mark.parametrize("header", ["Token x", "Bearer", "Bearer abc", "bearer sk-wf_abc",
                                    "Basic dXNlcjpwYXNz", "sk-wf_abc"])
def test_a_header_not_of_the_bearer_sk_form_is_401_invalid_format(header: str) -> None:
    _assert_error(_get_with(header), 401, "Invalid API key format. Expected: Bearer sk-...",
                  "invalid_api_key_format")


def test_a_key_with_a_bad_checksum_is_401_invalid_api_key(owner: User, team: Team) -> None:
    created = api_key_create(user=owner, team=team, name="ci")
    last = created.secret[-1]
    tampered = created.secret[:-1] + ("A" if last != "A" else "B")
    assert not keys.is_well_formed(tampered)
    _assert_error(_get_with(f"Bearer {tampered}"), 401, "Invalid API key", "invalid_api_key")


def test_a_key_of_the_wrong_shape_after_bearer_sk_is_401_invalid_api_key() -> None:
    _assert_error(_get_with("Bearer sk-not-a-real-key"), 401, "Invalid API key",
                  "invalid_api_key")


def test_a_well_formed_key_that_was_never_issued_is_401_invalid_api_key() -> None:
    unknown = keys.generate()
    assert keys.is_well_formed(unknown)
    _assert_error(_get_with(f"Bearer {unknown}"), 401, "Invalid API key", "invalid_api_key")


def test_a_revoked_key_is_401_invalid_api_key(owner: User, team: Team) -> None:
    created = api_key_create(user=owner, team=team, name="ci")
    api_key_revoke(created.api_key)
    _assert_error(_get_with(f"Bearer {created.secret}"), 401, "Invalid API key",
                  "invalid_api_key")


def test_an_expired_key_is_401_api_key_expired(owner: User, team: Team) -> None:
    created = api_key_create(user=owner, team=team, name="ci",
                             expires_in_days=1)
    ApiKey.objects.filter(pk=created.api_key.pk).update(
        expires_at=timezone.now() - timedelta(seconds=1))
    _assert_error(_get_with(f"Bearer {created.secret}"), 401, "API key has expired",
                  "api_key_expired")


def test_a_key_that_has_not_expired_yet_is_accepted(owner: User, team: Team) -> None:
    created = api_key_create(user=owner, team=team, name="ci",
                             expires_in_days=1)
    assert _get_with(f"Bearer {created.secret}").status_code == 200


def test_a_key_without_the_read_scope_is_403_naming_the_scope(
        api_for: Callable[..., ApiClient], owner: User) -> None:
    client = api_for(owner, scopes=[EXECUTIONS_READ])
    _assert_error(client.get("/workflows"), 403, "Forbidden: missing scope workflows:read",
                  "forbidden")


def test_a_read_only_key_cannot_write_and_is_told_which_scope_is_missing(
        api_for: Callable[..., ApiClient], owner: User) -> None:
    client = api_for(owner, scopes=[WORKFLOWS_READ])
    response = client.post("/workflows", {"name": "x", "nodes": [], "edges": []})
    _assert_error(response, 403, "Forbidden: missing scope workflows:write", "forbidden")


def test_a_key_created_without_scopes_has_every_scope(api: ApiClient) -> None:
    assert api.get("/workflows").status_code == 200
    assert api.post("/workflows/lint", {"nodes": [], "edges": []}).status_code == 200


def test_the_key_is_checked_before_the_body_is_read() -> None:
    response = Client().post("/api/v1/workflows", data="{not json",
                             content_type="application/json")
    _assert_error(response, 401, "Missing Authorization header", "missing_authorization")

"""docs/api.md's authentication table, row by row, through the full API."""

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from accounts import keys
from accounts.models import ApiKey, Membership, Role, Team, User
from accounts.scopes import EXECUTIONS_READ, WORKFLOWS_READ
from accounts.services import api_key_create, api_key_revoke, membership_remove
from executions.models import Execution
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


# --- A key acts with its creator's current rights (docs/api.md "Roles") ---------------------------

def _deactivated(team: Team, user: User, owner: User) -> None:
    user.is_active = False
    user.save(update_fields=["is_active"])


def _membership_gone(team: Team, user: User, owner: User) -> None:
    # However the row went (a cascade, an old deletion, a script): the key checks, not trusts.
    Membership.objects.filter(team=team, user=user).delete()


def _left(team: Team, user: User, owner: User) -> None:
    membership_remove(team, user, by=user)


def _removed(team: Team, user: User, owner: User) -> None:
    membership_remove(team, user, by=owner)


LOSING_RIGHTS = {"deactivated": _deactivated, "membership gone": _membership_gone,
                 "left the team": _left, "removed by the owner": _removed}
EVERY_KIND_OF_CALL = [("GET", "/workflows"), ("GET", "/workflows/{id}"),
                      ("POST", "/workflows/{id}/execute"), ("GET", "/developer/usage")]


@pytest.mark.parametrize("lose", LOSING_RIGHTS.values(), ids=LOSING_RIGHTS.keys())
@pytest.mark.parametrize(("method", "path"), EVERY_KIND_OF_CALL)
def test_a_key_whose_creator_lost_their_place_in_the_team_is_dead(
        api: ApiClient, api_for: Callable[..., ApiClient], owner: User, teammate: User,
        team: Team, lose: Callable[[Team, User, User], None], method: str, path: str) -> None:
    workflow_id = _create(api)
    theirs = api_for(teammate)
    assert theirs.get("/workflows").status_code == 200
    lose(team, teammate, owner)
    response = theirs.request(method, path.format(id=workflow_id),
                              {} if method == "POST" else None)
    _assert_error(response, 401, "Invalid API key", "invalid_api_key")
    assert not Execution.objects.exists()
    assert api.get("/workflows").status_code == 200  # the owner's own key is unaffected


def test_a_dead_key_is_invalid_rather_than_expired(api_for: Callable[..., ApiClient],
                                                   teammate: User, team: Team) -> None:
    created = api_key_create(user=teammate, team=team, name="ci", expires_in_days=1)
    ApiKey.objects.filter(pk=created.api_key.pk).update(
        expires_at=timezone.now() - timedelta(seconds=1))
    Membership.objects.filter(team=team, user=teammate).delete()
    _assert_error(_get_with(f"Bearer {created.secret}"), 401, "Invalid API key",
                  "invalid_api_key")


def test_a_key_of_a_member_removed_from_the_team_stays_dead_when_they_rejoin(
        api_for: Callable[..., ApiClient], owner: User, teammate: User, team: Team) -> None:
    theirs = api_for(teammate)
    membership_remove(team, teammate, by=owner)
    Membership.objects.create(team=team, user=teammate, role=Role.EDITOR)
    _assert_error(theirs.get("/workflows"), 401, "Invalid API key", "invalid_api_key")


def test_a_key_works_again_when_its_creator_is_reactivated(
        api_for: Callable[..., ApiClient], teammate: User) -> None:
    theirs = api_for(teammate)
    for active, status in [(False, 401), (True, 200)]:
        teammate.is_active = active
        teammate.save(update_fields=["is_active"])
        assert theirs.get("/workflows").status_code == status


def test_a_key_of_someone_made_a_viewer_keeps_only_what_a_viewer_may_do(
        api: ApiClient, api_for: Callable[..., ApiClient], teammate: User,
        team: Team) -> None:
    workflow_id = _create(api)
    theirs = api_for(teammate)  # every scope
    Membership.objects.filter(team=team, user=teammate).update(role=Role.VIEWER)
    assert theirs.get("/workflows").status_code == 200
    assert theirs.get(f"/workflows/{workflow_id}").status_code == 200
    assert theirs.post(f"/workflows/{workflow_id}/estimate", {}).status_code == 200
    for response in [theirs.post(f"/workflows/{workflow_id}/execute", {}),
                     theirs.post(f"/workflows/{workflow_id}/run", {"inputs": {}})]:
        _assert_error(response, 403, "Your role in this team cannot do this", "forbidden_role")
    changed = theirs.put(f"/workflows/{workflow_id}", {"name": "y", "nodes": _graph(),
                                                       "edges": []})
    assert changed.status_code == 403
    assert not Execution.objects.exists()
    assert api.get(f"/workflows/{workflow_id}").json()["name"] == "x"
    Membership.objects.filter(team=team, user=teammate).update(role=Role.EDITOR)
    assert theirs.post(f"/workflows/{workflow_id}/execute", {}).status_code == 201


def _create(api: ApiClient) -> str:
    response = api.post("/workflows", {"name": "x", "nodes": _graph(), "edges": []})
    assert response.status_code == 201, response.content
    return str(response.json()["id"])


def _graph() -> list[dict[str, Any]]:
    return [{"id": "words", "type": "basedNode", "position": {"x": 0, "y": 0},
             "data": {"label": "Words", "nodeType": "input:text", "params": {"text": "hi"}}}]

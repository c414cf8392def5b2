"""Idempotency-Key on the endpoints that start an execution (docs/api.md), through the full API."""

import json
import threading
import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import httpx
import pytest
from django.db import connection
from django.http import JsonResponse
from django.utils import timezone

from accounts.models import Team, User
from executions.inprocess import _run_sweep
from executions.models import Execution, IdempotencyRecord, IdempotencyState
from executions.tasks import purge_idempotency_task
from tests.conftest import ApiClient
from wireflow_site import idempotency
from wireflow_site.errors import Conflict

from .run_helpers import create_workflow, error_of

KEY = {"Idempotency-Key": "order-1234"}
MISSING_ID = "00000000-0000-4000-8000-000000000000"


@pytest.fixture(autouse=True)
def _no_rate_limits(settings: Any) -> None:
    settings.RATE_LIMITS_ENABLED = False  # these tests start many executions a minute


@pytest.fixture
def workflow_id(api: ApiClient) -> str:
    return str(create_workflow(api)["id"])


def execute(api: ApiClient, workflow_id: str, body: Any = None, key: str = "order-1234",
            **kw: Any) -> Any:
    return api.post(f"/workflows/{workflow_id}/execute", body if body is not None else {},
                    headers={"Idempotency-Key": key}, **kw)


def records() -> int:
    return IdempotencyRecord.objects.count()


# --- Replay ---------------------------------------------------------------------------------

@pytest.mark.django_db
def test_the_same_key_and_body_replays_the_first_response_without_a_second_execution(
        api: ApiClient, workflow_id: str) -> None:
    first = execute(api, workflow_id, {"inputs": {"Prompt": "a cat"}})
    again = execute(api, workflow_id, {"inputs": {"Prompt": "a cat"}})
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again["Location"] == first["Location"]
    assert again["Idempotent-Replayed"] == "true"
    assert not first.has_header("Idempotent-Replayed")
    assert Execution.objects.count() == 1


@pytest.mark.django_db
def test_the_same_json_written_differently_is_the_same_request(api: ApiClient,
                                                               workflow_id: str) -> None:
    execute(api, workflow_id, raw='{"inputs": {"Prompt": "a cat"}, "triggerData": {"a": 1}}')
    again = execute(api, workflow_id,
                    raw='{ "triggerData":{"a":1},\n "inputs":{"Prompt":"a cat"} }')
    assert again.status_code == 201
    assert again["Idempotent-Replayed"] == "true"
    assert Execution.objects.count() == 1


@pytest.mark.django_db
def test_without_a_key_every_request_starts_an_execution(api: ApiClient,
                                                         workflow_id: str) -> None:
    for _ in range(2):
        assert api.post(f"/workflows/{workflow_id}/execute", {}).status_code == 201
    assert Execution.objects.count() == 2
    assert records() == 0


@pytest.mark.django_db
def test_keys_belong_to_a_team(api: ApiClient, workflow_id: str, stranger: User,
                               api_for: Callable[..., ApiClient]) -> None:
    other = api_for(stranger)
    other_workflow = str(create_workflow(other)["id"])
    assert execute(api, workflow_id).status_code == 201
    assert execute(other, other_workflow).status_code == 201  # same key, other team: fresh
    assert Execution.objects.count() == 2


# --- Misuse ---------------------------------------------------------------------------------

@pytest.mark.django_db
def test_the_same_key_with_another_body_is_422_and_starts_nothing(api: ApiClient,
                                                                  workflow_id: str) -> None:
    execute(api, workflow_id, {"inputs": {"Prompt": "a cat"}})
    reused = execute(api, workflow_id, {"inputs": {"Prompt": "a dog"}})
    assert error_of(reused) == (422, "idempotency_key_reused")
    assert "Idempotency-Key" in reused.json()["error"]
    assert Execution.objects.count() == 1


@pytest.mark.django_db
def test_the_same_key_on_another_path_is_422(api: ApiClient, workflow_id: str) -> None:
    other_id = create_workflow(api)["id"]
    execute(api, workflow_id)
    assert error_of(execute(api, other_id)) == (422, "idempotency_key_reused")
    run = api.post(f"/workflows/{workflow_id}/run", {}, headers=KEY)
    assert error_of(run) == (422, "idempotency_key_reused")
    assert Execution.objects.count() == 1


@pytest.mark.django_db
def test_a_key_still_being_processed_is_409_with_retry_after(api: ApiClient, team: Team,
                                                             workflow_id: str) -> None:
    path = f"/api/v1/workflows/{workflow_id}/execute"
    IdempotencyRecord.objects.create(
        team=team, key="order-1234", method="POST", path=path,
        fingerprint=idempotency.fingerprint("POST", path, json.dumps({}).encode()))
    response = execute(api, workflow_id, {})
    assert error_of(response) == (409, "idempotency_conflict")
    assert response["Retry-After"] == "1"
    assert Execution.objects.count() == 0


@pytest.mark.django_db
def test_a_claim_abandoned_mid_processing_is_taken_over(api: ApiClient, team: Team,
                                                        workflow_id: str) -> None:
    path = f"/api/v1/workflows/{workflow_id}/execute"
    long_ago = timezone.now() - timedelta(minutes=2)
    IdempotencyRecord.objects.create(
        team=team, key="order-1234", method="POST", path=path, fingerprint="0" * 64,
        created_at=long_ago, claimed_at=long_ago)
    assert execute(api, workflow_id, {}).status_code == 201
    assert execute(api, workflow_id, {})["Idempotent-Replayed"] == "true"
    assert Execution.objects.count() == 1


@pytest.mark.django_db
def test_a_key_older_than_a_day_is_free_again(api: ApiClient, workflow_id: str) -> None:
    execute(api, workflow_id)
    IdempotencyRecord.objects.update(created_at=timezone.now() - timedelta(hours=25))
    again = execute(api, workflow_id, {"inputs": {"Prompt": "another body is fine now"}})
    assert again.status_code == 201
    assert not again.has_header("Idempotent-Replayed")
    assert Execution.objects.count() == 2


# --- Responses that changed nothing are not kept --------------------------------------------

@pytest.mark.django_db
def test_after_a_404_the_same_key_still_works(api: ApiClient, workflow_id: str) -> None:
    assert error_of(execute(api, MISSING_ID)) == (404, "not_found")
    assert records() == 0
    assert execute(api, workflow_id).status_code == 201


@pytest.mark.django_db
def test_after_a_400_the_client_fixes_the_body_and_retries_with_the_same_key(
        api: ApiClient, workflow_id: str) -> None:
    bad = execute(api, workflow_id, {"inputs": {"Nope": "x"}})
    assert error_of(bad) == (400, "invalid_request")
    assert records() == 0
    assert execute(api, workflow_id, {"inputs": {"Prompt": "x"}}).status_code == 201


@pytest.mark.django_db
def test_after_a_422_invalid_graph_the_same_key_still_works(api: ApiClient,
                                                            workflow_id: str) -> None:
    invalid = execute(api, workflow_id, {"nodes": [], "edges": []})
    assert error_of(invalid) == (422, "invalid_graph")
    assert records() == 0
    assert execute(api, workflow_id).status_code == 201
    assert Execution.objects.count() == 1


@pytest.mark.django_db
def test_a_request_that_lost_its_claim_keeps_nothing(team: Team, workflow_id: str,
                                                     rf: Any) -> None:
    """A slow first request whose claim was taken over as stale: its work is rolled back and
    it answers 409, so the key still started exactly one thing."""
    request = rf.post("/x", data="{}", content_type="application/json", headers=KEY)

    def produce_while_taken_over() -> Any:
        Execution.objects.create(workflow_id=workflow_id, team=team,
                                 deadline_at=timezone.now())
        IdempotencyRecord.objects.update(token=uuid.uuid4())  # another request took it
        return JsonResponse({"ok": True}, status=201)

    with pytest.raises(Conflict) as raised:
        idempotency.respond_once(request, team, produce_while_taken_over)
    assert raised.value.code == "idempotency_conflict"
    assert Execution.objects.count() == 0


# --- The header -----------------------------------------------------------------------------

@pytest.mark.django_db
def test_a_quoted_structured_field_key_is_the_same_key(api: ApiClient, workflow_id: str) -> None:
    assert execute(api, workflow_id, key='"order-1234"').status_code == 201
    assert execute(api, workflow_id, key="order-1234")["Idempotent-Replayed"] == "true"
    assert execute(api, workflow_id, key=r'"say \"hi\""').status_code == 201
    assert IdempotencyRecord.objects.filter(key='say "hi"').exists()


@pytest.mark.parametrize("bad", ["", " ", "x" * 256, "clé", "tab\there", '"unterminated',
                                 '"bad \\n escape"'])
@pytest.mark.django_db
def test_an_invalid_key_is_400_naming_the_header(api: ApiClient, workflow_id: str,
                                                 bad: str) -> None:
    response = execute(api, workflow_id, key=bad)
    assert error_of(response) == (400, "invalid_request")
    assert "Idempotency-Key" in response.json()["error"]
    assert response.json()["fields"] == ["Idempotency-Key"]
    assert Execution.objects.count() == 0


def test_keys_of_1_to_255_printable_characters_are_accepted() -> None:
    assert idempotency.parse_key("a") == "a"
    assert idempotency.parse_key("~" * 255) == "~" * 255
    assert idempotency.parse_key('a "quoted" middle') == 'a "quoted" middle'
    assert idempotency.parse_key(None) is None


# --- Concurrency ----------------------------------------------------------------------------

def test_100_concurrent_identical_requests_create_exactly_one_execution(
        live_site: str, api_for: Callable[..., ApiClient], owner: User) -> None:
    client = api_for(owner)
    workflow_id = create_workflow(client)["id"]
    url = f"{live_site}/api/v1/workflows/{workflow_id}/execute"
    headers = {"Authorization": f"Bearer {client.secret}", "Idempotency-Key": "burst-1"}
    start = threading.Barrier(100)
    answers: list[httpx.Response] = []

    def send() -> None:
        start.wait()
        answers.append(httpx.post(url, json={"inputs": {"Prompt": "a fox"}}, headers=headers,
                                  timeout=60))

    threads = [threading.Thread(target=send) for _ in range(100)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert Execution.objects.filter(workflow_id=workflow_id).count() == 1
    assert {a.status_code for a in answers} <= {201, 409}
    created = [a for a in answers if a.status_code == 201]
    assert len([a for a in created if "Idempotent-Replayed" not in a.headers]) == 1
    assert len({a.json()["executionId"] for a in created}) == 1


def test_of_many_racing_claims_on_the_database_exactly_one_wins(transactional_db: None,
                                                                owner: User) -> None:
    team = owner.current_team
    assert team is not None
    start = threading.Barrier(20)
    won: list[object] = []

    def race() -> None:
        start.wait()
        try:
            won.append(idempotency.claim(team, "race", "POST", "/p", "f" * 64))
        except Conflict:
            pass
        finally:
            connection.close()

    threads = [threading.Thread(target=race) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len([w for w in won if isinstance(w, idempotency.Claim)]) == 1
    assert IdempotencyRecord.objects.filter(key="race").count() == 1


# --- Purge ----------------------------------------------------------------------------------

def _record(team: Team, key: str, age: timedelta) -> IdempotencyRecord:
    at = timezone.now() - age
    return IdempotencyRecord.objects.create(team=team, key=key, method="POST", path="/p",
                                            fingerprint="f" * 64, state=IdempotencyState.DONE,
                                            created_at=at, claimed_at=at)


@pytest.mark.django_db
def test_the_beat_task_purges_records_older_than_a_day(team: Team) -> None:
    _record(team, "old", timedelta(hours=24, minutes=1))
    _record(team, "recent", timedelta(hours=23))
    purge_idempotency_task()
    assert list(IdempotencyRecord.objects.values_list("key", flat=True)) == ["recent"]


def test_the_in_process_sweeper_purges_them_too(transactional_db: None, owner: User) -> None:
    assert owner.current_team is not None
    _record(owner.current_team, "old", timedelta(days=2))
    _record(owner.current_team, "recent", timedelta(minutes=5))
    _run_sweep()
    assert list(IdempotencyRecord.objects.values_list("key", flat=True)) == ["recent"]


def test_the_purge_runs_every_hour_on_celery_beat(settings: Any) -> None:
    entry = settings.CELERY_BEAT_SCHEDULE["purge-idempotency-keys"]
    assert entry == {"task": "executions.purge_idempotency", "schedule": 3600.0}

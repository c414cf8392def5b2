"""Safety-net polls of jobs a provider will call back on (engine/retry.poll_delay): every 10 s
while no webhook has been seen reaching the site; once one has (within the past hour), only
every minute or two, so that a job waiting on its webhook costs a submit and a result."""

from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest
from django.core import signing
from django.core.cache import cache
from django.test import Client
from django.utils import timezone
from pytest_django import Settings

from executions.engine import nodectx
from executions.engine.nodectx import (
    HOOK_SALT,
    WEBHOOKS_ARRIVE_KEY,
    note_webhook_arrived,
    webhook_url,
    webhooks_arrive,
)
from executions.engine.retry import poll_delay
from executions.engine.runner import advance
from executions.models import Execution, NodePhase, NodeRun
from executions.services import sweep_stalled
from tests.conftest import ApiClient

from .helpers import create_workflow, execute, node

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _no_webhook_seen(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    cache.delete(WEBHOOKS_ARRIVE_KEY)
    monkeypatch.setattr(nodectx, "_noted_at", None)  # nor renewed lately by this process
    yield
    cache.delete(WEBHOOKS_ARRIVE_KEY)


def submitted(api: ApiClient) -> tuple[NodeRun, datetime, datetime]:
    """A job that never finishes, submitted by one pass; the pass's start and end."""
    workflow = create_workflow(api, [node("g", "generate:flux_2", prompt="a fox [sim hang]")], [])
    execution_id = execute(api, workflow)
    before = timezone.now()
    advance(execution_id)
    after = timezone.now()
    run = NodeRun.objects.get(execution_id=execution_id)
    assert run.phase == NodePhase.SUBMITTED and run.remote["webhook"] is True
    return run, before, after


def next_poll_within(run: NodeRun, before: datetime, after: datetime) -> tuple[float, float]:
    assert run.next_check_at is not None
    return ((run.next_check_at - after).total_seconds(),
            (run.next_check_at - before).total_seconds())


def hook_token(run_id: int) -> str:
    return signing.dumps({"run": run_id, "attempt": 1}, salt=HOOK_SALT, compress=True)


def test_until_a_webhook_arrives_a_waiting_job_is_polled_after_10_s(
        sent: list[str], sim_site: str, api: ApiClient) -> None:
    run, before, after = submitted(api)
    low, high = next_poll_within(run, before, after)
    assert low <= 10 <= high


def test_once_webhooks_arrive_a_waiting_job_is_polled_after_a_minute(
        sent: list[str], sim_site: str, api: ApiClient) -> None:
    # A delivery for a run long gone still proves that the provider's callbacks reach us.
    response = Client().post(f"/hooks/provider/{hook_token(10**9)}/", data="{}",
                             content_type="application/json")
    assert response.status_code == 200 and webhooks_arrive()
    run, before, after = submitted(api)
    low, high = next_poll_within(run, before, after)
    assert low <= 60 <= high


def test_a_webhook_with_a_bad_token_proves_nothing(sent: list[str], sim_site: str,
                                                   api: ApiClient) -> None:
    for token in ("not-a-token", hook_token(1)[:-2] + "xx"):
        response = Client().post(f"/hooks/provider/{token}/", data="{}",
                                 content_type="application/json")
        assert response.status_code == 404
    assert not webhooks_arrive()
    run, before, after = submitted(api)
    assert next_poll_within(run, before, after)[0] <= 10


def test_the_providers_own_webhook_sets_the_mark_and_brings_the_result(
        sent: list[str], sim_site: str, api: ApiClient) -> None:
    run, _, _ = submitted(api)
    response = Client().post("/" + webhook_url(run).split("/", 3)[3],
                             data={"request_id": run.request_id, "status": "OK"},
                             content_type="application/json")
    assert response.status_code == 200 and webhooks_arrive()
    run.refresh_from_db()
    assert run.remote["delivered"]["request_id"] == run.request_id
    assert run.next_check_at is not None and run.next_check_at <= timezone.now()
    wake_at = Execution.objects.get(pk=run.execution_id).wake_at
    assert wake_at is not None and wake_at <= timezone.now()  # the execution is due now too


def test_a_lost_wake_up_after_a_webhook_is_swept_within_the_grace_not_the_poll(
        sent: list[str], sim_site: str, api: ApiClient, settings: Settings) -> None:
    note_webhook_arrived()  # the safety-net poll is a minute away
    run, _, _ = submitted(api)
    assert Execution.objects.get(pk=run.execution_id).wake_at == run.next_check_at
    sent.clear()
    response = Client().post("/" + webhook_url(run).split("/", 3)[3],
                             data={"request_id": run.request_id, "status": "OK"},
                             content_type="application/json")
    assert response.status_code == 200
    assert sent  # the wake-up was sent; say the worker holding it was killed
    sent.clear()
    settings.SWEEP_GRACE_SECONDS = 0
    assert sweep_stalled() == 1 and sent == [str(run.execution_id)]


def keys_passed_to(monkeypatch: pytest.MonkeyPatch, method: str) -> list[str]:
    """The keys the cache's `method` (get, set) is called with from now on."""
    keys: list[str] = []
    real = getattr(cache, method)

    def counted(key: str, *args: Any, **kwargs: Any) -> Any:
        keys.append(key)
        return real(key, *args, **kwargs)

    monkeypatch.setattr(cache, method, counted)
    return keys


def test_a_burst_of_webhooks_renews_the_mark_once(sent: list[str], sim_site: str,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    writes = keys_passed_to(monkeypatch, "set")
    for run_id in range(10**9, 10**9 + 20):
        assert Client().post(f"/hooks/provider/{hook_token(run_id)}/", data="{}",
                             content_type="application/json").status_code == 200
    assert writes.count(WEBHOOKS_ARRIVE_KEY) == 1 and webhooks_arrive()


def test_a_worker_reads_the_mark_once_a_minute_not_once_per_pass(
        sent: list[str], sim_site: str, api: ApiClient, monkeypatch: pytest.MonkeyPatch) -> None:
    note_webhook_arrived()
    reads = keys_passed_to(monkeypatch, "get")
    for _ in range(3):
        run, before, after = submitted(api)
        assert next_poll_within(run, before, after)[0] >= 55  # a minute: webhooks arrive
    assert reads.count(WEBHOOKS_ARRIVE_KEY) == 1
    # A minute on, the mark is read again: gone (an hour without webhooks), polls come sooner.
    cache.delete(WEBHOOKS_ARRIVE_KEY)
    assert nodectx._known_at is not None
    monkeypatch.setattr(nodectx, "_known_at", nodectx._known_at - nodectx.READ_EVERY_SECONDS - 1)
    run, before, after = submitted(api)
    assert next_poll_within(run, before, after)[0] <= 10
    assert reads.count(WEBHOOKS_ARRIVE_KEY) == 2


def test_an_unset_mark_is_read_again_at_once() -> None:
    """Only "they arrive" is kept: the first webhook is seen by the next pass of every worker."""
    assert not webhooks_arrive()
    cache.set(WEBHOOKS_ARRIVE_KEY, 1, 60)
    assert webhooks_arrive()


@pytest.mark.parametrize("webhooks_arrive_", [False, True])
def test_safety_net_polls_grow_to_a_cap_and_never_come_sooner_than_without_a_webhook(
        webhooks_arrive_: bool) -> None:
    delays = [poll_delay(polls, webhook=True, webhooks_arrive=webhooks_arrive_)
              for polls in range(30)]
    assert delays == sorted(delays)
    assert delays[-1] == (120.0 if webhooks_arrive_ else 30.0)
    plain = [poll_delay(polls) for polls in range(30)]
    assert all(hooked >= without for hooked, without in zip(delays, plain, strict=True))
    assert plain[-1] == 5.0
    # Without a webhook on the job, whether webhooks arrive changes nothing.
    assert [poll_delay(polls, webhooks_arrive=True) for polls in range(30)] == plain
    assert delays[0] == (60.0 if webhooks_arrive_ else 10.0)


class _CacheDown:
    """A cache whose every call fails, as Redis does while it restarts."""

    def __getattr__(self, name: str) -> Any:
        def fail(*args: Any, **kwargs: Any) -> Any:
            raise ConnectionError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")
        return fail


def test_a_cache_that_is_down_neither_fails_a_submit_nor_a_webhook(
        sent: list[str], sim_site: str, api: ApiClient, monkeypatch: pytest.MonkeyPatch) -> None:
    """The mark only spaces polls out: while the cache cannot answer, a submission is still
    recorded (on the shorter schedule) and a provider's delivery is still taken."""
    monkeypatch.setattr(nodectx, "cache", _CacheDown())
    run, before, after = submitted(api)
    assert next_poll_within(run, before, after)[0] <= 10
    response = Client().post("/" + webhook_url(run).split("/", 3)[3],
                             data={"request_id": run.request_id, "status": "OK"},
                             content_type="application/json")
    assert response.status_code == 200
    run.refresh_from_db()
    assert run.remote["delivered"]["request_id"] == run.request_id

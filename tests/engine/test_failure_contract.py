"""One failure contract for every executor: inline nodes honour `retries`, `timeoutSeconds` and
`continueOnError` as remote ones do, and a webhook delivery is retried on 408, 409, 429, 5xx and
on timeouts, after the receiver's Retry-After."""

from datetime import datetime
from typing import Any

import pytest

from executions.models import ExecutionStatus, NodeRun
from tests.conftest import ApiClient

from .helpers import create_workflow, edge, execute, node
from .inprocess import HOLD, Receiver, drive

pytestmark = pytest.mark.django_db(transaction=True)


def webhook_run(api: ApiClient, url: str, **hook: Any) -> tuple[str, NodeRun]:
    nodes = [node("t", "input:text", text="hello"),
             node("hook", "output:webhook", "Notify", url=url, **hook),
             node("out", "output:result")]
    edges = [edge("t", "text", "hook", "value"), edge("t", "text", "out", "value")]
    execution = drive(execute(api, create_workflow(api, nodes, edges)))
    return execution.status, NodeRun.objects.get(execution=execution, node_id="hook")


def http_statuses(run: NodeRun) -> list[int | None]:
    return [entry["httpStatus"] for entry in run.attempts_log]


def test_a_webhook_answering_503_twice_is_delivered_on_the_third_attempt(
        sent: list[str], api: ApiClient, receiver: Receiver) -> None:
    receiver.plan = [503, 503]
    status, hook = webhook_run(api, receiver.url)
    assert status == ExecutionStatus.COMPLETED
    assert receiver.deliveries == 3
    assert hook.attempt == 3 and http_statuses(hook) == [503, 503, None]


@pytest.mark.parametrize("code", [408, 409, 429, 500, 502])
def test_every_retryable_answer_is_tried_again(sent: list[str], api: ApiClient,
                                               receiver: Receiver, code: int) -> None:
    receiver.plan = [code]
    status, hook = webhook_run(api, receiver.url)
    assert status == ExecutionStatus.COMPLETED
    assert http_statuses(hook) == [code, None]


def test_a_retry_waits_for_the_receivers_retry_after(sent: list[str], api: ApiClient,
                                                     receiver: Receiver) -> None:
    receiver.plan, receiver.retry_after = [429], "2"
    status, hook = webhook_run(api, receiver.url)
    assert status == ExecutionStatus.COMPLETED
    first, second = hook.attempts_log
    waited = (_moment(second["startedAt"]) - _moment(first["finishedAt"])).total_seconds()
    assert waited >= 2


def _moment(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


@pytest.mark.parametrize("code", [400, 401, 404, 410, 422])
def test_a_refusal_fails_at_once(sent: list[str], api: ApiClient, receiver: Receiver,
                                 code: int) -> None:
    receiver.plan = [code]
    status, hook = webhook_run(api, receiver.url)
    assert status == ExecutionStatus.FAILED
    assert receiver.deliveries == 1
    assert hook.status == "FAILED" and hook.error == f"webhook answered HTTP {code}"


def test_retries_set_to_zero_fail_at_the_first_retryable_error(
        sent: list[str], api: ApiClient, receiver: Receiver) -> None:
    receiver.plan = [503]
    status, hook = webhook_run(api, receiver.url, retries=0)
    assert status == ExecutionStatus.FAILED and receiver.deliveries == 1


def test_retries_are_used_up_then_the_node_fails(sent: list[str], api: ApiClient,
                                                 receiver: Receiver) -> None:
    receiver.plan = [500, 500, 500]
    status, hook = webhook_run(api, receiver.url, retries=2)
    assert status == ExecutionStatus.FAILED
    assert receiver.deliveries == 3 and hook.attempt == 3


def test_a_connection_refused_is_retried(sent: list[str], api: ApiClient,
                                         receiver: Receiver) -> None:
    closed = Receiver()
    url = closed.url
    closed.close()  # nothing listens there any more
    status, hook = webhook_run(api, url, retries=1)
    assert status == ExecutionStatus.FAILED
    assert hook.attempt == 2 and "webhook delivery failed" in hook.error


def test_an_inline_node_past_its_timeout_fails_without_waiting_for_it(
        sent: list[str], api: ApiClient, receiver: Receiver) -> None:
    receiver.plan = [HOLD]  # answers only when the test ends
    status, hook = webhook_run(api, receiver.url, timeoutSeconds=1)
    assert status == ExecutionStatus.FAILED
    assert hook.status == "FAILED" and hook.error == "Timed out after 1 s"


def test_continue_on_error_lets_the_run_go_on_after_an_inline_timeout(
        sent: list[str], api: ApiClient, receiver: Receiver) -> None:
    receiver.plan = [HOLD]
    status, hook = webhook_run(api, receiver.url, timeoutSeconds=1, continueOnError=True)
    assert status == ExecutionStatus.COMPLETED
    assert hook.status == "FAILED" and hook.output == {"error": "Timed out after 1 s"}


def test_continue_on_error_passes_an_inline_failure_downstream(sent: list[str],
                                                                api: ApiClient) -> None:
    nodes = [node("t", "input:text", text='{"a": 1}'),
             node("x", "utility:json_extract", path="$.missing", continueOnError=True),
             node("out", "output:result")]
    edges = [edge("t", "text", "x", "json"), edge("x", "value", "out", "value")]
    execution = drive(execute(api, create_workflow(api, nodes, edges)))
    assert execution.status == ExecutionStatus.COMPLETED
    out = NodeRun.objects.get(execution=execution, node_id="out")
    assert out.output is not None
    assert out.output["value"] == {"error": "nothing at $.missing"}

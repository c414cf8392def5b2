"""docs/api.md "Runs and statistics": the team's executions (`GET /executions`) and re-running one
(`POST /workflows/executions/{id}/rerun`), through the full API.

Without a worker an execution stays RUNNING; the tests that need a failed original either set
its state in the database (what a failed run leaves behind) or run it for real on the engine
(a Celery worker and the fal simulator), failing it once with a `[sim fail=400x1]` directive.
"""

from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.utils import timezone

from accounts.credits import credit_balance, credits_adjust
from accounts.models import CreditEntry, Team, User
from accounts.scopes import EXECUTIONS_READ, WORKFLOWS_READ
from executions.models import Execution, ExecutionStatus, NodeRun, NodeStatus
from tests.api.test_executions_api import (
    SUMMARY_KEYS,
    assert_error,
    create,
    pipeline,
    start,
    text_to_result,
)
from tests.api.test_roles import browser
from tests.builders import edge, node
from tests.conftest import ApiClient
from tests.engine.helpers import states, wait_for

pytestmark = pytest.mark.django_db

FORBIDDEN_ROLE = {"error": "Your role in this team cannot do this", "code": "forbidden_role"}


@pytest.fixture(autouse=True)
def _no_rate_limits(settings: Any) -> None:
    settings.RATE_LIMITS_ENABLED = False


def runs(api: ApiClient, query: str = "") -> Any:
    return api.get(f"/executions{query}")


def ids(response: Any) -> list[str]:
    assert response.status_code == 200, response.content
    return [e["executionId"] for e in response.json()["executions"]]


def rerun(api: ApiClient, execution_id: str, body: Any = None, **kw: Any) -> Any:
    return api.post(f"/workflows/executions/{execution_id}/rerun", body, **kw)


def end_as(execution_id: str, status: str, nodes: dict[str, dict[str, Any]]) -> None:
    """Leave the execution as the engine would have: ended, each node as given."""
    now = timezone.now()
    for node_id, fields in nodes.items():
        NodeRun.objects.filter(execution_id=execution_id, node_id=node_id).update(
            started_at=now, finished_at=now, **fields)
    Execution.objects.filter(pk=execution_id).update(status=status, finished_at=now)


def failed_at_result(api: ApiClient, workflow_id: str) -> str:
    """A run of pipeline() whose prompt and model completed (3 credits) and whose result
    failed."""
    execution_id = start(api, workflow_id)
    image = {"url": "https://example.com/fox.png", "width": 8, "height": 8}
    end_as(execution_id, ExecutionStatus.FAILED, {
        "prompt": {"status": NodeStatus.COMPLETED, "ports": {"text": "a red fox"},
                   "output": {"text": "a red fox"}, "attempt": 1},
        "count": {"status": NodeStatus.COMPLETED, "ports": {"value": 1},
                  "output": {"value": 1}, "attempt": 1},
        "gen": {"status": NodeStatus.COMPLETED, "ports": {"image": image, "images": [image]},
                "output": {"images": [image]}, "credits": 3, "attempt": 2,
                "request_id": "req-1", "input": {"prompt": "a red fox"}},
        "result": {"status": NodeStatus.FAILED, "error": "boom", "attempt": 1},
    })
    return execution_id


def set_balance(team: Team, amount: int) -> None:
    change = amount - credit_balance(team.pk)
    if change:
        credits_adjust(team, change)


@pytest.fixture
def workflow_id(api: ApiClient) -> str:
    return create(api, text_to_result())


# --- GET /executions --------------------------------------------------------------------------

def test_runs_lists_every_workflow_of_the_team_newest_first(api: ApiClient,
                                                            workflow_id: str) -> None:
    other = create(api, text_to_result())
    started = [start(api, workflow_id), start(api, other), start(api, workflow_id)]
    response = runs(api)
    assert ids(response) == started[::-1]
    body = response.json()
    assert body["nextCursor"] is None
    for summary in body["executions"]:
        assert set(summary) == SUMMARY_KEYS
        assert summary["version"] == 1


def test_runs_filter_by_workflow_status_and_trigger(api: ApiClient, owner: User,
                                                    workflow_id: str) -> None:
    other = create(api, text_to_result())
    first, second = start(api, workflow_id), start(api, other)
    from_browser = start(browser(owner), workflow_id)
    end_as(first, ExecutionStatus.FAILED, {})
    assert ids(runs(api, f"?workflowId={workflow_id}")) == [from_browser, first]
    assert ids(runs(api, "?status=FAILED")) == [first]
    assert ids(runs(api, "?status=RUNNING")) == [from_browser, second]
    assert ids(runs(api, "?trigger=editor")) == [from_browser]
    assert ids(runs(api, f"?trigger=api&workflowId={workflow_id}&status=FAILED")) == [first]
    assert ids(runs(api, "?status=&trigger=")) == [from_browser, second, first]


def test_runs_filter_by_date_range(api: ApiClient, workflow_id: str) -> None:
    old, new = start(api, workflow_id), start(api, workflow_id)
    Execution.objects.filter(pk=old).update(created_at=timezone.now() - timedelta(days=3))
    today = timezone.now().date()
    two_days_ago = (timezone.now() - timedelta(days=2)).isoformat()
    assert ids(runs(api, f"?since={today.isoformat()}")) == [new]
    assert ids(runs(api, f"?until={(today - timedelta(days=1)).isoformat()}")) == [old]
    assert ids(runs(api, f"?until={today.isoformat()}")) == [new, old]  # a date: up to its end
    assert ids(runs(api, "?since=" + two_days_ago.replace("+00:00", "Z"))) == [new]


def test_runs_page_by_cursor_over_every_execution_exactly_once(api: ApiClient,
                                                               workflow_id: str) -> None:
    started = [start(api, workflow_id) for _ in range(5)]
    seen: list[str] = []
    query = "?limit=2"
    pages = 0
    while True:
        body = runs(api, query).json()
        pages += 1
        seen += [e["executionId"] for e in body["executions"]]
        if body["nextCursor"] is None:
            break
        query = f"?limit=2&cursor={body['nextCursor']}"
    assert pages == 3 and seen == started[::-1]


def test_runs_show_only_the_keys_team(api: ApiClient, api_for: Callable[..., ApiClient],
                                      stranger: User, workflow_id: str) -> None:
    start(api, workflow_id)
    theirs = api_for(stranger)
    their_run = start(theirs, create(theirs, text_to_result()))
    assert ids(runs(theirs)) == [their_run]
    assert their_run not in ids(runs(api))


def test_a_browser_sees_its_current_teams_runs(owner: User, api: ApiClient,
                                               workflow_id: str) -> None:
    started = start(api, workflow_id)
    assert ids(runs(browser(owner))) == [started]


def test_another_teams_workflow_filter_is_404(api: ApiClient, api_for: Callable[..., ApiClient],
                                              stranger: User, workflow_id: str) -> None:
    theirs = api_for(stranger)
    for asked in (workflow_id, "00000000-0000-0000-0000-000000000000", "nope"):
        assert_error(runs(theirs, f"?workflowId={asked}"), 404, "not_found",
                     "Workflow not found")


@pytest.mark.parametrize(("query", "field"), [
    ("?status=DONE", "status"), ("?status=failed", "status"), ("?trigger=cron", "trigger"),
    ("?since=yesterday", "since"), ("?until=2026-13-01", "until"),
    ("?since=2026-01-01T25:00", "since"), ("?cursor=garbage", "cursor"),
    ("?limit=0", "limit"), ("?limit=101", "limit"), ("?limit=x", "limit"),
])
def test_bad_filters_are_400_naming_the_field(api: ApiClient, workflow_id: str, query: str,
                                              field: str) -> None:
    response = runs(api, query)
    assert field in assert_error(response, 400, "invalid_request")


def test_runs_need_executions_read(api_for: Callable[..., ApiClient], owner: User) -> None:
    response = runs(api_for(owner, scopes=[WORKFLOWS_READ]))
    assert_error(response, 403, "forbidden", "Forbidden: missing scope executions:read")
    assert runs(api_for(owner, scopes=[EXECUTIONS_READ])).status_code == 200


def test_a_page_of_runs_costs_a_fixed_number_of_queries(
        api: ApiClient, workflow_id: str, django_assert_max_num_queries: Any) -> None:
    for _ in range(12):
        start(api, create(api, text_to_result()))
    with django_assert_max_num_queries(12):  # auth, rate limits, the page, its versions
        assert len(ids(runs(api, "?limit=50"))) == 12


def test_a_viewer_may_list_runs(api: ApiClient, viewer: User, workflow_id: str) -> None:
    started = start(api, workflow_id)
    assert ids(runs(browser(viewer))) == [started]


# --- POST /workflows/executions/{id}/rerun ----------------------------------------------------

def test_a_rerun_is_a_new_execution_of_the_same_graph_inputs_and_version(
        api: ApiClient, workflow_id: str) -> None:
    original = start(api, workflow_id, {"inputs": {"Words": "goodbye"}})
    # The workflow changes afterwards: the re-run still runs what the original ran.
    api.put(f"/workflows/{workflow_id}", {"name": "Changed", **_graph_with_text("changed")})
    response = rerun(api, original, {})
    assert response.status_code == 201, response.content
    body = response.json()
    new_id = body["executionId"]
    assert body["workflowId"] == workflow_id and body["status"] == "RUNNING"
    assert response["Location"] == f"/api/v1/workflows/executions/{new_id}/poll"
    old, new = Execution.objects.get(pk=original), Execution.objects.get(pk=new_id)
    assert new.rerun_of_id == old.pk
    assert (new.nodes, new.edges, new.inputs) == (old.nodes, old.edges, old.inputs)
    assert new.workflow_version_id == old.workflow_version_id is not None
    assert new.trigger == "api"
    assert NodeRun.objects.filter(execution=new, status=NodeStatus.PENDING).count() == 2


def _graph_with_text(text: str) -> dict[str, Any]:
    nodes, edges = text_to_result()
    nodes[0]["data"]["params"]["text"] = text
    return {"nodes": nodes, "edges": edges}


def test_a_rerun_of_a_graph_sent_with_the_request_runs_that_exact_graph(
        api: ApiClient, workflow_id: str) -> None:
    original = start(api, workflow_id, _graph_with_text("sent along"))
    response = rerun(api, original, {})
    assert response.status_code == 201, response.content
    new_id = response.json()["executionId"]
    new = Execution.objects.get(pk=new_id)
    assert new.workflow_version_id is None
    assert new.nodes == Execution.objects.get(pk=original).nodes
    assert new.nodes[0]["data"]["params"]["text"] == "sent along"


def test_a_rerun_from_the_browser_is_an_editor_run(owner: User, api: ApiClient,
                                                   workflow_id: str) -> None:
    response = rerun(browser(owner), start(api, workflow_id), {})
    assert response.status_code == 201, response.content
    assert Execution.objects.get(pk=response.json()["executionId"]).trigger == "editor"


def test_retry_from_failed_carries_the_completed_nodes_over_uncharged(
        api: ApiClient, team: Team) -> None:
    workflow_id = create(api, pipeline())
    original = failed_at_result(api, workflow_id)
    before = credit_balance(team.pk)
    response = rerun(api, original, {"fromFailed": True})
    assert response.status_code == 201, response.content
    new_id = response.json()["executionId"]
    poll = api.get(f"/workflows/executions/{new_id}/poll").json()
    by_node = states(poll)
    for node_id in ("prompt", "count", "gen"):
        assert by_node[node_id]["status"] == "COMPLETED"
        assert by_node[node_id]["cached"] is True and by_node[node_id]["credits"] == 0
    assert by_node["gen"]["outputUrl"] == "https://example.com/fox.png"
    assert by_node["gen"]["requestId"] == "req-1" and by_node["gen"]["attempts"] == 2
    assert by_node["result"]["status"] == "PENDING" and by_node["result"]["cached"] is False
    # Nothing to pay: the model's result is reused, so nothing is reserved either.
    assert not CreditEntry.objects.filter(execution_id=new_id).exists()
    assert credit_balance(team.pk) == before
    # Live followers were told about the carried-over nodes.
    events = Execution.objects.get(pk=new_id).events.filter(type="node")
    assert sorted(e.payload["nodeId"] for e in events) == ["count", "gen", "prompt"]


def test_retry_from_failed_runs_again_what_completed_on_a_failed_nodes_error(
        api: ApiClient) -> None:
    """continueOnError: the model failed, the result completed with its error; both run
    again (the result's input will change), the prompt is carried over."""
    original = start(api, create(api, pipeline()))
    end_as(original, ExecutionStatus.FAILED, {
        "prompt": {"status": NodeStatus.COMPLETED, "ports": {"text": "a red fox"}},
        "count": {"status": NodeStatus.COMPLETED, "ports": {"value": 1}},
        "gen": {"status": NodeStatus.FAILED, "error": "boom",
                "ports": {"image": {"error": "boom"}}},
        "result": {"status": NodeStatus.COMPLETED, "output": {"value": {"error": "boom"}}},
    })
    new_id = rerun(api, original, {"fromFailed": True}).json()["executionId"]
    carried = dict(NodeRun.objects.filter(execution_id=new_id).values_list("node_id", "cached"))
    assert carried == {"prompt": True, "count": True, "gen": False, "result": False}


def test_a_plain_rerun_of_a_failed_run_runs_and_reserves_everything(
        api: ApiClient, team: Team) -> None:
    workflow_id = create(api, pipeline())
    original = failed_at_result(api, workflow_id)
    new_id = rerun(api, original, {"fromFailed": False}).json()["executionId"]
    assert set(NodeRun.objects.filter(execution_id=new_id).values_list("status", flat=True)) \
        == {NodeStatus.PENDING}
    assert not NodeRun.objects.filter(execution_id=new_id, cached=True).exists()
    reserved = CreditEntry.objects.get(execution_id=new_id, kind="reserve")
    assert reserved.amount == Decimal(-3)


@pytest.mark.parametrize("status", [ExecutionStatus.RUNNING, ExecutionStatus.COMPLETED])
def test_only_a_failed_or_cancelled_run_can_be_retried_from_failed(
        api: ApiClient, workflow_id: str, status: str) -> None:
    original = start(api, workflow_id)
    if status != ExecutionStatus.RUNNING:
        end_as(original, status, {})
    response = rerun(api, original, {"fromFailed": True})
    assert status in assert_error(response, 409, "not_failed")
    assert not Execution.objects.filter(rerun_of__pk=original).exists()


def test_a_cancelled_run_can_be_retried_from_failed(api: ApiClient, workflow_id: str) -> None:
    original = start(api, workflow_id)
    end_as(original, ExecutionStatus.CANCELLED, {
        "words": {"status": NodeStatus.COMPLETED, "ports": {"text": "hello"}},
        "out": {"status": NodeStatus.CANCELLED}})
    response = rerun(api, original, {"fromFailed": True})
    assert response.status_code == 201, response.content
    runs_now = dict(NodeRun.objects.filter(execution_id=response.json()["executionId"])
                    .values_list("node_id", "status"))
    assert runs_now == {"words": NodeStatus.COMPLETED, "out": NodeStatus.PENDING}


def test_a_stranger_cannot_rerun_or_probe_a_run(api: ApiClient, api_for: Callable[..., ApiClient],
                                                stranger: User, workflow_id: str) -> None:
    original = start(api, workflow_id)
    for client in (api_for(stranger), browser(stranger)):
        for asked in (original, "00000000-0000-0000-0000-000000000000", "nope"):
            assert_error(rerun(client, asked, {}), 404, "not_found", "Execution not found")
    assert not Execution.objects.filter(rerun_of__pk=original).exists()


def test_a_viewer_may_not_rerun(api: ApiClient, viewer: User,
                                api_for: Callable[..., ApiClient], workflow_id: str) -> None:
    original = start(api, workflow_id)
    for client in (browser(viewer), api_for(viewer, scopes=[EXECUTIONS_READ])):
        response = rerun(client, original, {})
        assert response.status_code == 403
    assert browser(viewer).post(f"/workflows/executions/{original}/rerun", {}).json() \
        == FORBIDDEN_ROLE
    assert not Execution.objects.filter(rerun_of__pk=original).exists()


def test_a_teammate_may_rerun(api: ApiClient, teammate: User, workflow_id: str) -> None:
    response = rerun(browser(teammate), start(api, workflow_id), {})
    assert response.status_code == 201, response.content


def test_a_rerun_needs_workflows_execute(api: ApiClient, api_for: Callable[..., ApiClient],
                                         owner: User, workflow_id: str) -> None:
    response = rerun(api_for(owner, scopes=[EXECUTIONS_READ]), start(api, workflow_id), {})
    assert_error(response, 403, "forbidden", "Forbidden: missing scope workflows:execute")


@pytest.mark.parametrize("raw", ['{"fromFailed": "yes"}', "[]", '"x"', '{"fromFailed": 1}'])
def test_a_bad_rerun_body_is_400(api: ApiClient, workflow_id: str, raw: str) -> None:
    assert_error(rerun(api, start(api, workflow_id), raw=raw), 400, "invalid_request")


def test_malformed_json_is_400_invalid_json(api: ApiClient, workflow_id: str) -> None:
    assert_error(rerun(api, start(api, workflow_id), raw="{"), 400, "invalid_json")


@pytest.mark.parametrize("raw", ["", "{}"], ids=["no body", "empty object"])
def test_a_rerun_needs_no_body(api: ApiClient, workflow_id: str, raw: str) -> None:
    assert rerun(api, start(api, workflow_id), raw=raw).status_code == 201


def test_an_inactive_workflow_cannot_be_rerun(api: ApiClient, workflow_id: str) -> None:
    original = start(api, workflow_id)
    api.put(f"/workflows/{workflow_id}", {"name": "Off", **_graph_with_text("hello"),
                                          "isActive": False})
    assert_error(rerun(api, original, {}), 409, "workflow_inactive")


def test_a_rerun_short_of_credits_is_402_and_starts_nothing(
        api: ApiClient, team: Team, settings: Any) -> None:
    workflow_id = create(api, pipeline())
    original = failed_at_result(api, workflow_id)
    set_balance(team, 0)
    response = rerun(api, original, {})
    assert_error(response, 402, "insufficient_credits")
    assert rerun(api, original, {"fromFailed": True}).status_code == 201  # nothing to pay


def test_a_rerun_with_an_idempotency_key_starts_one_execution(
        api: ApiClient, workflow_id: str) -> None:
    original = start(api, workflow_id)
    headers = {"Idempotency-Key": "rerun-1"}
    first = rerun(api, original, {}, headers=headers)
    second = rerun(api, original, {}, headers=headers)
    assert first.status_code == second.status_code == 201
    assert second["Idempotent-Replayed"] == "true"
    assert first.json() == second.json()
    assert Execution.objects.filter(rerun_of__pk=original).count() == 1


def test_a_rerun_counts_as_an_execution_for_the_rate_limits(
        api: ApiClient, team: Team, workflow_id: str, settings: Any) -> None:
    from tests.api.run_helpers import forget_rate_limits

    original = start(api, workflow_id)
    settings.RATE_LIMITS_ENABLED = True
    forget_rate_limits(team)
    try:
        answers = [rerun(api, original, {}).status_code for _ in range(11)]
    finally:
        forget_rate_limits(team)
    assert answers[:10] == [201] * 10 and answers[10] == 429


# --- On the engine: a run that failed once, retried from failed ------------------------------

def fails_once() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Prompt -> FLUX.2 (3 credits) -> FLUX.2 Edit (4 credits; its first submit is refused)
    -> Result, and FLUX.2 -> First draft (an output that completes before the edit fails). The
    edit starts only after the first model completed."""
    nodes = [node("prompt", "input:text", "Prompt", text="a red fox"),
             node("gen", "generate:flux_2", "Generate"),
             node("edit", "edit:flux_2_edit", "Edit", prompt="make it blue [sim fail=400x1]"),
             node("result", "output:result", "Result"),
             node("first", "output:result", "First draft")]
    edges = [edge("prompt", "text", "gen", "prompt"), edge("gen", "image", "edit", "image_urls"),
             edge("edit", "image", "result", "value"), edge("gen", "image", "first", "value")]
    return nodes, edges


@pytest.mark.django_db(transaction=True)
def test_retry_from_failed_on_the_engine_charges_only_what_ran_again(
        engine: str, api: ApiClient, team: Team, settings: Any) -> None:
    set_balance(team, 100)
    original = start(api, create(api, fails_once()))
    failed = wait_for(api, original)
    assert failed["status"] == "FAILED", failed
    assert states(failed)["gen"]["status"] == "COMPLETED"
    assert states(failed)["edit"]["status"] == "FAILED"
    assert states(failed)["first"]["status"] == "COMPLETED"
    assert failed["creditsUsed"] == 3

    response = rerun(api, original, {"fromFailed": True})
    assert response.status_code == 201, response.content
    retried = wait_for(api, response.json()["executionId"])
    assert retried["status"] == "COMPLETED", retried
    by_node = states(retried)
    assert by_node["gen"]["cached"] is True and by_node["gen"]["credits"] == 0
    assert by_node["gen"]["outputUrl"] == states(failed)["gen"]["outputUrl"]
    assert by_node["edit"]["cached"] is False and by_node["edit"]["credits"] == 4
    assert retried["creditsUsed"] == 4
    # The carried-over output is part of the result like the one that ran again.
    assert set(retried["finalOutput"]) == {"first", "result"}
    assert retried["finalOutput"]["first"] == failed["nodeResults"]["nodeRuns"][
        [r["nodeId"] for r in failed["nodeResults"]["nodeRuns"]].index("first")]["output"]
    charged = CreditEntry.objects.filter(execution_id=retried["executionId"], kind="charge")
    assert [(e.node_id, e.amount) for e in charged] == [("edit", Decimal(-4))]
    assert credit_balance(team.pk) == 100 - 3 - 4

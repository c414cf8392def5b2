"""docs/api.md "Plans and rate limits" through the full API: the plan table, the X-RateLimit-*
headers, the 429s, limits shared by a team, exact under concurrency on a live server, and
`manage.py setplan`. The limiter itself is tested in tests/test_ratelimit.py."""

import math
import re
import time
import uuid
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
from django.core.management import CommandError
from django.http import HttpResponse
from django.test import Client, RequestFactory

from accounts.models import Membership, Plan, Role, Team, User
from accounts.plans import PLANS, PlanLimits, team_set_plan
from accounts.scopes import EXECUTIONS_READ
from accounts.services import team_create, team_create_and_switch
from tests.conftest import ApiClient
from tests.harness import command_output
from wireflow_site import ratelimit
from wireflow_site.ratelimit import DAY, EXECUTIONS_DAY, LocalLimiter, RedisLimiter, bucket_key
from workflows.models import Workflow
from workflows.services import WorkflowData, workflow_create, workflow_update

RATE_HEADERS = ("X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset")


@pytest.fixture(autouse=True)
def limits_on(settings: Any) -> None:
    settings.RATE_LIMITS_ENABLED = True
    _forget_every_bucket()


def _forget_every_bucket() -> None:
    # Team ids restart with each test database, but Redis keeps the day buckets for 24 hours.
    limiter = ratelimit.limiter()
    assert isinstance(limiter, RedisLimiter)
    for key in limiter.redis.scan_iter("wf:rl:*"):
        limiter.redis.delete(key)


def _workflow_id(user: User, team: Team) -> str:
    nodes = [{"id": "prompt", "type": "basedNode", "position": {"x": 0, "y": 0},
              "data": {"label": "Prompt", "nodeType": "input:text", "params": {"text": "hi"}}}]
    workflow = workflow_create(user=user, team=team,
                               data=WorkflowData(name="limits", nodes=nodes, edges=[]))
    return str(workflow.pk)


def _execute(client: ApiClient, workflow_id: str) -> Any:
    return client.post(f"/workflows/{workflow_id}/execute", {})


def _use_up_the_day(team: Team, count: int) -> None:
    limit = PLANS[team.plan].executions_per_day or count
    for _ in range(count):
        assert ratelimit.limiter().hit(bucket_key(team.pk, EXECUTIONS_DAY), limit, DAY).allowed


def _rate(response: Any) -> tuple[str, str]:
    return response["X-RateLimit-Limit"], response["X-RateLimit-Remaining"]


# --- The plan table --------------------------------------------------------------------------

def test_the_plan_table_is_the_one_of_the_api_contract() -> None:
    assert {
        "free": PlanLimits(10, 10, 50),
        "starter": PlanLimits(20, 10, 200),
        "pro": PlanLimits(60, 10, 1_000),
        "enterprise": PlanLimits(200, 10, None),
    } == PLANS


def test_a_new_team_is_on_the_free_plan(team: Team) -> None:
    assert team.plan == Plan.FREE


# --- Headers ---------------------------------------------------------------------------------

def test_every_authenticated_response_tells_the_limit_and_what_remains(api: ApiClient) -> None:
    before = time.time()
    responses = [api.get("/workflows") for _ in range(3)]
    after = time.time()
    assert [_rate(r) for r in responses] == [("10", "9"), ("10", "8"), ("10", "7")]
    # The window frees up a minute after the first of these calls.
    resets = {int(r["X-RateLimit-Reset"]) for r in responses}
    assert len(resets) == 1
    assert math.floor(before + 60) <= resets.pop() <= math.ceil(after + 60)


def test_an_error_after_authentication_carries_the_headers_too(api: ApiClient,
                                                               api_for: Callable[..., ApiClient],
                                                               owner: User) -> None:
    missing = api.get(f"/workflows/{uuid.uuid4()}")
    assert missing.status_code == 404
    assert _rate(missing) == ("10", "9")
    forbidden = api_for(owner, scopes=[EXECUTIONS_READ]).get("/workflows")
    assert forbidden.status_code == 403
    assert _rate(forbidden) == ("10", "8")


def test_unauthenticated_responses_carry_no_rate_limit_headers(db: None) -> None:
    responses = [Client().get("/api/v1/workflows"),
                 Client().get("/api/v1/workflows", headers={"Authorization": "Bearer sk-nope"}),
                 Client().get("/api/v1/openapi.json")]
    assert [r.status_code for r in responses] == [401, 401, 200]
    for response in responses:
        assert not any(response.has_header(name) for name in RATE_HEADERS)


def test_with_limits_switched_off_nothing_is_refused_or_announced(api: ApiClient,
                                                                  settings: Any) -> None:
    settings.RATE_LIMITS_ENABLED = False
    responses = [api.get("/workflows") for _ in range(12)]
    assert {r.status_code for r in responses} == {200}
    assert not any(r.has_header("X-RateLimit-Limit") for r in responses)


# --- Requests per minute ---------------------------------------------------------------------

def test_the_eleventh_request_in_a_minute_is_429_with_the_exact_body(api: ApiClient) -> None:
    assert {api.get("/workflows").status_code for _ in range(10)} == {200}
    before = time.time()
    refused = api.get("/workflows")
    after = time.time()
    assert refused.status_code == 429
    wait = refused.json()["retryAfter"]
    assert refused.json() == {"error": f"Rate limit exceeded. Try again in {wait} seconds.",
                              "code": "rate_limited", "retryAfter": wait}
    assert 1 <= wait <= 60
    assert refused["Retry-After"] == str(wait)
    assert _rate(refused) == ("10", "0")
    # The reset and the wait name the same moment, rounded up, as seen during the request.
    reset = int(refused["X-RateLimit-Reset"])
    assert reset - after - 1 < wait < reset - before + 1


@pytest.mark.parametrize(("plan", "limit"), [("free", 10), ("starter", 20), ("pro", 60)])
def test_each_plan_admits_exactly_its_requests_per_minute(api: ApiClient, team: Team, plan: str,
                                                          limit: int) -> None:
    team_set_plan(team, plan)
    statuses = Counter(api.get("/workflows").status_code for _ in range(limit + 3))
    assert statuses == {200: limit, 429: 3}


def test_the_embedded_mode_limits_the_same_way_without_redis(api: ApiClient, settings: Any,
                                                             monkeypatch: Any) -> None:
    redis_url, settings.REDIS_URL = settings.REDIS_URL, ""
    monkeypatch.setitem(ratelimit._limiters, "", LocalLimiter())
    statuses = [api.get("/workflows").status_code for _ in range(11)]
    assert statuses == [200] * 10 + [429]
    assert not any(RedisLimiter(redis_url).redis.scan_iter("wf:rl:*"))


def test_enterprise_announces_two_hundred_requests_a_minute(api: ApiClient, team: Team) -> None:
    team_set_plan(team, "enterprise")
    assert _rate(api.get("/workflows")) == ("200", "199")


def test_all_keys_of_a_team_share_its_allowance(api: ApiClient, api_for: Callable[..., ApiClient],
                                                teammate: User) -> None:
    other_key = api_for(teammate)
    for _ in range(5):
        assert api.get("/workflows").status_code == 200
        assert other_key.get("/workflows").status_code == 200
    assert api.get("/workflows").status_code == 429
    assert other_key.get("/workflows").status_code == 429


def test_another_team_is_unaffected_when_a_team_is_refused(api: ApiClient, stranger: User,
                                                           api_for: Callable[..., ApiClient]
                                                           ) -> None:
    for _ in range(11):
        api.get("/workflows")
    assert api.get("/workflows").status_code == 429
    theirs = api_for(stranger).get("/workflows")
    assert theirs.status_code == 200
    assert _rate(theirs) == ("10", "9")


def test_a_plan_change_applies_from_the_next_request(api: ApiClient, team: Team) -> None:
    for _ in range(10):
        api.get("/workflows")
    assert api.get("/workflows").status_code == 429
    team_set_plan(team, "starter")
    assert _rate(api.get("/workflows")) == ("20", "9")


# --- Executions --------------------------------------------------------------------------------

def test_executions_do_not_use_the_request_allowance(api: ApiClient, owner: User,
                                                     team: Team) -> None:
    workflow_id = _workflow_id(owner, team)
    for _ in range(10):
        api.get("/workflows")
    assert api.get("/workflows").status_code == 429
    started = _execute(api, workflow_id)
    assert started.status_code == 201
    assert _rate(started) == ("10", "9")


def test_the_eleventh_execution_in_a_minute_is_429_and_requests_still_pass(
        api: ApiClient, owner: User, team: Team) -> None:
    workflow_id = _workflow_id(owner, team)
    assert {_execute(api, workflow_id).status_code for _ in range(10)} == {201}
    refused = _execute(api, workflow_id)
    assert refused.status_code == 429
    assert refused.json()["code"] == "rate_limited"
    assert refused["Retry-After"] == str(refused.json()["retryAfter"])
    assert _rate(refused) == ("10", "0")
    assert api.get("/workflows").status_code == 200


def test_failed_execute_attempts_count_against_the_minute(api: ApiClient, owner: User,
                                                          team: Team) -> None:
    workflow_id = _workflow_id(owner, team)
    for _ in range(10):
        assert _execute(api, str(uuid.uuid4())).status_code == 404
    assert _execute(api, workflow_id).status_code == 429


@pytest.mark.parametrize(("plan", "cap", "shown"),
                         [("free", 50, "50"), ("starter", 200, "200"), ("pro", 1000, "1,000")])
def test_the_daily_cap_answers_429_daily_execution_limit(api: ApiClient, owner: User, team: Team,
                                                         plan: str, cap: int, shown: str) -> None:
    team_set_plan(team, plan)
    workflow_id = _workflow_id(owner, team)
    _use_up_the_day(team, cap)
    refused = _execute(api, workflow_id)
    assert refused.status_code == 429
    wait = refused.json()["retryAfter"]
    assert refused.json() == {
        "error": f"Daily execution limit reached ({shown} per day on the {plan} plan). "
                 f"Try again in {wait} seconds.",
        "code": "daily_execution_limit", "retryAfter": wait}
    # A rolling day: the first of today's executions leaves the window in about 24 hours.
    assert DAY - 60 <= wait <= DAY
    assert refused["Retry-After"] == str(wait)
    assert _rate(refused) == (str(cap), "0")


def test_enterprise_has_no_daily_cap(api: ApiClient, owner: User, team: Team) -> None:
    workflow_id = _workflow_id(owner, team)
    _use_up_the_day(team, 50)
    team_set_plan(team, "enterprise")
    started = _execute(api, workflow_id)
    assert started.status_code == 201
    assert _rate(started) == ("10", "9")


def test_an_execution_that_did_not_start_gives_its_day_slot_back(api: ApiClient, owner: User,
                                                                 team: Team) -> None:
    workflow_id = _workflow_id(owner, team)
    _use_up_the_day(team, 49)
    assert _execute(api, str(uuid.uuid4())).status_code == 404
    last = _execute(api, workflow_id)
    assert last.status_code == 201
    assert _rate(last) == ("50", "0")  # the tighter bucket is the one announced
    assert _execute(api, workflow_id).json()["code"] == "daily_execution_limit"


def test_an_idempotent_replay_gives_its_day_slot_back(team: Team) -> None:
    _use_up_the_day(team, 49)
    replay = RequestFactory().post("/api/v1/workflows/x/execute")
    ratelimit.enforce_execution_limits(team, replay)
    ratelimit.settle(replay, HttpResponse(status=201, headers={"Idempotent-Replayed": "true"}))
    fresh = RequestFactory().post("/api/v1/workflows/x/execute")
    ratelimit.enforce_execution_limits(team, fresh)
    ratelimit.settle(fresh, HttpResponse(status=201))
    with pytest.raises(ratelimit.DailyExecutionLimit):
        ratelimit.enforce_execution_limits(team, RequestFactory().post("/"))


# --- The browser editor --------------------------------------------------------------------------

def test_editor_calls_do_not_use_the_teams_api_allowance(owner: User, api: ApiClient) -> None:
    browser = Client()
    browser.force_login(owner)
    responses = [browser.get("/api/v1/workflows") for _ in range(15)]
    assert {r.status_code for r in responses} == {200}
    assert _rate(responses[-1]) == ("600", "585")
    assert _rate(api.get("/workflows")) == ("10", "9")


def test_executions_started_in_the_editor_count_against_the_team(owner: User, team: Team,
                                                                 api: ApiClient) -> None:
    workflow_id = _workflow_id(owner, team)
    browser = Client()
    browser.force_login(owner)
    for _ in range(10):
        started = browser.post(f"/api/v1/workflows/{workflow_id}/execute", "{}",
                               content_type="application/json")
        assert started.status_code == 201
    assert _execute(api, workflow_id).json()["code"] == "rate_limited"


def _webhook_url(owner: User, workflow_id: str) -> str:
    workflow = Workflow.objects.get(pk=workflow_id)
    enabled = workflow_update(workflow, user=owner, data=WorkflowData(
        name=workflow.name, nodes=workflow.nodes, edges=workflow.edges, webhook_enabled=True))
    return f"/api/v1/workflow/{enabled.webhook_id}/trigger"


def _browser(user: User) -> ApiClient:
    client = ApiClient(None)
    client.client.force_login(user)
    return client


def _start_in_the_browser(browser: ApiClient, workflow_id: str, how: str) -> Any:
    if how == "run":
        return browser.post(f"/workflows/{workflow_id}/run", {"inputs": {}})
    return browser.post(f"/workflows/{workflow_id}/execute", {})


@pytest.mark.parametrize("how", ["execute", "run"])
def test_a_session_execution_is_charged_to_the_workflows_team_not_the_current_one(
        owner: User, team: Team, api: ApiClient, how: str) -> None:
    workflow_id = _workflow_id(owner, team)
    side = team_create_and_switch(user=owner, name="Side project")
    browser = _browser(owner)
    for _ in range(10):
        assert _start_in_the_browser(browser, workflow_id, how).status_code in {201, 202}
    refused = _start_in_the_browser(browser, workflow_id, how)
    assert refused.status_code == 429
    assert refused.json()["code"] == "rate_limited"
    assert _execute(api, workflow_id).json()["code"] == "rate_limited"
    side_workflow = _workflow_id(owner, side)
    assert _start_in_the_browser(browser, side_workflow, how).status_code in {201, 202}


def test_switching_the_current_team_does_not_reset_the_count(owner: User, team: Team,
                                                             api: ApiClient) -> None:
    workflow_id = _workflow_id(owner, team)
    browser = _browser(owner)
    for n in range(10):
        team_create_and_switch(user=owner, name=f"Throwaway {n}")
        assert _start_in_the_browser(browser, workflow_id, "execute").status_code == 201
    team_create_and_switch(user=owner, name="One more")
    assert _start_in_the_browser(browser, workflow_id, "run").json()["code"] == "rate_limited"


def test_new_teams_do_not_multiply_another_teams_daily_cap(owner: User, team: Team,
                                                           teammate: User) -> None:
    workflow_id = _workflow_id(owner, team)
    _use_up_the_day(team, 50)
    team_create_and_switch(user=teammate, name="Teammate's own")
    refused = _start_in_the_browser(_browser(teammate), workflow_id, "execute")
    assert refused.status_code == 429
    assert refused.json()["code"] == "daily_execution_limit"
    assert _rate(refused) == ("50", "0")


def test_keys_sessions_and_the_webhook_share_the_workflows_teams_count(
        owner: User, team: Team, api: ApiClient) -> None:
    workflow_id = _workflow_id(owner, team)
    hook = _webhook_url(owner, workflow_id)
    team_create_and_switch(user=owner, name="Elsewhere")
    browser = _browser(owner)
    for _ in range(3):
        assert _execute(api, workflow_id).status_code == 201
        assert _start_in_the_browser(browser, workflow_id, "execute").status_code == 201
        assert Client().post(hook, {}, content_type="application/json").status_code == 202
    assert _start_in_the_browser(browser, workflow_id, "run").status_code == 202
    assert _execute(api, workflow_id).json()["code"] == "rate_limited"


def test_a_session_execute_of_no_workflow_charges_no_team(owner: User, team: Team,
                                                          api: ApiClient) -> None:
    missing = _start_in_the_browser(_browser(owner), str(uuid.uuid4()), "execute")
    assert missing.status_code == 404
    assert _rate(missing)[0] == "600"  # the person's editor allowance, not a team's
    started = _execute(api, _workflow_id(owner, team))
    assert _rate(started) == ("10", "9")


# --- Exact under concurrency, through a live server ----------------------------------------------

@pytest.mark.django_db(transaction=True)
def test_two_hundred_parallel_requests_on_the_free_plan_admit_exactly_ten(
        live_site: str, owner: User, api_for: Callable[..., ApiClient]) -> None:
    headers = {"Authorization": f"Bearer {api_for(owner).secret}"}

    def call(_: int) -> int:
        with httpx.Client(base_url=live_site, timeout=30) as client:
            return client.get("/api/v1/workflows", headers=headers).status_code

    with ThreadPoolExecutor(max_workers=50) as pool:
        statuses = Counter(pool.map(call, range(200)))
    assert statuses == {200: 10, 429: 190}


# --- manage.py setplan -------------------------------------------------------------------------

def _setplan(*args: str) -> str:
    return command_output("setplan", *args)


def test_setplan_moves_a_team_named_by_its_slug(team: Team) -> None:
    output = _setplan(team.slug, "pro")
    team.refresh_from_db()
    assert team.plan == "pro"
    assert f"({team.slug}) is now on the pro plan (was free)" in output


def test_setplan_finds_the_team_by_its_owners_email_in_any_case(team: Team) -> None:
    _setplan("OWNER@example.com", "Starter")
    team.refresh_from_db()
    assert team.plan == "starter"


@pytest.mark.parametrize(("args", "message"), [
    (("no-such-team", "pro"), "No team with the slug “no-such-team”."),
    (("nobody@example.com", "pro"), "No team is owned by nobody@example.com."),
])
def test_setplan_refuses_a_team_it_cannot_find(team: Team, args: tuple[str, ...],
                                               message: str) -> None:
    with pytest.raises(CommandError, match=re.escape(message)):
        _setplan(*args)


def test_setplan_refuses_an_unknown_plan_and_lists_the_plans(team: Team) -> None:
    with pytest.raises(CommandError, match=re.escape(
            "Unknown plan “gold”. Plans: free, starter, pro, enterprise.")):
        _setplan(team.slug, "gold")
    team.refresh_from_db()
    assert team.plan == "free"


def test_setplan_asks_for_a_slug_when_the_owner_has_several_teams(owner: User,
                                                                  team: Team) -> None:
    second = team_create(owner=owner, name="Side project")
    with pytest.raises(CommandError, match=f"owns several teams .*{second.slug}.*name one"):
        _setplan("owner@example.com", "pro")


def test_setplan_ignores_teams_the_person_only_belongs_to(owner: User, team: Team,
                                                          make_user: Callable[..., User]) -> None:
    other = make_user("other@example.com")
    assert other.current_team is not None
    Membership.objects.create(team=team, user=other, role=Role.ADMIN)
    _setplan("other@example.com", "pro")
    other.current_team.refresh_from_db()
    team.refresh_from_db()
    assert (other.current_team.plan, team.plan) == ("pro", "free")

"""Credits through the full API and the operator's command: the 402 on execute, the estimate,
the usage report, grantcredits, and the ledger's arithmetic (reserve, charge, release)."""

import importlib
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from io import StringIO
from itertools import accumulate
from typing import Any

import pytest
from django.apps import apps
from django.core.management import CommandError, call_command
from django.db import IntegrityError, connection, connections, transaction
from django.db.models import Sum
from django.test import Client
from django.test.utils import CaptureQueriesContext

from accounts.credits import (
    LineItem,
    credit_balance,
    credits_adjust,
    credits_charge_node,
    credits_charge_nodes,
    credits_cover_node,
    credits_grant,
    credits_release_execution,
    reservation_outstanding,
    team_usage,
)
from accounts.models import CreditAccount, CreditEntry, CreditKind, Plan, Team, User
from accounts.scopes import USAGE_READ, WORKFLOWS_EXECUTE, WORKFLOWS_READ
from accounts.services import team_create
from executions.models import Execution, NodeRun
from tests.builders import edge, node
from tests.conftest import ApiClient
from tests.engine.helpers import create_workflow
from tests.harness import command_output
from workflows.models import Workflow

pytestmark = pytest.mark.django_db

MISSING_ID = "00000000-0000-4000-8000-000000000000"


@pytest.fixture(autouse=True)
def _no_signup_credits(settings: Any) -> None:
    """Autouse fixtures run first, so the personas' teams start at zero and each test funds
    its team with exactly what it needs."""
    settings.SIGNUP_CREDITS = 0


def fund(team: Team, amount: str) -> None:
    credits_grant(team, amount, note="test")


def seed_pipeline(**upscale: Any) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Prompt -> Nano Banana Pro (20 a run) -> Crystal upscaler (estimated 5 x 4 MP = 20)."""
    nodes = [node("prompt", "input:text", "Prompt", text="a red fox"),
             node("gen", "generate:nano_banana_pro", "Generate"),
             node("up", "upscale:crystal_upscaler", "Upscale", **upscale)]
    edges = [edge("prompt", "text", "gen", "prompt"), edge("gen", "image", "up", "image_url")]
    return nodes, edges


def seed_workflow(api: ApiClient) -> str:
    return create_workflow(api, *seed_pipeline())


SEED_BREAKDOWN = [
    {"nodeId": "gen", "nodeLabel": "Generate", "nodeType": "generate:nano_banana_pro",
     "credits": 20, "billedBy": "platform"},
    {"nodeId": "up", "nodeLabel": "Upscale", "nodeType": "upscale:crystal_upscaler",
     "credits": 20, "billedBy": "platform"},
]


def ledger(team: Team) -> list[tuple[str, Decimal, str]]:
    return [(e.kind, e.amount, e.node_id)
            for e in CreditEntry.objects.filter(team=team).order_by("pk")]


def ledger_sum(team: Team) -> Decimal:
    return CreditEntry.objects.filter(team=team).aggregate(s=Sum("amount"))["s"] or Decimal(0)


def running_balances(team: Team) -> list[Decimal]:
    """The balance after each entry in the order written (each write holds the team's lock)."""
    return list(accumulate(CreditEntry.objects.filter(team=team).order_by("pk")
                           .values_list("amount", flat=True)))


def start(api: ApiClient, workflow_id: str, body: dict[str, Any] | None = None) -> Execution:
    response = api.post(f"/workflows/{workflow_id}/execute", body or {})
    assert response.status_code == 201, response.content
    return Execution.objects.get(pk=response.json()["executionId"])


# --- Sign-up grant ----------------------------------------------------------------------------

def test_a_new_person_starts_with_the_signup_grant(settings: Any,
                                                   make_user: Callable[..., User]) -> None:
    settings.SIGNUP_CREDITS = 500
    person = make_user("new@example.com")
    team = person.current_team
    assert team is not None
    assert credit_balance(team.pk) == 500
    assert ledger(team) == [("grant", Decimal("500.0000"), "")]


def test_more_teams_do_not_mint_more_credits(settings: Any, owner: User) -> None:
    settings.SIGNUP_CREDITS = 500
    side = team_create(owner=owner, name="Side project")
    assert credit_balance(side.pk) == 0


def test_the_demo_account_from_seed_has_credits(settings: Any) -> None:
    settings.SIGNUP_CREDITS = 500
    call_command("seed", stdout=StringIO())
    demo = User.objects.get(email="demo@wireflow.local")
    assert demo.current_team is not None
    assert credit_balance(demo.current_team.pk) == 500


def test_teams_from_before_credits_get_the_grant_when_migrating(settings: Any,
                                                                team: Team) -> None:
    settings.SIGNUP_CREDITS = 300
    migration = importlib.import_module("accounts.migrations.0002_credit_ledger")
    migration.grant_existing_teams(apps, None)
    assert credit_balance(team.pk) == 300


# --- 402 on execute -------------------------------------------------------------------------

def test_execute_without_enough_credits_is_402_with_the_exact_body(api: ApiClient,
                                                                   team: Team) -> None:
    workflow_id = seed_workflow(api)
    fund(team, "25")
    response = api.post(f"/workflows/{workflow_id}/execute", {})
    assert response.status_code == 402
    assert response.json() == {
        "error": "Insufficient credits. Required: 40, Available: 25",
        "code": "insufficient_credits", "insufficientCredits": True,
        "requiredCredits": 40, "availableCredits": 25, "breakdown": SEED_BREAKDOWN}


def test_a_402_creates_nothing(api: ApiClient, team: Team) -> None:
    workflow_id = seed_workflow(api)
    fund(team, "39.9999")
    assert api.post(f"/workflows/{workflow_id}/execute", {}).status_code == 402
    assert Execution.objects.count() == 0
    assert NodeRun.objects.count() == 0
    assert ledger(team) == [("grant", Decimal("39.9999"), "")]
    assert Workflow.objects.get(pk=workflow_id).execution_count == 0


def test_the_402_message_shows_fractions_without_trailing_zeros(api: ApiClient,
                                                                team: Team) -> None:
    workflow_id = seed_workflow(api)
    fund(team, "12.5")
    body = api.post(f"/workflows/{workflow_id}/execute", {}).json()
    assert body["error"] == "Insufficient credits. Required: 40, Available: 12.5"
    assert body["availableCredits"] == 12.5


def test_a_team_with_no_credits_at_all_is_told_it_has_zero(api: ApiClient) -> None:
    body = api.post(f"/workflows/{seed_workflow(api)}/execute", {}).json()
    assert body["error"] == "Insufficient credits. Required: 40, Available: 0"
    assert body["availableCredits"] == 0


def test_exactly_enough_credits_starts_and_reserves_the_estimate(api: ApiClient,
                                                                 team: Team) -> None:
    workflow_id = seed_workflow(api)
    fund(team, "40")
    execution = start(api, workflow_id)
    assert credit_balance(team.pk) == 0
    assert ledger(team)[-1] == ("reserve", Decimal("-40.0000"), "")
    assert CreditEntry.objects.get(kind=CreditKind.RESERVE).execution_id == execution.pk


def test_a_reservation_checks_and_debits_the_balance_in_one_statement(api: ApiClient,
                                                                     team: Team) -> None:
    # The team's lock is held from the debit to the commit: nothing reads under it first, no
    # savepoint adds round trips while concurrent executes of the team queue behind it.
    workflow_id = seed_workflow(api)
    fund(team, "100")
    with CaptureQueriesContext(connection) as queries:
        execution = start(api, workflow_id)
    statements = [query["sql"] for query in queries.captured_queries]
    account = [sql for sql in statements if '"accounts_creditaccount"' in sql]
    assert not [sql for sql in statements if "FOR UPDATE" in sql], statements
    if connection.vendor == "postgresql":
        # The debit, its ledger entry (only if the debit took place), the execution and its
        # node runs: one statement, and no savepoint around it.
        assert len(account) == 1 and account[0].startswith(
            'WITH debit AS (UPDATE "accounts_creditaccount"'), account
        for table in ("accounts_creditentry", "executions_execution", "executions_noderun"):
            assert f'INSERT INTO "{table}"' in account[0], (table, account)
            assert not [sql for sql in statements if sql.startswith(f'INSERT INTO "{table}"')]
        assert not [sql for sql in statements if sql.startswith("SAVEPOINT")], statements
    else:
        assert len(account) == 1 and account[0].startswith('UPDATE "accounts_creditaccount"')
        # execute's own transaction is a savepoint here, inside the test's: only that one.
        assert len([sql for sql in statements if sql.startswith("SAVEPOINT")]) == 1, statements
    assert credit_balance(team.pk) == 60 == ledger_sum(team)
    assert ledger(team)[-1] == ("reserve", Decimal("-40.0000"), "")
    assert CreditEntry.objects.get(kind=CreditKind.RESERVE).execution_id == execution.pk


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("priced", [True, False], ids=["priced", "free"])
def test_an_execute_writes_in_one_statement_outside_a_transaction(
        api: ApiClient, team: Team, priced: bool) -> None:
    """No transaction around an execute's writes (as in production, where none is open): on
    PostgreSQL the execution, its node runs, the reservation and the workflow's count are one
    statement that commits on its own; refused for too few credits, it writes none of them."""
    nodes, edges = seed_pipeline() if priced else (
        [node("t", "input:text", text="hi"), node("o", "output:result")],
        [edge("t", "text", "o", "value")])
    workflow_id = create_workflow(api, nodes, edges)
    fund(team, "39" if priced else "1")  # one short of the priced run's 40
    if priced:
        with CaptureQueriesContext(connection) as queries:
            refused = api.post(f"/workflows/{workflow_id}/execute", {})
        assert refused.status_code == 402, refused.json()
        assert not Execution.objects.exists() and not NodeRun.objects.exists()
        assert Workflow.objects.get(pk=workflow_id).execution_count == 0
        assert credit_balance(team.pk) == 39 == ledger_sum(team)
        if connection.vendor == "postgresql":  # decided again under the account's lock
            assert [sql for sql in (q["sql"] for q in queries.captured_queries)
                    if "FOR UPDATE" in sql], "the refusal was not decided under the lock"
        fund(team, "1")
    with CaptureQueriesContext(connection) as queries:
        execution = start(api, workflow_id)
    statements = [query["sql"] for query in queries.captured_queries]
    writes = [sql for sql in statements if not sql.startswith("SELECT")]
    if connection.vendor == "postgresql":
        assert len(writes) == 1, writes
        assert 'UPDATE "workflows_workflow"' in writes[0]
        assert ('"accounts_creditentry"' in writes[0]) is priced
        assert not [sql for sql in statements
                    if sql.startswith(("BEGIN", "COMMIT", "SAVEPOINT"))], statements
    stored = Execution.objects.get()
    assert stored.pk == execution.pk and stored.status == "RUNNING"
    assert sorted(NodeRun.objects.filter(execution=stored).values_list("node_id", flat=True)) \
        == sorted(n["id"] for n in nodes)
    counted = Workflow.objects.get(pk=workflow_id)
    assert counted.execution_count == 1 and counted.last_executed_at == stored.started_at
    assert credit_balance(team.pk) == (0 if priced else 1) == ledger_sum(team)
    assert CreditEntry.objects.filter(kind=CreditKind.RESERVE,
                                      execution_id=stored.pk).count() == (1 if priced else 0)


def test_a_team_without_an_account_row_is_refused_then_funded_and_started(
        api: ApiClient, team: Team) -> None:
    CreditAccount.objects.filter(team=team).delete()
    workflow_id = seed_workflow(api)
    refused = api.post(f"/workflows/{workflow_id}/execute", {})
    assert refused.status_code == 402 and refused.json()["availableCredits"] == 0
    assert not CreditEntry.objects.filter(team=team).exists()
    fund(team, "40")  # the first write creates the account under its lock
    start(api, workflow_id)
    assert credit_balance(team.pk) == 0 == ledger_sum(team)


def test_the_estimate_counts_the_params_that_set_the_price(api: ApiClient) -> None:
    nodes = [node("gen", "generate:flux_2", "Four", prompt="x", num_images=4)]
    workflow_id = create_workflow(api, nodes, [])
    body = api.post(f"/workflows/{workflow_id}/execute", {}).json()
    assert body["requiredCredits"] == 12  # 3 credits an image


def test_a_run_to_a_target_node_needs_only_its_upstream_credits(api: ApiClient,
                                                                team: Team) -> None:
    workflow_id = seed_workflow(api)
    fund(team, "25")
    start(api, workflow_id, {"targetNodeId": "gen"})
    assert credit_balance(team.pk) == 5


def test_a_graph_override_is_priced_not_the_saved_graph(api: ApiClient, team: Team) -> None:
    workflow_id = seed_workflow(api)
    nodes = [node("gen", "generate:flux_2", "Cheap", prompt="x")]
    fund(team, "3")
    start(api, workflow_id, {"nodes": nodes, "edges": []})
    assert credit_balance(team.pk) == 0


def test_a_free_workflow_runs_with_no_credits_and_writes_no_ledger_entry(api: ApiClient,
                                                                         team: Team) -> None:
    nodes = [node("t", "input:text", text="hi"), node("out", "output:result")]
    workflow_id = create_workflow(api, nodes, [edge("t", "text", "out", "value")])
    start(api, workflow_id)
    assert ledger(team) == []


def test_an_invalid_graph_is_422_before_credits_are_looked_at(api: ApiClient) -> None:
    workflow_id = seed_workflow(api)
    response = api.post(f"/workflows/{workflow_id}/execute", {"nodes": [], "edges": []})
    assert response.status_code == 422


# --- POST /workflows/{id}/estimate ------------------------------------------------------------

def test_the_estimate_prices_the_saved_graph(api: ApiClient, team: Team) -> None:
    workflow_id = seed_workflow(api)
    fund(team, "25")
    response = api.post(f"/workflows/{workflow_id}/estimate", {})
    assert response.status_code == 200
    assert response.json() == {"workflowId": workflow_id, "estimatedCredits": 40,
                               "availableCredits": 25, "sufficient": False,
                               # billedBy: "team" when a node runs on the team's own key
                               "breakdown": SEED_BREAKDOWN}


def test_the_estimate_needs_no_body(api: ApiClient) -> None:
    response = api.post(f"/workflows/{seed_workflow(api)}/estimate", raw="")
    assert response.status_code == 200
    assert response.json()["estimatedCredits"] == 40


def test_the_estimate_writes_nothing(api: ApiClient, team: Team) -> None:
    fund(team, "100")
    body = api.post(f"/workflows/{seed_workflow(api)}/estimate", {}).json()
    assert body["sufficient"] is True
    assert Execution.objects.count() == 0
    assert len(ledger(team)) == 1


def test_the_estimate_takes_the_execute_body(api: ApiClient, team: Team) -> None:
    workflow_id = seed_workflow(api)
    nodes, edges = seed_pipeline(scale_factor=3)  # 9 MP out: 45 credits
    body = api.post(f"/workflows/{workflow_id}/estimate",
                    {"nodes": nodes, "edges": edges, "inputs": {"Prompt": "a cat"}}).json()
    assert body["estimatedCredits"] == 65
    target = api.post(f"/workflows/{workflow_id}/estimate", {"targetNodeId": "gen"}).json()
    assert target["estimatedCredits"] == 20
    assert [item["nodeId"] for item in target["breakdown"]] == ["gen"]


def test_a_fractional_estimate_is_a_decimal_number(api: ApiClient) -> None:
    nodes, edges = seed_pipeline(scale_factor=1.5)  # 2.25 MP out: 11.25 credits
    body = api.post(f"/workflows/{create_workflow(api, nodes, edges)}/estimate", {}).json()
    assert body["estimatedCredits"] == 31.25
    assert body["breakdown"][1]["credits"] == 11.25


def test_the_estimate_of_a_free_workflow_is_zero_and_sufficient(api: ApiClient) -> None:
    workflow_id = create_workflow(api, [node("t", "input:text", text="hi")], [])
    body = api.post(f"/workflows/{workflow_id}/estimate", {}).json()
    assert (body["estimatedCredits"], body["sufficient"], body["breakdown"]) == (0, True, [])


def test_the_estimate_validates_like_execute(api: ApiClient) -> None:
    workflow_id = seed_workflow(api)
    bad_graph = api.post(f"/workflows/{workflow_id}/estimate", {"nodes": [], "edges": []})
    assert (bad_graph.status_code, bad_graph.json()["code"]) == (422, "invalid_graph")
    bad_target = api.post(f"/workflows/{workflow_id}/estimate", {"targetNodeId": "nope"})
    assert (bad_target.status_code, bad_target.json()["code"]) == (400, "invalid_request")
    bad_type = api.post(f"/workflows/{workflow_id}/estimate", {"nodes": "many"})
    assert (bad_type.status_code, bad_type.json()["code"]) == (400, "invalid_request")


def test_a_stranger_cannot_estimate_a_workflow(api: ApiClient, stranger: User,
                                               api_for: Callable[..., ApiClient]) -> None:
    workflow_id = seed_workflow(api)
    response = api_for(stranger).post(f"/workflows/{workflow_id}/estimate", {})
    assert response.status_code == 404
    assert response.json() == {"error": "Workflow not found", "code": "not_found"}
    missing = api.post(f"/workflows/{MISSING_ID}/estimate", {})
    assert missing.status_code == 404


def test_the_estimate_needs_workflows_read(api: ApiClient, owner: User,
                                           api_for: Callable[..., ApiClient]) -> None:
    workflow_id = seed_workflow(api)
    reader = api_for(owner, scopes=[WORKFLOWS_READ])
    assert reader.post(f"/workflows/{workflow_id}/estimate", {}).status_code == 200
    runner = api_for(owner, scopes=[WORKFLOWS_EXECUTE])
    response = runner.post(f"/workflows/{workflow_id}/estimate", {})
    assert response.status_code == 403
    assert response.json()["error"] == "Forbidden: missing scope workflows:read"


def test_a_teammate_sees_the_teams_credits_in_the_estimate(api: ApiClient, team: Team,
                                                           teammate: User,
                                                           api_for: Callable[..., ApiClient]
                                                           ) -> None:
    workflow_id = seed_workflow(api)
    fund(team, "77")
    body = api_for(teammate).post(f"/workflows/{workflow_id}/estimate", {}).json()
    assert body["availableCredits"] == 77


# --- GET /developer/usage --------------------------------------------------------------------

def test_usage_reports_the_plan_balance_and_limits(api: ApiClient, team: Team) -> None:
    fund(team, "500")
    response = api.get("/developer/usage")
    assert response.status_code == 200
    assert response.json() == {"plan": "free", "creditBalance": 500, "creditsUsedToday": 0,
                               "creditsUsedThisMonth": 0, "executionsToday": 0,
                               "dailyExecutionLimit": 50, "rateLimitPerMinute": 10}


def test_usage_counts_charges_and_executions(api: ApiClient, team: Team) -> None:
    fund(team, "100")
    execution = start(api, seed_workflow(api))
    credits_charge_node(team.pk, execution.pk, "gen", 20)
    credits_charge_node(team.pk, execution.pk, "up", 5.2429)
    body = api.get("/developer/usage").json()
    assert body["creditsUsedToday"] == body["creditsUsedThisMonth"] == 25.2429
    assert body["executionsToday"] == 1
    assert body["creditBalance"] == 60  # 40 still reserved until the execution ends
    credits_release_execution(team.pk, execution.pk)
    assert api.get("/developer/usage").json()["creditBalance"] == 74.7571


def test_an_enterprise_team_has_no_daily_execution_limit(api: ApiClient, team: Team) -> None:
    Team.objects.filter(pk=team.pk).update(plan=Plan.ENTERPRISE)
    body = api.get("/developer/usage").json()
    assert (body["plan"], body["dailyExecutionLimit"], body["rateLimitPerMinute"]) == (
        "enterprise", None, 200)


def test_usage_days_and_months_are_utc_calendar_periods(team: Team) -> None:
    now = datetime(2026, 3, 15, 12, 0, tzinfo=UTC)
    charges = {now - timedelta(hours=1): -3, datetime(2026, 3, 15, tzinfo=UTC): -4,
               datetime(2026, 3, 14, 23, 59, tzinfo=UTC): -10,
               datetime(2026, 2, 28, 23, 59, tzinfo=UTC): -100}
    for moment, amount in charges.items():
        CreditEntry.objects.create(team=team, kind=CreditKind.CHARGE, amount=amount,
                                   created_at=moment)
    usage = team_usage(team, now=now)
    assert usage.used_today == 7
    assert usage.used_this_month == 17


def test_usage_counts_only_the_callers_team(api: ApiClient, team: Team, stranger: User,
                                            api_for: Callable[..., ApiClient]) -> None:
    fund(team, "100")
    start(api, seed_workflow(api))
    body = api_for(stranger).get("/developer/usage").json()
    assert (body["creditBalance"], body["executionsToday"]) == (0, 0)


def test_usage_needs_usage_read(owner: User, api_for: Callable[..., ApiClient]) -> None:
    assert api_for(owner, scopes=[USAGE_READ]).get("/developer/usage").status_code == 200
    response = api_for(owner, scopes=[WORKFLOWS_READ]).get("/developer/usage")
    assert response.status_code == 403
    assert response.json()["error"] == "Forbidden: missing scope usage:read"


def test_usage_without_a_key_is_401() -> None:
    response = ApiClient(None).get("/developer/usage")
    assert response.status_code == 401
    assert response.json()["code"] == "missing_authorization"


# --- manage.py grantcredits -------------------------------------------------------------------

def grantcredits(*args: str) -> str:
    return command_output("grantcredits", *args)


def test_grantcredits_adds_credits_by_team_slug(team: Team) -> None:
    output = grantcredits(team.slug, "250")
    assert credit_balance(team.pk) == 250
    assert f"Granted 250 credits for team {team.name} ({team.slug})" in output
    assert "the balance is now 250" in output
    assert ledger(team) == [("grant", Decimal("250.0000"), "")]


def test_grantcredits_finds_the_team_by_its_owners_email(team: Team, owner: User) -> None:
    grantcredits(owner.email.upper(), "12.5", "--note", "support ticket 42")
    assert credit_balance(team.pk) == Decimal("12.5")
    assert CreditEntry.objects.get(team=team).note == "support ticket 42"


def test_a_negative_amount_is_an_adjustment_that_never_goes_below_zero(team: Team) -> None:
    fund(team, "100")
    output = grantcredits(team.slug, "-30")
    assert "Took back 30 credits" in output and "the balance is now 70" in output
    assert ledger(team)[-1] == ("adjustment", Decimal("-30.0000"), "")
    with pytest.raises(CommandError, match="would leave it below zero"):
        grantcredits(team.slug, "-70.0001")
    assert credit_balance(team.pk) == 70


@pytest.mark.parametrize("amount", ["0", "abc", "NaN", "1e400", "0.00001", "100000000"])
def test_grantcredits_refuses_amounts_that_are_not_credits(team: Team, amount: str) -> None:
    with pytest.raises(CommandError):
        grantcredits(team.slug, amount)
    assert ledger(team) == []


def test_grantcredits_refuses_an_unknown_team(db: None) -> None:
    with pytest.raises(CommandError, match="No team"):
        grantcredits("no-such-team", "10")
    with pytest.raises(CommandError, match="No team is owned"):
        grantcredits("nobody@example.com", "10")


# --- The ledger's arithmetic ------------------------------------------------------------------

def test_a_node_charge_moves_credits_from_the_reservation(api: ApiClient, team: Team) -> None:
    fund(team, "50")
    execution = start(api, seed_workflow(api))
    assert credits_charge_node(team.pk, execution.pk, "gen", 20) == 20
    assert credits_charge_node(team.pk, execution.pk, "up", 5.2429) == Decimal("5.2429")
    assert credit_balance(team.pk) == 10  # charges came out of the reservation
    assert credits_release_execution(team.pk, execution.pk) == Decimal("14.7571")
    assert credit_balance(team.pk) == Decimal("24.7571") == 50 - Decimal("25.2429")
    assert ledger(team)[1:] == [
        ("reserve", Decimal("-40.0000"), ""),
        ("release", Decimal("20.0000"), "gen"), ("charge", Decimal("-20.0000"), "gen"),
        ("release", Decimal("5.2429"), "up"), ("charge", Decimal("-5.2429"), "up"),
        ("release", Decimal("14.7571"), "")]


def test_an_overrun_is_taken_from_what_is_available(api: ApiClient, team: Team) -> None:
    fund(team, "45")
    execution = start(api, seed_workflow(api))
    credits_charge_node(team.pk, execution.pk, "gen", 20)
    assert credits_charge_node(team.pk, execution.pk, "up", 23) == 23  # 3 over its estimate
    assert credits_release_execution(team.pk, execution.pk) == 0
    assert credit_balance(team.pk) == 2


def test_an_overrun_beyond_the_balance_is_capped_and_noted(api: ApiClient, team: Team) -> None:
    fund(team, "40")
    execution = start(api, seed_workflow(api))
    credits_charge_node(team.pk, execution.pk, "gen", 20)
    assert credits_charge_node(team.pk, execution.pk, "up", 25) == 20
    assert credit_balance(team.pk) == 0
    capped = CreditEntry.objects.get(kind=CreditKind.CHARGE, node_id="up")
    assert capped.amount == -20 and "capped: cost 25" in capped.note
    assert min(running_balances(team)) == 0


@pytest.mark.parametrize(("funds", "costs", "account_locks"), [
    ("50", [("gen", 20), ("up", 5.2429)], 0),  # out of the reservation: the balance stays
    ("45", [("gen", 20), ("up", 23)], 1),  # an overrun taken from what is available
    ("40", [("gen", 25), ("up", 25)], 1),  # overruns beyond the balance: the second is capped
    ("40", [("gen", 0), ("up", 17)], 0),  # a free node among them
])
def test_nodes_charged_together_cost_what_they_cost_one_by_one(
        api: ApiClient, team: Team, funds: str, costs: list[tuple[str, float]],
        account_locks: int) -> None:
    # The engine charges the nodes one pass completed in one go: at most one lock of the
    # team's account (only when the balance moves), one read of the reservation, one insert.
    # Its arithmetic is that of charging them in turn.
    def charged(together: bool) -> tuple[dict[str, Decimal], list[Any], Decimal]:
        short = Decimal(funds) - credit_balance(team.pk)
        if short:
            credits_adjust(team, short)  # each way starts from the same balance
        execution = start(api, seed_workflow(api))
        if together:
            with CaptureQueriesContext(connection) as queries:
                each = credits_charge_nodes(team.pk, execution.pk, costs)
            locks = [q["sql"] for q in queries.captured_queries if "FOR UPDATE" in q["sql"]]
            assert len(locks) == account_locks, locks
        else:
            each = {node_id: credits_charge_node(team.pk, execution.pk, node_id, cost)
                    for node_id, cost in costs}
        credits_release_execution(team.pk, execution.pk)
        entries = list(CreditEntry.objects.filter(execution_id=execution.pk).order_by("pk")
                       .values_list("kind", "amount", "node_id", "note"))
        return each, entries, credit_balance(team.pk)

    assert charged(together=True) == charged(together=False)


def _in_a_thread(work: Callable[[], Any]) -> tuple[threading.Thread, list[Any]]:
    """`work` started on a thread of its own (its own database connection, closed at its
    end); its result, or what it raised, lands in the list."""
    out: list[Any] = []

    def run() -> None:
        try:
            out.append(work())
        except BaseException as exc:  # noqa: BLE001 - handed to the test to raise
            out.append(exc)
        finally:
            connections.close_all()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, out


def _result(thread: threading.Thread, out: list[Any]) -> Any:
    thread.join(timeout=30)
    assert not thread.is_alive() and out, "the thread did not finish"
    if isinstance(out[0], BaseException):
        raise out[0]
    return out[0]


def _waiting_on_a_lock(kind: str) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_locks WHERE NOT granted AND locktype = %s",
                       [kind])
        (waiting,), = cursor.fetchall()
    return bool(waiting)


def _wait_for(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + 20
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.01)


@contextmanager
def _held_open(work: Callable[[], Any]) -> Iterator[list[Any]]:
    """`work()` in a transaction of its own on a thread of its own, left open (its locks held,
    its writes not committed) for the with block, then committed; its result lands in the
    list given once the block ends."""
    done, commit = threading.Event(), threading.Event()

    def hold() -> Any:
        try:
            with transaction.atomic():
                result = work()
                done.set()
                commit.wait(30)
            return result
        finally:
            done.set()

    thread, out = _in_a_thread(hold)
    got: list[Any] = []
    try:
        assert done.wait(30)
        yield got
    finally:
        commit.set()
        got.append(_result(thread, out))


@pytest.mark.django_db(transaction=True)
def test_a_charge_out_of_the_reservation_does_not_queue_behind_the_teams_account(
        api: ApiClient, team: Team) -> None:
    # The team's other executions (their execute's reservation, an overrun's charge) hold its
    # account row; a charge its own reservation covers moves no balance and does not wait.
    fund(team, "100")
    execution = start(api, seed_workflow(api))
    with (_held_open(lambda: CreditAccount.objects.select_for_update().get(team=team)),
          transaction.atomic()):
        with connection.cursor() as cursor:  # a wait would fail, not hang
            cursor.execute("SET LOCAL lock_timeout = '5s'")
        charged = credits_charge_nodes(team.pk, execution.pk, [("gen", 20)])
    assert charged == {"gen": Decimal(20)}
    assert reservation_outstanding(execution.pk) == 20
    assert credit_balance(team.pk) == 60 == ledger_sum(team)


@pytest.mark.django_db(transaction=True)
def test_a_charge_waits_for_a_release_of_its_execution_and_is_then_taken_from_the_balance(
        api: ApiClient, team: Team) -> None:
    # Without the account's lock a charge reads the reservation unlocked: a release of the same
    # execution committing meanwhile (a workflow deleted mid-run gives back what its runs
    # hold) would leave the node charged out of credits already given back, free of charge.
    # The charge waits for it instead, then finds nothing reserved and pays from the balance.
    fund(team, "100")
    execution = start(api, seed_workflow(api))
    with _held_open(lambda: credits_release_execution(team.pk, execution.pk)) as released:
        charger = _in_a_thread(lambda: credits_charge_nodes(team.pk, execution.pk,
                                                            [("gen", 20)]))
        _wait_for(lambda: _waiting_on_a_lock("advisory"), "the charge to wait for the release")
    assert released == [40]
    assert _result(*charger) == {"gen": Decimal(20)}
    assert ledger(team)[1:] == [("reserve", Decimal("-40.0000"), ""),
                                ("release", Decimal("40.0000"), ""),
                                ("charge", Decimal("-20.0000"), "gen")]
    assert credit_balance(team.pk) == 80 == ledger_sum(team)


@pytest.mark.parametrize("write", ["charge", "cover", "release"])
def test_every_write_locks_the_executions_reservation_before_the_teams_account(
        api: ApiClient, team: Team, write: str) -> None:
    # One order everywhere, so that two writers of one execution cannot deadlock: a recording
    # transaction may cover one node and charge another, while a release of the same
    # execution runs elsewhere.
    fund(team, "100")
    execution = start(api, seed_workflow(api))
    with CaptureQueriesContext(connection) as queries, transaction.atomic():
        if write == "charge":  # an overrun: the balance moves
            credits_charge_nodes(team.pk, execution.pk, [("gen", 50)])
        elif write == "cover":  # a bound over the node's estimate
            credits_cover_node(team.pk, execution.pk, LineItem("gen", "Generate", "generate",
                                                               Decimal(20)), 30)
        else:
            credits_release_execution(team.pk, execution.pk)
    sql = [q["sql"] for q in queries.captured_queries]
    reservation = [i for i, text in enumerate(sql) if "pg_advisory_xact_lock" in text]
    account = [i for i, text in enumerate(sql) if "FOR UPDATE" in text]
    assert reservation and account and reservation[0] < account[0], sql
    assert credit_balance(team.pk) == ledger_sum(team)


def test_a_node_can_never_be_charged_twice(api: ApiClient, team: Team) -> None:
    fund(team, "100")
    execution = start(api, seed_workflow(api))
    credits_charge_node(team.pk, execution.pk, "gen", 20)
    # It writes in its caller's transaction (the engine's recording step): a caller that goes
    # on after a refusal rolls back to a savepoint of its own.
    with pytest.raises(IntegrityError), transaction.atomic():
        credits_charge_node(team.pk, execution.pk, "gen", 20)
    assert CreditEntry.objects.filter(kind=CreditKind.CHARGE).count() == 1


def test_an_execution_is_released_once(api: ApiClient, team: Team) -> None:
    fund(team, "100")
    execution = start(api, seed_workflow(api))
    assert credits_release_execution(team.pk, execution.pk) == 40
    assert credits_release_execution(team.pk, execution.pk) == 0
    assert credit_balance(team.pk) == 100


def test_deleting_a_workflow_keeps_the_ledger_and_the_balance(api: ApiClient,
                                                              team: Team) -> None:
    fund(team, "100")
    workflow_id = seed_workflow(api)
    execution = start(api, workflow_id)
    credits_charge_node(team.pk, execution.pk, "gen", 20)
    credits_release_execution(team.pk, execution.pk)
    assert api.delete(f"/workflows/{workflow_id}").status_code == 204
    assert credit_balance(team.pk) == 80 == ledger_sum(team)  # nothing was left to release
    assert CreditEntry.objects.filter(team=team).count() == 5


def test_an_adjustment_cannot_take_the_balance_below_zero(team: Team) -> None:
    fund(team, "10")
    credits_adjust(team, "-10")
    assert credit_balance(team.pk) == 0
    with pytest.raises(Exception, match="below zero"):
        credits_adjust(team, "-0.0001")


def test_the_database_refuses_a_negative_balance(team: Team) -> None:
    fund(team, "10")
    with pytest.raises(IntegrityError), transaction.atomic():
        CreditAccount.objects.filter(team=team).update(balance=-1)
    assert credit_balance(team.pk) == 10


def test_the_balance_is_always_the_sum_of_the_ledger(api: ApiClient, team: Team) -> None:
    fund(team, "100")
    workflow_id = seed_workflow(api)
    for _ in range(2):
        execution = start(api, workflow_id)
        credits_charge_node(team.pk, execution.pk, "gen", 20)
        credits_release_execution(team.pk, execution.pk)
    assert credit_balance(team.pk) == ledger_sum(team) == 60
    assert api.get("/developer/usage").json()["creditBalance"] == 60


def test_the_openapi_document_declares_the_402_and_the_credit_endpoints() -> None:
    paths = Client().get("/api/v1/openapi.json").json()["paths"]
    execute = paths["/api/v1/workflows/{workflow_id}/execute"]["post"]["responses"]
    assert "402" in execute
    assert {"200", "404", "422"} <= set(
        paths["/api/v1/workflows/{workflow_id}/estimate"]["post"]["responses"])
    assert "200" in paths["/api/v1/developer/usage"]["get"]["responses"]


def test_deleting_a_workflow_mid_run_gives_back_its_reservation(
        api: ApiClient, team: Team, django_capture_on_commit_callbacks: Any) -> None:
    fund(team, "100")
    workflow_id = seed_workflow(api)
    execution = start(api, workflow_id)  # no worker here: it stays RUNNING, holding 40
    assert credit_balance(team.pk) == 60
    with django_capture_on_commit_callbacks(execute=True):
        assert api.delete(f"/workflows/{workflow_id}").status_code == 204
    assert not Execution.objects.exists()
    assert credit_balance(team.pk) == 100 == ledger_sum(team)
    assert [kind for kind, _, _ in ledger(team)] == ["grant", "reserve", "release"]
    # The ledger still names the execution it was for.
    assert CreditEntry.objects.filter(execution_id=execution.pk).count() == 2


def test_deleting_a_team_mid_run_deletes_its_ledger(
        api: ApiClient, team: Team, django_capture_on_commit_callbacks: Any) -> None:
    fund(team, "100")
    start(api, seed_workflow(api))
    with django_capture_on_commit_callbacks(execute=True):
        team.delete()
    assert not CreditEntry.objects.exists()
    assert not Execution.objects.exists()


@pytest.mark.parametrize(("funds", "costs"), [
    ("50", [("gen", 20), ("up", 5.2429)]),  # a rest of the reservation to give back
    ("45", [("gen", 20), ("up", 23)]),  # the reservation used up: nothing left to give back
    ("40", [("gen", 25), ("up", 25)]),  # capped: nothing left either
    ("40", [("gen", 0), ("up", 17)]),  # a free node among them
    ("40", [("gen", 0), ("up", 0)]),  # nothing charged: the whole reservation goes back
])
def test_charging_the_last_nodes_and_releasing_the_rest_together_is_the_same_as_in_turn(
        api: ApiClient, team: Team, funds: str, costs: list[tuple[str, float]]) -> None:
    # When a recording transaction completes an execution's last nodes, the engine ends the
    # execution in it too: the charges and the release of the rest, from one read of the
    # reservation. Its entries and balance are those of a charge, then a release.
    def ended(together: bool) -> tuple[dict[str, Decimal], list[Any], Decimal, int]:
        short = Decimal(funds) - credit_balance(team.pk)
        if short:
            credits_adjust(team, short)
        execution = start(api, seed_workflow(api))
        with CaptureQueriesContext(connection) as queries:
            if together:
                each = credits_charge_nodes(team.pk, execution.pk, costs, release_rest=True)
            else:
                each = credits_charge_nodes(team.pk, execution.pk, costs)
                credits_release_execution(team.pk, execution.pk)
        reads = sum("SUM(" in q["sql"] and '"accounts_creditentry"' in q["sql"]
                    for q in queries.captured_queries)
        entries = list(CreditEntry.objects.filter(execution_id=execution.pk).order_by("pk")
                       .values_list("kind", "amount", "node_id", "note"))
        assert reservation_outstanding(execution.pk) == 0
        return each, entries, credit_balance(team.pk), reads

    *together, reads_together = ended(together=True)
    *in_turn, reads_in_turn = ended(together=False)
    assert together == in_turn
    # Nothing charged: no lock was taken for the charges, and the release reads as it would.
    assert reads_together == (1 if any(cost for _, cost in costs) else reads_in_turn)
    assert reads_in_turn >= 2
    assert credit_balance(team.pk) == ledger_sum(team)

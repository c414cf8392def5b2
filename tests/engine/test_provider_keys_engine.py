"""Bring your own key while executions really run (API, Celery worker, fal simulator): a team's
fal key set through the API is the key fal sees, and its nodes cost no credits; without it the
platform's key runs them and they are charged. In production, no key anywhere fails the node."""

from decimal import Decimal
from typing import Any

import pytest

from accounts.credits import credit_balance, credits_grant
from accounts.models import CreditEntry, CreditKind, Team
from executions.models import ExecutionStatus, NodeRun
from executions.providers.fal import platform_key
from executions.simulators.state import key_fingerprint, simulator_stats

from .helpers import create_workflow, execute, node, states, wait_for, wait_until_submitted
from .inprocess import drive

pytestmark = pytest.mark.django_db(transaction=True)

TEAM_KEY = "fal-team-own-key-0123456789-ABCD"


@pytest.fixture(autouse=True)
def _no_signup_credits(settings: Any) -> None:
    settings.SIGNUP_CREDITS = 0


def one_image(prompt: str = "a fox") -> list[dict[str, Any]]:
    return [node("gen", "generate:nano_banana_pro", "Generate", prompt=prompt)]


def test_a_node_runs_on_the_teams_key_for_no_credits(engine: str, api: Any, team: Team) -> None:
    response = api.put("/providers/fal", {"apiKey": TEAM_KEY})
    assert response.status_code == 200, response.content
    # The team has no credits at all: its own key needs none.
    assert credit_balance(team.pk) == 0
    execution_id = execute(api, create_workflow(api, one_image(), []))
    poll = wait_for(api, execution_id)
    assert poll["status"] == "COMPLETED", poll
    assert states(poll)["gen"]["credits"] == 0 and poll["creditsUsed"] == 0
    assert simulator_stats()["byKey"] == {key_fingerprint(TEAM_KEY): 1}
    assert not CreditEntry.objects.filter(team=team, kind=CreditKind.CHARGE).exists()
    assert credit_balance(team.pk) == 0


def test_a_job_on_the_teams_key_is_cancelled_with_that_key(engine: str, api: Any) -> None:
    # The simulator finds a job only with the key that submitted it (as fal does), and
    # records a cancel only for a job it found still going.
    assert api.put("/providers/fal", {"apiKey": TEAM_KEY}).status_code == 200
    nodes = [node("g", "generate:flux_2", prompt="long [sim hang]")]
    execution_id = execute(api, create_workflow(api, nodes, []))
    request_id = wait_until_submitted(api, execution_id, "g")
    assert api.post(f"/workflows/executions/{execution_id}/cancel").status_code == 202
    assert wait_for(api, execution_id)["status"] == "CANCELLED"
    assert simulator_stats()["cancelled"] == [request_id]


def test_a_job_ends_on_the_key_it_was_submitted_on_whatever_the_team_sets_meanwhile(
        engine: str, api: Any, team: Team) -> None:
    # Submitted on the platform's key: its job is in the platform's account, which pays for
    # it. A key the team sets while it runs is for the team's next jobs: this one is still
    # looked up and charged as the platform's.
    credits_grant(team, 100)
    nodes = [node("gen", "generate:nano_banana_pro", "Generate", prompt="a lynx [sim latency=2s]")]
    execution_id = execute(api, create_workflow(api, nodes, []))
    wait_until_submitted(api, execution_id, "gen")
    assert api.put("/providers/fal", {"apiKey": TEAM_KEY}).status_code == 200
    poll = wait_for(api, execution_id)
    assert poll["status"] == "COMPLETED", poll
    assert states(poll)["gen"]["credits"] == 20 and poll["creditsUsed"] == 20
    assert simulator_stats()["byKey"] == {key_fingerprint(platform_key()): 1}
    assert credit_balance(team.pk) == 80


def test_a_job_on_the_teams_key_costs_no_credits_though_the_key_is_removed_while_it_runs(
        engine: str, api: Any, team: Team) -> None:
    # fal bills the team's account for it: charging credits too would make the team pay twice.
    credits_grant(team, 100)
    assert api.put("/providers/fal", {"apiKey": TEAM_KEY}).status_code == 200
    nodes = [node("gen", "generate:nano_banana_pro", "Generate", prompt="a lynx [sim latency=2s]")]
    execution_id = execute(api, create_workflow(api, nodes, []))
    wait_until_submitted(api, execution_id, "gen")
    assert api.delete("/providers/fal").status_code == 204
    poll = wait_for(api, execution_id)
    assert poll["status"] == "COMPLETED", poll
    assert states(poll)["gen"]["credits"] == 0 and poll["creditsUsed"] == 0
    assert simulator_stats()["byKey"] == {key_fingerprint(TEAM_KEY): 1}
    assert not CreditEntry.objects.filter(team=team, kind=CreditKind.CHARGE).exists()
    assert credit_balance(team.pk) == 100


def test_a_platform_job_is_cancelled_with_the_platforms_key_after_the_team_sets_its_own(
        engine: str, api: Any, team: Team) -> None:
    # The simulator finds a job only with the key that submitted it, as fal does.
    credits_grant(team, 100)
    nodes = [node("g", "generate:flux_2", prompt="long [sim hang]")]
    execution_id = execute(api, create_workflow(api, nodes, []))
    request_id = wait_until_submitted(api, execution_id, "g")
    assert api.put("/providers/fal", {"apiKey": TEAM_KEY}).status_code == 200
    assert api.post(f"/workflows/executions/{execution_id}/cancel").status_code == 202
    assert wait_for(api, execution_id)["status"] == "CANCELLED"
    assert simulator_stats()["cancelled"] == [request_id]


def test_without_a_team_key_the_platforms_key_runs_and_is_charged(engine: str, api: Any,
                                                                  team: Team) -> None:
    credits_grant(team, 100)
    execution_id = execute(api, create_workflow(api, one_image("a hare"), []))
    poll = wait_for(api, execution_id)
    assert poll["status"] == "COMPLETED", poll
    assert states(poll)["gen"]["credits"] == 20
    assert simulator_stats()["byKey"] == {key_fingerprint(platform_key()): 1}
    charge = CreditEntry.objects.get(team=team, kind=CreditKind.CHARGE)
    assert (charge.amount, charge.node_id) == (Decimal(-20), "gen")
    assert credit_balance(team.pk) == 80


def test_in_production_a_provider_configured_nowhere_fails_its_nodes(
        api: Any, team: Team, settings: Any, sent: list[str]) -> None:
    settings.SIMULATORS_ENABLED, settings.FAL_KEY = False, ""
    credits_grant(team, 100)
    execution_id = execute(api, create_workflow(api, one_image(), []))
    execution = drive(execution_id)
    assert execution.status == ExecutionStatus.FAILED
    gen = NodeRun.objects.get(execution_id=execution_id, node_id="gen")
    assert gen.error == "no API key for fal: set one in Settings > Providers"
    assert not gen.request_id  # never submitted
    assert credit_balance(team.pk) == 100

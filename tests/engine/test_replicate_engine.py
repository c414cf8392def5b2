"""replicate:custom while executions really run (API, Celery worker, the Replicate simulator):
a prompt reaches a Replicate model through the node's input JSON, the prediction's completion
webhook wakes the node, its streamed tokens come out as text; throttling is retried; a cancel
cancels the prediction; on the team's own key (PUT /providers/replicate) it costs nothing."""

import json
from typing import Any

import pytest

from accounts.credits import credit_balance, credits_grant
from accounts.models import Team
from executions.models import NodeRun
from executions.providers.replicate import platform_token
from executions.simulators import replicate_jobs
from executions.simulators.state import key_fingerprint
from tests.harness import wait_until
from workflows.nodes.replicate import PRICE_PER_RUN

from .helpers import create_workflow, edge, execute, node, states, wait_for, wait_until_submitted

pytestmark = pytest.mark.django_db(transaction=True)

TEAM_KEY = "r8_team-own-replicate-key-0123456789"
MODEL = "meta/meta-llama-3-8b-instruct"


@pytest.fixture(autouse=True)
def _clean(settings: Any) -> None:
    settings.SIGNUP_CREDITS = 0
    replicate_jobs.reset()


def pipeline(api: Any, prompt: str = "a red fox") -> str:
    nodes = [node("p", "input:text", "Prompt", text=prompt),
             node("rep", "replicate:custom", "Replicate", model=MODEL,
                  input={"prompt": "Describe {{prompt}} briefly", "max_tokens": 64}),
             node("out", "output:result", "Result")]
    edges = [edge("p", "text", "rep", "prompt"), edge("rep", "text", "out", "value")]
    return create_workflow(api, nodes, edges)


def test_a_prompt_through_a_replicate_model_completes_with_the_webhook(
        engine: str, api: Any, team: Team) -> None:
    credits_grant(team, 100)
    execution_id = execute(api, pipeline(api))
    poll = wait_for(api, execution_id)
    assert poll["status"] == "COMPLETED", poll
    rep = states(poll)["rep"]
    assert rep["credits"] == PRICE_PER_RUN and poll["creditsUsed"] == PRICE_PER_RUN
    assert credit_balance(team.pk) == 100 - PRICE_PER_RUN
    text = f"Simulated {MODEL} answer to: Describe a red fox briefly"
    assert text in json.dumps(poll["finalOutput"])  # the tokens, joined
    stats = replicate_jobs.stats(key_fingerprint(platform_token()))
    assert stats["submissions"] == 1
    assert stats["byKey"] == {key_fingerprint(platform_token()): 1}
    wait_until(lambda: replicate_jobs.stats()["webhooks"] == 1, 30, "no webhook delivered")
    run = NodeRun.objects.get(execution_id=execution_id, node_id="rep")
    assert run.remote.get("delivered", {}).get("status") == "succeeded"  # the webhook arrived
    assert run.output is not None
    assert run.output == {"output": run.output["output"], "predictionId": run.request_id,
                          "simulated": True}


def test_throttling_twice_is_retried_then_completes(engine: str, api: Any, team: Team) -> None:
    credits_grant(team, 100)
    poll = wait_for(api, execute(api, pipeline(api, "a hare [sim fail=429x2]")))
    assert poll["status"] == "COMPLETED", poll
    stats = replicate_jobs.stats()
    assert (stats["refused"], stats["submissions"]) == (2, 1)
    assert states(poll)["rep"]["credits"] == PRICE_PER_RUN  # charged once


def test_cancelling_the_execution_cancels_the_prediction(engine: str, api: Any,
                                                         team: Team) -> None:
    credits_grant(team, 100)
    execution_id = execute(api, pipeline(api, "forever [sim hang]"))
    wait_until_submitted(api, execution_id, "rep")
    assert api.post(f"/workflows/executions/{execution_id}/cancel").status_code == 202
    assert wait_for(api, execution_id)["status"] == "CANCELLED"
    assert replicate_jobs.stats()["cancels"] == 1


def test_on_the_teams_own_replicate_key_it_costs_nothing(engine: str, api: Any,
                                                         team: Team) -> None:
    response = api.put("/providers/replicate", {"apiKey": TEAM_KEY})
    assert response.status_code == 200, response.content
    assert credit_balance(team.pk) == 0  # no credits at all: its own key needs none
    poll = wait_for(api, execute(api, pipeline(api)))
    assert poll["status"] == "COMPLETED", poll
    assert states(poll)["rep"]["credits"] == 0 and poll["creditsUsed"] == 0
    stats = replicate_jobs.stats(key_fingerprint(TEAM_KEY))
    assert stats["byKey"] == {key_fingerprint(TEAM_KEY): 1} and stats["submissions"] == 1
    assert credit_balance(team.pk) == 0


def test_a_validation_error_fails_the_node_at_once_with_replicates_detail(
        engine: str, api: Any, team: Team) -> None:
    credits_grant(team, 100)
    execution_id = execute(api, pipeline(api, "bad [sim fail=400]"))
    poll = wait_for(api, execution_id)
    assert poll["status"] == "FAILED", poll
    run = NodeRun.objects.get(execution_id=execution_id, node_id="rep")
    assert "Simulated validation error" in run.error and "HTTP 422" in run.error
    assert run.attempt == 1  # a 4xx is not retried
    assert replicate_jobs.stats()["submissions"] == 0
    assert credit_balance(team.pk) == 100

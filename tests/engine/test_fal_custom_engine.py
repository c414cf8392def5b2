"""fal:custom while executions really run (API, Celery worker, the fal simulator as fal): a prompt
goes to an endpoint nobody declared, the simulated image comes back on the image port and into
the result; on the platform's key it costs its price, on the team's own key nothing."""

import io
import json
from typing import Any

import httpx
import pytest
from PIL import Image

from accounts.credits import credit_balance, credits_grant
from accounts.models import Team
from executions.providers.fal import platform_key
from executions.simulators.state import key_fingerprint, simulator_stats

from .helpers import create_workflow, edge, execute, node, states, wait_for

pytestmark = pytest.mark.django_db(transaction=True)

TEAM_KEY = "fal-team-own-key-0123456789-WXYZ"
ENDPOINT = "fal-ai/some-model"


@pytest.fixture(autouse=True)
def _no_signup_credits(settings: Any) -> None:
    settings.SIGNUP_CREDITS = 0


def pipeline(api: Any, prompt: str = "a red fox") -> str:
    nodes = [node("p", "input:text", "Prompt", text=prompt),
             node("fal", "fal:custom", "Custom", endpoint=ENDPOINT,
                  input={"prompt": "{{prompt}}, studio light", "image_size": "square"}),
             node("out", "output:result", "Result")]
    edges = [edge("p", "text", "fal", "prompt"), edge("fal", "image", "out", "value")]
    return create_workflow(api, nodes, edges)


def test_a_prompt_through_any_endpoint_completes_with_the_image(engine: str, api: Any,
                                                                team: Team) -> None:
    credits_grant(team, 100)
    poll = wait_for(api, execute(api, pipeline(api)))
    assert poll["status"] == "COMPLETED", poll
    fal = states(poll)["fal"]
    assert fal["credits"] == 5 and poll["creditsUsed"] == 5
    assert credit_balance(team.pk) == 95
    url = fal["outputUrl"]
    assert url and url in json.dumps(poll["finalOutput"])
    image = httpx.get(url if url.startswith("http") else engine + url, timeout=10)
    assert image.status_code == 200 and image.content.startswith(b"\x89PNG")
    width, height = Image.open(io.BytesIO(image.content)).size
    assert width == height  # image_size "square", from the input JSON
    stats = simulator_stats()
    assert stats["byModel"] == {ENDPOINT: 1}
    assert stats["byKey"] == {key_fingerprint(platform_key()): 1}


def test_on_the_teams_own_fal_key_it_costs_nothing(engine: str, api: Any, team: Team) -> None:
    assert api.put("/providers/fal", {"apiKey": TEAM_KEY}).status_code == 200
    assert credit_balance(team.pk) == 0  # no credits at all: the team's key needs none
    poll = wait_for(api, execute(api, pipeline(api, "a hare")))
    assert poll["status"] == "COMPLETED", poll
    assert states(poll)["fal"]["credits"] == 0 and poll["creditsUsed"] == 0
    assert simulator_stats()["byKey"] == {key_fingerprint(TEAM_KEY): 1}
    assert credit_balance(team.pk) == 0

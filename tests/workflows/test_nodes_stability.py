"""The `stability:generate` node: its catalogue entry and per-model price, param checks, the
bound a run is reserved against never below what it is charged, and its executor's call run
directly against the Stability simulator served by the live site (on the platform's key, on the
team's own key for 0 credits, and with no key). Stability's own bodies:
tests/executions/test_stability_client.py."""

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest

from accounts.models import Team, User
from accounts.provider_keys import provider_key_set
from executions.engine.contracts import NodeContext, NodeFailure, NodeResult
from executions.executors.runtime import decode_image
from executions.media import open_media_by_url
from executions.providers.credentials import Credentials, simulator_key
from executions.providers.errors import ProviderError
from executions.simulators import stability as simulator
from executions.simulators.state import key_fingerprint
from workflows.nodes import catalogue, catalogue_entry
from workflows.nodes.stability import MODEL_PRICES, StabilityParams

from .calls import direct

NODE = "stability:generate"
TEAM_KEY = "sk-team-stability-key-0123456789"


class Stream:
    def text(self, text: str) -> None:
        raise AssertionError("an image node streams no text")


def run(params: dict[str, Any], credentials: Credentials | None) -> NodeResult:
    spec = catalogue[NODE]
    ctx = NodeContext(execution_id="e", team_id=0, node_id="n", node_type=NODE, label="n",
                      params=spec.params.model_validate(params), inputs={}, input_labels={},
                      credentials=credentials)
    result: NodeResult = asyncio.run(direct(spec.node_type).call(ctx, Stream()))
    return result


def bound(params: dict[str, Any]) -> float:
    spec = catalogue[NODE]
    return round(spec.credits * spec.params.model_validate(params).bound_units(None), 4)


# --- The catalogue ---------------------------------------------------------------------------

def test_the_node_is_a_stability_model_priced_per_image() -> None:
    spec = catalogue[NODE]
    entry = catalogue_entry(spec)
    assert (entry["label"], entry["category"], entry["credits"], entry["creditUnit"]) == (
        "Stability image", "model", 3.0, "image")
    assert [(p["id"], p["type"], p["required"]) for p in entry["inputs"]] == [
        ("prompt", "TEXT", True)]
    assert [(p["id"], p["type"]) for p in entry["outputs"]] == [("image", "IMAGE"),
                                                                ("images", "IMAGE")]
    assert spec.provider == "stability"


def test_a_fresh_node_validates_with_stabilitys_defaults() -> None:
    params = StabilityParams.model_validate({})
    assert (params.model, params.aspect_ratio, params.seed, params.output_format,
            params.style_preset) == ("core", "1:1", 0, "png", "")


@pytest.mark.parametrize("params", [
    {"model": "sd2"}, {"aspect_ratio": "4:3"}, {"seed": -1}, {"seed": 4_294_967_295},
    {"output_format": "gif"}, {"style_preset": "watercolour"}, {"prompt": "x" * 10_001},
    {"model": "sd3.5-large", "output_format": "webp"}])
def test_params_outside_stabilitys_ranges_are_refused(params: dict[str, Any]) -> None:
    assert catalogue[NODE].param_errors(params, set())


@pytest.mark.parametrize(("model", "credits"), list(MODEL_PRICES.items()))
def test_each_model_is_estimated_at_its_own_price(model: str, credits: float) -> None:
    assert catalogue[NODE].estimate_credits({"model": model}) == credits
    assert bound({"model": model}) == credits


def test_a_connected_model_is_estimated_at_the_dearest() -> None:
    assert catalogue[NODE].estimate_credits({"model": "core"}, connected={"model"}) == 8.0
    assert catalogue[NODE].estimate_credits({"model": "core"}, connected={"prompt"}) == 3.0


# --- The executor against the simulator -------------------------------------------------------

@pytest.fixture
def stability_sim(live_site: str, settings: Any) -> Iterator[str]:
    settings.SITE_URL = live_site
    settings.SIM_DEFAULT_LATENCY = 0
    settings.SIM_IMAGE_SCALE = 0.25
    simulator.tally.reset()
    yield f"{live_site}/_sim/stability"
    simulator.tally.reset()


def platform(base_url: str) -> Credentials:
    return Credentials(simulator_key("stability"), base_url, "platform")


@pytest.mark.parametrize(("model", "fmt", "aspect_ratio", "size"), [
    ("core", "png", "1:1", (256, 256)), ("ultra", "webp", "16:9", (336, 192)),
    ("sd3.5-large", "jpeg", "2:3", (208, 304))])
def test_an_image_is_saved_and_charged_its_models_price_within_the_bound(
        stability_sim: str, model: str, fmt: str, aspect_ratio: str,
        size: tuple[int, int]) -> None:
    params = {"prompt": "a red fox in the snow", "model": model, "output_format": fmt,
              "aspect_ratio": aspect_ratio, "seed": 11}

    result = run(params, platform(stability_sim))

    url = result.ports["image"]
    assert result.ports["images"] == [url]
    content_type = {"png": "image/png", "jpeg": "image/jpeg", "webp": "image/webp"}[fmt]
    assert result.output == {"images": [{"url": url, "width": size[0], "height": size[1],
                                         "content_type": content_type}],
                             "seed": 11, "simulated": True}
    saved = open_media_by_url(url)
    assert saved is not None and decode_image(saved).size == size
    assert result.credits == MODEL_PRICES[model]
    assert bound(params) >= result.credits


def test_on_the_teams_own_key_a_run_costs_nothing_and_the_key_is_the_teams(
        stability_sim: str, owner: User, team: Team) -> None:
    provider_key_set(team, "stability", TEAM_KEY, None, by=owner)

    result = run({"prompt": "our own key"}, Credentials(TEAM_KEY, stability_sim, "team"))

    assert result.credits == 0.0
    fingerprint = key_fingerprint(TEAM_KEY)
    assert simulator.tally.stats(fingerprint)["byKey"] == {fingerprint: 1}


def test_a_filtered_image_fails_the_node_and_errors_say_whether_to_retry(
        stability_sim: str) -> None:
    with pytest.raises(NodeFailure, match="content filter"):
        run({"prompt": "a fox [sim filtered]"}, platform(stability_sim))
    with pytest.raises(ProviderError) as throttled:
        run({"prompt": "a fox [sim fail=429]"}, platform(stability_sim))
    assert (throttled.value.retryable, throttled.value.retry_after) == (True, 1.0)
    with pytest.raises(ProviderError) as moderated:
        run({"prompt": "a fox [sim fail=403]"}, platform(stability_sim))
    assert (moderated.value.http_status, moderated.value.retryable) == (403, False)


def test_without_a_key_or_a_prompt_the_node_fails(stability_sim: str) -> None:
    with pytest.raises(NodeFailure, match="no API key for stability: set one in Settings"):
        run({"prompt": "a fox"}, None)
    with pytest.raises(NodeFailure, match="no prompt"):
        run({"prompt": " "}, platform(stability_sim))
    assert simulator.tally.stats()["generations"] == 0

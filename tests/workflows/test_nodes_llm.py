"""The LLM nodes: their params, their price bound (never under what a run is charged), and
their executors' calls run directly against the simulators over real HTTP."""

import asyncio
import json
from typing import Any

import pytest

from accounts.provider_keys import provider_key_set
from executions.engine.contracts import NodeContext, NodeFailure, NodeResult
from executions.engine.pricing import MEASURES
from executions.executors.llm import parse_json_answer
from executions.providers.credentials import Credentials, simulator_key
from executions.simulators import anthropic as sim_anthropic
from executions.simulators import openai_chat as sim_chat
from executions.simulators.state import key_fingerprint
from workflows.nodes import catalogue
from workflows.nodes.llm import LlmParams, model_price, token_credits

from .calls import direct

CHAT, CLAUDE = catalogue["llm:chat"], catalogue["llm:claude"]


def test_fresh_nodes_validate_with_their_default_models() -> None:
    assert CHAT.param_errors({}, set()) == [] and CLAUDE.param_errors({}, set()) == []
    assert CHAT.parse_params({}).model == "gpt-4o-mini"  # type: ignore[attr-defined]
    assert CLAUDE.parse_params({}).model == "claude-sonnet-4-5"  # type: ignore[attr-defined]
    assert (CHAT.credit_unit, CHAT.credits, CLAUDE.credits) == ("1k tokens", 0.06, 1.5)


@pytest.mark.parametrize(("spec", "params", "field"), [
    (CHAT, {"temperature": 2.5}, "temperature"), (CLAUDE, {"temperature": 1.5}, "temperature"),
    (CHAT, {"max_tokens": 0}, "max_tokens"), (CHAT, {"max_tokens": 32_001}, "max_tokens"),
    (CHAT, {"model": " "}, "model"), (CHAT, {"model": "m" * 201}, "model"),
    (CHAT, {"prompt": "x" * 200_001}, "prompt")])
def test_out_of_range_params_are_refused(spec: Any, params: dict[str, Any], field: str) -> None:
    [error] = spec.param_errors(params, set())
    assert error.startswith(field)


def test_a_connected_prompt_skips_the_saved_ones_errors() -> None:
    assert CHAT.param_errors({"prompt": 5}, {"prompt"}) == []


def test_models_are_priced_by_name_snapshot_and_router_prefix() -> None:
    assert model_price("gpt-4o-mini-2024-07-18") == model_price("openai/gpt-4o-mini") == (
        0.15, 0.60)
    assert model_price("claude-sonnet-4-5-20250929") == (3.0, 15.0)
    assert model_price("gpt-5-pro") == model_price("llama-3.1-70b") == (15.0, 75.0)


@pytest.mark.parametrize("spec", [CHAT, CLAUDE])
@pytest.mark.parametrize("model", ["gpt-4o-mini", "claude-opus-4-1", "some-local-model"])
@pytest.mark.parametrize("prompt", ["hi", "Write a title for: cats " * 50, "猫" * 3000,
                                    "\U0001F600" * 1000, "a b c d e f g h " * 100])
def test_the_bound_covers_the_most_a_run_can_be_charged(spec: Any, model: str,
                                                         prompt: str) -> None:
    params: LlmParams = spec.params.model_validate(
        {"model": model, "prompt": prompt, "system": "Be brief.", "max_tokens": 300,
         "json_output": True})
    bound = spec.credits * params.bound_units(MEASURES["tokens"](prompt))
    # The simulator's count of the same request (a conservative stand-in for a tokenizer).
    texts = [prompt, "Be brief. Answer with one JSON object only: no text before or after "
                     "it and no code fences."]
    input_tokens = sum(sim_chat.text_tokens(text) + 4 for text in texts) + 3
    assert bound >= round(token_credits(model, input_tokens, 300), 4)
    assert spec.params.max_billable_units() >= params.bound_units(None)


def test_json_answers_parse_and_fences_are_accepted() -> None:
    assert parse_json_answer('```json\n{"a": 1}\n```') == {"a": 1}
    with pytest.raises(NodeFailure, match="not valid JSON: 'Sure! Here"):
        parse_json_answer("Sure! Here is your JSON")


# --- The executor's call against the simulators -------------------------------------------

class Recorder:
    def __init__(self) -> None:
        self.texts: list[str] = []

    def text(self, text: str) -> None:
        self.texts.append(text)


def context(spec: Any, params: dict[str, Any], credentials: Credentials | None) -> NodeContext:
    return NodeContext(execution_id="e", team_id=1, node_id="n", node_type=spec.node_type,
                       label="LLM", params=spec.params.model_validate(params), inputs={},
                       input_labels={}, credentials=credentials)


def call(spec: Any, params: dict[str, Any], credentials: Credentials | None,
         stream: Recorder | None = None) -> NodeResult:
    result: NodeResult = asyncio.run(direct(spec.node_type).call(context(spec, params, credentials),
                                                        stream or Recorder()))
    return result


@pytest.fixture
def sims(live_site: str, settings: Any) -> dict[str, Credentials]:
    settings.SITE_URL = live_site
    settings.SIM_DEFAULT_LATENCY = 0.3
    sim_chat.tally.reset()
    sim_anthropic.tally.reset()
    return {"openai": Credentials(simulator_key("openai"), f"{live_site}/_sim/openai/v1",
                                  "platform"),
            "anthropic": Credentials(simulator_key("anthropic"), f"{live_site}/_sim/anthropic",
                                     "platform")}


@pytest.mark.parametrize(("spec", "provider"), [(CHAT, "openai"), (CLAUDE, "anthropic")])
def test_the_call_streams_growing_text_and_charges_the_reported_usage(
        sims: dict[str, Credentials], spec: Any, provider: str) -> None:
    stream = Recorder()
    result = call(spec, {"prompt": "Write a title for: cats"}, sims[provider], stream)

    assert result.ports == {"text": result.output["text"]}
    assert result.output["text"].startswith("Cats: ")
    assert result.output["simulated"] is True
    usage = result.output["usage"]
    assert usage["outputTokens"] == len(stream.texts) > 3
    assert stream.texts[-1] == result.output["text"]
    assert all(a != b and b.startswith(a) for a, b in zip(stream.texts, stream.texts[1:],
                                                           strict=False))
    model = spec.params.model_validate({}).model
    assert result.credits == round(token_credits(model, usage["inputTokens"],
                                                 usage["outputTokens"]), 4) > 0


@pytest.mark.parametrize(("spec", "provider"), [(CHAT, "openai"), (CLAUDE, "anthropic")])
def test_json_mode_delivers_the_json_port(sims: dict[str, Credentials], spec: Any,
                                          provider: str) -> None:
    result = call(spec, {"prompt": "A fox", "json_output": True}, sims[provider])
    assert result.ports["json"] == result.output["json"] == json.loads(result.output["text"])


def test_json_mode_cut_short_fails_quoting_the_answer(sims: dict[str, Credentials]) -> None:
    with pytest.raises(NodeFailure, match="stopped at max_tokens.*answer"):
        call(CHAT, {"prompt": "A fox", "json_output": True, "max_tokens": 3}, sims["openai"])


@pytest.mark.parametrize(("spec", "provider"), [(CHAT, "openai"), (CLAUDE, "anthropic")])
def test_a_teams_own_key_runs_the_call_and_costs_nothing(
        sims: dict[str, Credentials], spec: Any, provider: str, team: Any, owner: Any) -> None:
    own = f"team-{provider}-key-0123456789abcdef"
    provider_key_set(team, provider, own, sims[provider].base_url, by=owner)
    tally = sim_chat.tally if provider == "openai" else sim_anthropic.tally

    result = call(spec, {"prompt": "hello"},
                  Credentials(own, sims[provider].base_url, "team"))

    assert result.credits == 0.0 and result.output["text"]
    assert tally.stats(key_fingerprint(own))["byKey"] == {key_fingerprint(own): 1}


def test_no_key_and_an_empty_prompt_fail_clearly(sims: dict[str, Credentials]) -> None:
    with pytest.raises(NodeFailure, match="no API key for openai: set one in Settings"):
        call(CHAT, {"prompt": "hi"}, None)
    with pytest.raises(NodeFailure, match="prompt is empty"):
        call(CLAUDE, {"prompt": "  "}, sims["anthropic"])
    assert sim_chat.tally.stats()["requests"] == 0


# --- Images for the model to look at -----------------------------------------------------

def _png() -> bytes:
    import io

    from PIL import Image as PILImage

    out = io.BytesIO()
    PILImage.new("RGB", (4, 4), "red").save(out, "PNG")
    return out.getvalue()


def test_an_image_of_ours_goes_inline_and_any_other_by_its_https_url(settings: Any,
                                                                      tmp_path: Any) -> None:
    from executions.executors.llm import _read_image
    from executions.media import save_media
    from executions.providers import anthropic_chat, openai_chat

    settings.MEDIA_ROOT = str(tmp_path)
    inline = _read_image(save_media(_png(), "png", "image/png", folder="nodes"))
    assert (inline.media_type, inline.url) == ("image/png", "")
    by_url = _read_image("https://example.com/photo.jpg")
    assert (by_url.url, by_url.base64) == ("https://example.com/photo.jpg", "")

    def openai_part(image: Any) -> Any:
        body = openai_chat.request_body(openai_chat.ChatRequest("gpt-4o", "what is it?",
                                                                image=image))
        return body["messages"][-1]["content"][1]["image_url"]["url"]

    def anthropic_source(image: Any) -> Any:
        body = anthropic_chat.request_body(openai_chat.ChatRequest("claude-sonnet-4-5", "?",
                                                                   image=image))
        return body["messages"][0]["content"][0]["source"]

    assert openai_part(inline).startswith("data:image/png;base64,")
    assert openai_part(by_url) == "https://example.com/photo.jpg"
    assert anthropic_source(inline)["type"] == "base64"
    assert anthropic_source(by_url) == {"type": "url", "url": "https://example.com/photo.jpg"}


@pytest.mark.parametrize("url", ["http://example.com/a.png", "file:///etc/passwd",
                                 "ftp://example.com/a.png", "/media/nodes/missing.png"])
def test_an_image_neither_ours_nor_public_https_fails_the_node(url: str, settings: Any,
                                                                tmp_path: Any) -> None:
    from executions.executors.llm import _read_image

    settings.MEDIA_ROOT = str(tmp_path)
    with pytest.raises(NodeFailure, match="upload or a public https"):
        _read_image(url)

"""The Anthropic client: against bodies recorded from Anthropic's documentation
(fixtures/anthropic/, served by httpx.MockTransport), and through real HTTP against the
simulator served by the live ASGI site, whose bodies must carry every key the recorded ones do."""

import asyncio
import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import httpx2
import pytest

from executions.providers.anthropic_chat import complete
from executions.providers.credentials import simulator_key
from executions.providers.errors import ProviderError
from executions.providers.openai_chat import ChatAnswer, ChatRequest
from executions.simulators import anthropic as sim_anthropic
from executions.simulators.state import key_fingerprint

from .provider_fakes import replying2

FIXTURES = Path(__file__).parent / "fixtures" / "anthropic"
BASE = "https://api.anthropic.com"
STREAM = (FIXTURES / "stream.txt").read_bytes()
SSE = {"content-type": "text/event-stream"}


def recorded(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


def events_of(text: str) -> dict[str, dict[str, Any]]:
    """The last event of each type in an SSE text, by type."""
    return {event["type"]: event for event in (
        json.loads(line.removeprefix("data: ")) for line in text.splitlines()
        if line.startswith("data: "))}


def answering(status: int, content: bytes, headers: dict[str, str] | None = None,
              seen: list[httpx2.Request] | None = None) -> httpx2.AsyncClient:
    # The anthropic 2.x SDK takes only httpx2 clients (the openai one takes both).
    return httpx2.AsyncClient(transport=httpx2.MockTransport(replying2(
        status, content, {"content-type": "application/json", **(headers or {})}, seen)))


def run(request: ChatRequest, http: httpx2.AsyncClient | None = None, *, key: str = "sk-ant",
        base: str = BASE, on_text: Callable[[str], None] | None = None,
        timeout: float = 30) -> ChatAnswer:
    return asyncio.run(complete(request, api_key=key, base_url=base, on_text=on_text,
                                http_client=http, timeout=timeout))


def test_it_streams_a_message_with_usage_and_sends_anthropics_request() -> None:
    seen: list[httpx2.Request] = []
    texts: list[str] = []

    answer = run(ChatRequest("claude-sonnet-4-5", "Hi", system="Be kind", temperature=0.5,
                             max_tokens=64), answering(200, STREAM, SSE, seen),
                 on_text=texts.append)

    assert answer == ChatAnswer("Hello!", "claude-sonnet-4-5-20250929", 25, 15, "end_turn",
                                False)
    assert texts == ["Hello", "Hello!"]
    request = seen[0]
    assert str(request.url) == f"{BASE}/v1/messages"
    assert request.headers["Authorization"] == "Bearer sk-ant"
    assert request.headers["anthropic-version"]
    assert json.loads(request.content) == {
        "model": "claude-sonnet-4-5", "max_tokens": 64, "system": "Be kind",
        "messages": [{"role": "user", "content": "Hi"}], "temperature": 0.5, "stream": True}


def test_json_mode_asks_for_json_in_the_system_prompt() -> None:
    seen: list[httpx2.Request] = []
    run(ChatRequest("claude-haiku-4-5", "Colours?", json_mode=True),
        answering(200, STREAM, SSE, seen))
    assert "JSON object" in json.loads(seen[0].content)["system"]


@pytest.mark.parametrize(("status", "name", "retryable", "retry_after"), [
    (429, "error_rate_limit.json", True, 7.0),
    (529, "error_overloaded.json", True, 7.0),
    (400, "error_invalid_request.json", False, None),
    (401, "error_authentication.json", False, None),
])
def test_errors_map_onto_provider_errors(status: int, name: str, retryable: bool,
                                         retry_after: float | None) -> None:
    body = recorded(name)
    http = answering(status, json.dumps(body).encode(), {"retry-after": "7"})
    with pytest.raises(ProviderError) as caught:
        run(ChatRequest("claude-sonnet-4-5", "hi"), http)
    assert (caught.value.http_status, caught.value.retryable, caught.value.retry_after) == (
        status, retryable, retry_after)
    assert body["error"]["message"] in caught.value.message


# --- The simulator, through real HTTP -----------------------------------------------------

@pytest.fixture
def sim(live_site: str, settings: Any) -> Iterator[str]:
    settings.SITE_URL = live_site
    settings.SIM_DEFAULT_LATENCY = 0.2
    sim_anthropic.tally.reset()
    yield f"{live_site}/_sim/anthropic"


def on_sim(base: str, request: ChatRequest, **kwargs: Any) -> ChatAnswer:
    return run(request, key=simulator_key("anthropic"), base=base, **kwargs)


def test_the_simulator_streams_a_reply_over_the_latency(sim: str) -> None:
    seen: list[tuple[float, str]] = []
    answer = on_sim(sim, ChatRequest("claude-sonnet-4-5", "A name for: my red bike "
                                                          "[sim latency=1s]"),
                    on_text=lambda text: seen.append((time.monotonic(), text)))
    assert answer.text.startswith("My Red Bike: ") and "[sim" not in answer.text
    assert answer.simulated and answer.stop_reason == "end_turn"
    assert answer.output_tokens == len(seen) > 3
    assert seen[-1][0] - seen[0][0] >= 0.5
    stats = sim_anthropic.tally.stats(key_fingerprint(simulator_key("anthropic")))
    assert stats["requests"] == 1
    assert stats["byKey"] == {key_fingerprint(simulator_key("anthropic")): 1}


def test_the_simulator_answers_json_when_the_system_prompt_asks(sim: str) -> None:
    answer = on_sim(sim, ChatRequest("claude-haiku-4-5", "A fox", json_mode=True))
    assert json.loads(answer.text)["simulated"] is True


def test_the_simulator_stops_at_max_tokens(sim: str) -> None:
    answer = on_sim(sim, ChatRequest("claude-haiku-4-5", "a b c d e f g", max_tokens=2))
    assert (answer.output_tokens, answer.stop_reason) == (2, "max_tokens")


@pytest.mark.parametrize(("directive", "status", "retryable"), [
    ("[sim fail=429]", 429, True), ("[sim fail=529]", 529, True),
    ("[sim fail=500]", 500, True), ("[sim fail=400]", 400, False)])
def test_injected_failures_map_onto_provider_errors_on_the_simulator(
        sim: str, directive: str, status: int, retryable: bool) -> None:
    with pytest.raises(ProviderError) as caught:
        on_sim(sim, ChatRequest("claude-sonnet-4-5", f"x {directive}"))
    assert (caught.value.http_status, caught.value.retryable) == (status, retryable)
    assert sim_anthropic.tally.stats()["requests"] == 0


def test_the_simulator_refuses_another_key(sim: str) -> None:
    with pytest.raises(ProviderError) as caught:
        run(ChatRequest("claude-sonnet-4-5", "hi"), key="sk-ant-other", base=sim)
    assert (caught.value.http_status, caught.value.retryable) == (401, False)


def test_a_hanging_stream_times_out_as_a_retryable_error(sim: str) -> None:
    with pytest.raises(ProviderError, match="did not answer") as caught:
        on_sim(sim, ChatRequest("claude-sonnet-4-5", "[sim hang]"), timeout=1.5)
    assert caught.value.retryable


def test_the_simulators_bodies_carry_every_key_of_anthropics(sim: str) -> None:
    headers = {"x-api-key": simulator_key("anthropic"), "anthropic-version": "2023-06-01"}
    url = f"{sim}/v1/messages"
    request = {"model": "claude-sonnet-4-5", "max_tokens": 50,
               "messages": [{"role": "user", "content": "hi"}]}
    message = httpx.post(url, headers=headers, json=request, timeout=10).json()
    expected = recorded("message.json")
    assert set(message) >= set(expected)
    assert set(message["usage"]) >= set(expected["usage"])

    streamed = httpx.post(url, headers=headers, json={**request, "stream": True}, timeout=10)
    ours, theirs = events_of(streamed.text), events_of(STREAM.decode())
    assert set(ours) == set(theirs)
    for kind, event in theirs.items():
        assert set(ours[kind]) >= set(event), kind
    assert set(ours["message_start"]["message"]) >= set(theirs["message_start"]["message"])
    assert set(ours["message_delta"]["usage"]) >= set(theirs["message_delta"]["usage"])

    for directive, status, name in [("[sim fail=429x1]", 429, "error_rate_limit.json"),
                                    ("[sim fail=529x1]", 529, "error_overloaded.json"),
                                    ("[sim fail=400x1]", 400, "error_invalid_request.json")]:
        error = httpx.post(url, headers=headers, timeout=10, json={
            **request, "messages": [{"role": "user", "content": directive}]})
        assert error.status_code == status
        assert set(error.json()) >= set(recorded(name))
        assert error.json()["error"]["type"] == recorded(name)["error"]["type"]
    refused = httpx.post(url, headers={**headers, "x-api-key": "nope"}, json=request, timeout=10)
    assert refused.status_code == 401
    assert refused.json()["error"]["type"] == "authentication_error"

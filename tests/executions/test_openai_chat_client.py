"""The OpenAI chat client: against bodies recorded from OpenAI's API reference
(fixtures/openai/, served by httpx.MockTransport), and through real HTTP against the simulator
served by the live ASGI site; a parity test keeps the simulator's bodies carrying every key the
recorded ones carry."""

import asyncio
import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from executions.providers.credentials import simulator_key
from executions.providers.errors import ProviderError
from executions.providers.openai_chat import ChatAnswer, ChatRequest, complete
from executions.simulators import openai_chat as sim_chat
from executions.simulators.state import key_fingerprint

from .provider_fakes import replying

FIXTURES = Path(__file__).parent / "fixtures" / "openai"
BASE = "https://api.openai.com/v1"


def recorded(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


def recorded_chunks() -> list[dict[str, Any]]:
    return [json.loads(line.removeprefix("data: ")) for line in
            (FIXTURES / "stream.txt").read_text().splitlines()
            if line.startswith("data: {")]


def answering(status: int, content: bytes, headers: dict[str, str] | None = None,
              seen: list[httpx.Request] | None = None) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.MockTransport(replying(
        status, content, {"content-type": "application/json", **(headers or {})}, seen)))


def run(request: ChatRequest, http: httpx.AsyncClient | None = None, *, key: str = "sk-test",
        base: str = BASE, on_text: Callable[[str], None] | None = None,
        timeout: float = 30) -> ChatAnswer:
    return asyncio.run(complete(request, api_key=key, base_url=base, on_text=on_text,
                                http_client=http, timeout=timeout))


STREAM = (FIXTURES / "stream.txt").read_bytes()
SSE = {"content-type": "text/event-stream"}


# --- Recorded bodies ----------------------------------------------------------------------

def test_it_streams_a_completion_with_usage_and_sends_openais_request() -> None:
    seen: list[httpx.Request] = []
    texts: list[str] = []

    answer = run(ChatRequest("gpt-4o-mini", "Say hello", system="Be brief", temperature=0.2,
                             max_tokens=50), answering(200, STREAM, SSE, seen),
                 on_text=texts.append)

    assert answer == ChatAnswer("Hello there!", "gpt-4o-mini", 9, 3, "stop", False)
    assert texts == ["Hello", "Hello there", "Hello there!"]
    request = seen[0]
    assert (request.method, str(request.url)) == ("POST", f"{BASE}/chat/completions")
    assert request.headers["Authorization"] == "Bearer sk-test"
    assert json.loads(request.content) == {
        "model": "gpt-4o-mini", "stream": True, "stream_options": {"include_usage": True},
        "messages": [{"role": "system", "content": "Be brief"},
                     {"role": "user", "content": "Say hello"}],
        "max_tokens": 50, "temperature": 0.2}


def test_json_mode_asks_for_a_json_object_and_mentions_json() -> None:
    seen: list[httpx.Request] = []
    run(ChatRequest("gpt-4o-mini", "List three colours", json_mode=True),
        answering(200, STREAM, SSE, seen))
    body = json.loads(seen[0].content)
    assert body["response_format"] == {"type": "json_object"}
    assert "json" in body["messages"][0]["content"].lower()


def test_reasoning_models_get_max_completion_tokens_and_their_own_temperature() -> None:
    seen: list[httpx.Request] = []
    run(ChatRequest("o4-mini", "hi", max_tokens=99), answering(200, STREAM, SSE, seen))
    body = json.loads(seen[0].content)
    assert body["max_completion_tokens"] == 99
    assert "max_tokens" not in body and "temperature" not in body


def test_throttling_is_retryable_after_the_time_openai_says() -> None:
    http = answering(429, json.dumps(recorded("error_rate_limit.json")).encode(),
                     {"retry-after": "20"})
    with pytest.raises(ProviderError) as caught:
        run(ChatRequest("gpt-4o-mini", "hi"), http)
    assert (caught.value.http_status, caught.value.retryable, caught.value.retry_after) == (
        429, True, 20.0)
    assert "Rate limit reached" in caught.value.message


def test_a_server_error_is_retryable() -> None:
    http = answering(500, json.dumps(recorded("error_server.json")).encode())
    with pytest.raises(ProviderError) as caught:
        run(ChatRequest("gpt-4o-mini", "hi"), http)
    assert (caught.value.http_status, caught.value.retryable) == (500, True)


@pytest.mark.parametrize(("status", "name", "text"), [
    (401, "error_invalid_api_key.json", "Incorrect API key provided"),
    (400, "error_invalid_request.json", "must contain the word 'json'"),
])
def test_other_client_errors_are_permanent_and_carry_openais_message(
        status: int, name: str, text: str) -> None:
    http = answering(status, json.dumps(recorded(name)).encode(), {"retry-after": "5"})
    with pytest.raises(ProviderError) as caught:
        run(ChatRequest("gpt-4o-mini", "hi"), http)
    assert (caught.value.http_status, caught.value.retryable, caught.value.retry_after) == (
        status, False, None)
    assert caught.value.message.startswith(f"openai answered HTTP {status}: ")
    assert text in caught.value.message


def test_an_unreachable_server_is_a_retryable_provider_error() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)
    with pytest.raises(ProviderError, match="could not reach openai") as caught:
        run(ChatRequest("gpt-4o-mini", "hi"),
            httpx.AsyncClient(transport=httpx.MockTransport(handler)))
    assert caught.value.retryable


# --- The simulator, through real HTTP -----------------------------------------------------

@pytest.fixture
def sim(live_site: str, settings: Any) -> Iterator[str]:
    settings.SITE_URL = live_site
    settings.SIM_DEFAULT_LATENCY = 0.2
    sim_chat.tally.reset()
    yield f"{live_site}/_sim/openai/v1"


def on_sim(base: str, request: ChatRequest, **kwargs: Any) -> ChatAnswer:
    return run(request, key=simulator_key("openai"), base=base, **kwargs)


def test_the_simulator_streams_a_titled_reply_a_word_at_a_time(sim: str) -> None:
    seen: list[tuple[float, str]] = []

    answer = on_sim(sim, ChatRequest("gpt-4o-mini", "Write a title for: cats and dogs "
                                                    "[sim latency=1s]"),
                    on_text=lambda text: seen.append((time.monotonic(), text)))

    assert answer.text.startswith("Cats And Dogs: ")
    assert "[sim" not in answer.text and answer.simulated
    assert answer.output_tokens == len(seen) == len(answer.text.split(" "))
    assert answer.input_tokens > 0
    assert [text for _, text in seen] == sorted((text for _, text in seen), key=len)
    # Several pieces, spread over the latency (not one buffered body at the end).
    assert seen[-1][0] - seen[0][0] >= 0.5


def test_the_simulator_answers_json_in_json_mode(sim: str) -> None:
    answer = on_sim(sim, ChatRequest("gpt-4o-mini", "Describe a fox", json_mode=True))
    assert json.loads(answer.text)["simulated"] is True


def test_the_simulator_stops_at_max_tokens(sim: str) -> None:
    answer = on_sim(sim, ChatRequest("gpt-4o-mini", "one two three four five six", max_tokens=3))
    assert (answer.output_tokens, answer.stop_reason) == (3, "length")


def test_the_simulator_refuses_another_key_with_openais_401(sim: str) -> None:
    with pytest.raises(ProviderError) as caught:
        run(ChatRequest("gpt-4o-mini", "hi"), key="sk-not-ours", base=sim)
    assert (caught.value.http_status, caught.value.retryable) == (401, False)
    assert sim_chat.tally.stats()["requests"] == 0


def test_fail_429_twice_is_throttled_with_retry_after_then_works(sim: str) -> None:
    request = ChatRequest("gpt-4o-mini", "busy [sim fail=429x2]")
    for _ in range(2):
        with pytest.raises(ProviderError) as caught:
            on_sim(sim, request)
        assert (caught.value.http_status, caught.value.retryable,
                caught.value.retry_after) == (429, True, 1.0)
    assert on_sim(sim, request).text
    stats = sim_chat.tally.stats(key_fingerprint(simulator_key("openai")))
    assert (stats["requests"], stats["refused"]) == (1, 2)
    assert stats["byKey"] == {key_fingerprint(simulator_key("openai")): 1}


@pytest.mark.parametrize(("directive", "status", "retryable"), [
    ("[sim fail=500]", 500, True), ("[sim fail=400]", 400, False)])
def test_injected_failures_map_onto_provider_errors(sim: str, directive: str, status: int,
                                                    retryable: bool) -> None:
    with pytest.raises(ProviderError) as caught:
        on_sim(sim, ChatRequest("gpt-4o-mini", f"x {directive}"))
    assert (caught.value.http_status, caught.value.retryable) == (status, retryable)


def test_a_hanging_stream_times_out_as_a_retryable_error(sim: str) -> None:
    with pytest.raises(ProviderError, match="did not answer") as caught:
        on_sim(sim, ChatRequest("gpt-4o-mini", "[sim hang]"), timeout=1.5)
    assert caught.value.retryable


def test_the_simulators_bodies_carry_every_key_of_openais(sim: str) -> None:
    headers = {"Authorization": f"Bearer {simulator_key('openai')}"}
    url = f"{sim}/chat/completions"
    plain = httpx.post(url, headers=headers, timeout=10, json={
        "model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}).json()
    expected = recorded("chat_completion.json")
    assert set(plain) >= set(expected)
    assert set(plain["choices"][0]) >= set(expected["choices"][0])
    assert set(plain["choices"][0]["message"]) >= set(expected["choices"][0]["message"])
    assert set(plain["usage"]) >= set(expected["usage"])

    streamed = httpx.post(url, headers=headers, timeout=10, json={
        "model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}],
        "stream": True, "stream_options": {"include_usage": True}}).text
    lines = [line for line in streamed.splitlines() if line.startswith("data: ")]
    assert lines[-1] == "data: [DONE]"
    chunks = [json.loads(line.removeprefix("data: ")) for line in lines[:-1]]
    first, *_, usage = recorded_chunks()
    assert all(set(chunk) >= set(first) for chunk in chunks)
    assert set(chunks[0]["choices"][0]) >= set(first["choices"][0])
    assert (chunks[-1]["choices"], set(chunks[-1]["usage"])) == ([], set(usage["usage"]))

    for directive, name in [("[sim fail=429x1]", "error_rate_limit.json"),
                            ("[sim fail=500x1]", "error_server.json")]:
        error = httpx.post(url, headers=headers, timeout=10, json={
            "model": "m", "messages": [{"role": "user", "content": directive}]})
        assert set(error.json()["error"]) >= set(recorded(name)["error"])
    refused = httpx.post(url, headers={"Authorization": "Bearer nope"}, timeout=10, json={})
    assert refused.status_code == 401
    assert set(refused.json()["error"]) >= set(recorded("error_invalid_api_key.json")["error"])


def test_the_simulator_answers_nothing_while_switched_off(sim: str, settings: Any) -> None:
    settings.SIMULATORS_ENABLED = False
    response = httpx.post(f"{sim}/chat/completions", timeout=10,
                          headers={"Authorization": f"Bearer {simulator_key('openai')}"},
                          json={"model": "m", "messages": [{"role": "user", "content": "x"}]})
    assert response.status_code == 404

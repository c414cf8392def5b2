"""A streamed chat completion over the official `openai` SDK, against OpenAI or any
OpenAI-compatible API (OpenRouter, Groq, Together, vLLM, Ollama) or the built-in simulator.

    POST {base_url}/chat/completions  {model, messages, stream: true,
                                       stream_options: {include_usage: true}, ...}

The answer arrives as `chat.completion.chunk` events; the last one (empty `choices`) carries the
usage. The SDK's own retries are off: the engine's retry contract decides, from the
ProviderError every failure becomes (retryable for 408/409/429/5xx and lost connections, with
the provider's Retry-After).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .errors import ProviderError
from .sdk_errors import sdk, sdk_errors

if TYPE_CHECKING:
    import openai

PROVIDER = "openai"
SIM_FINGERPRINT = "wireflow-sim"  # the simulator's system_fingerprint: "simulated" in the output
READ_TIMEOUT_SECONDS = 60.0  # between two chunks (and to connect)
DEADLINE_SECONDS = 600.0  # the whole call
MAX_ANSWER_CHARS = 1_000_000
JSON_HINT = "Answer with one JSON object."
# OpenAI's reasoning models take max_completion_tokens and only their default temperature.
REASONING_PREFIXES = ("o1", "o3", "o4", "gpt-5")

OnText = Callable[[str], None]


@dataclass(frozen=True)
class Image:
    """An image for the model: inline (this site's own media, which the provider cannot
    reach) or, for a public https URL, by that URL (the provider fetches it; we never do)."""

    media_type: str = ""  # image/png, image/jpeg, image/gif or image/webp; "" by URL
    base64: str = ""
    url: str = ""

    @property
    def data_url(self) -> str:
        return self.url or f"data:{self.media_type};base64,{self.base64}"


@dataclass(frozen=True)
class ChatRequest:
    model: str
    prompt: str
    system: str = ""
    temperature: float = 0.7
    max_tokens: int = 1024
    json_mode: bool = False
    image: Image | None = None  # for the model to look at, beside the prompt
    # An answer constrained to this JSON Schema (OpenAI: response_format json_schema, strict;
    # Anthropic: a forced tool of this name whose input is the answer, as JSON text).
    json_schema: Mapping[str, Any] | None = None
    schema_name: str = "answer"
    # Earlier turns of the conversation, (role "user"|"assistant", text), before the prompt.
    history: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class ChatAnswer:
    text: str
    model: str
    input_tokens: int
    output_tokens: int
    stop_reason: str | None = None
    simulated: bool = False


# Reads one streamed answer with a client of the SDK: (client, request, on_text).
ReadStream = Callable[[Any, ChatRequest, OnText | None], Awaitable[ChatAnswer]]


@dataclass(frozen=True)
class SdkChat:
    """A chat API over its official SDK (the module named `sdk`, `openai` or `anthropic`,
    imported on the first call), whose `complete` is the module's: a client of its class
    `client_class` made for the one call and closed after it, read by `read_stream`, every
    failure a ProviderError by `sdk_errors`."""

    provider: str
    sdk: str
    client_class: str
    read_stream: ReadStream

    async def complete(self, request: ChatRequest, *, api_key: str, base_url: str,
                       on_text: OnText | None = None, http_client: Any = None,
                       timeout: float = READ_TIMEOUT_SECONDS,
                       deadline: float = DEADLINE_SECONDS) -> ChatAnswer:
        """Streams one answer, calling `on_text` with the text so far as it grows."""
        module = sdk(self.sdk)
        client = getattr(module, self.client_class)(
            api_key=api_key, base_url=base_url, max_retries=0, timeout=timeout,
            http_client=http_client)
        try:
            async with sdk_errors(self.provider, module, timeout=timeout, deadline=deadline):
                return await self.read_stream(client, request, on_text)
        finally:
            await client.close()


def grown(provider: str, text: str, more: str, on_text: OnText | None) -> str:
    """The answer so far with `more` added, shown to `on_text`; an answer past
    MAX_ANSWER_CHARS is refused, so a runaway stream cannot fill the worker's memory."""
    text += more
    if len(text) > MAX_ANSWER_CHARS:
        raise ProviderError(f"{provider} answered more than {MAX_ANSWER_CHARS:,} characters")
    if on_text is not None:
        on_text(text)
    return text


def request_body(request: ChatRequest) -> dict[str, Any]:
    system = request.system
    if request.json_mode and "json" not in (system + request.prompt).lower():
        # OpenAI refuses json_object mode unless the messages mention JSON.
        system = f"{system}\n\n{JSON_HINT}".strip()
    messages: list[dict[str, Any]] = [{"role": "system", "content": system}] if system else []
    messages += [{"role": role, "content": text} for role, text in request.history]
    if request.image is None:
        messages.append({"role": "user", "content": request.prompt})
    else:
        messages.append({"role": "user", "content": [
            {"type": "text", "text": request.prompt},
            {"type": "image_url", "image_url": {"url": request.image.data_url}}]})
    body: dict[str, Any] = {"model": request.model, "messages": messages, "stream": True,
                            "stream_options": {"include_usage": True}}
    if request.model.startswith(REASONING_PREFIXES):
        body["max_completion_tokens"] = request.max_tokens
    else:
        body["max_tokens"] = request.max_tokens
        body["temperature"] = request.temperature
    if request.json_schema is not None:
        body["response_format"] = {"type": "json_schema", "json_schema": {
            "name": request.schema_name, "schema": dict(request.json_schema), "strict": True}}
    elif request.json_mode:
        body["response_format"] = {"type": "json_object"}
    return body


async def _stream(client: openai.AsyncOpenAI, request: ChatRequest,
                  on_text: OnText | None) -> ChatAnswer:
    stream = await client.chat.completions.create(**request_body(request))
    text, model, usage, stop, simulated = "", request.model, None, None, False
    async for chunk in stream:
        model = chunk.model or model
        simulated = simulated or chunk.system_fingerprint == SIM_FINGERPRINT
        usage = chunk.usage or usage
        for choice in chunk.choices[:1]:
            stop = choice.finish_reason or stop
            if choice.delta.content:
                text = grown(PROVIDER, text, choice.delta.content, on_text)
    if usage is None:  # some compatible servers ignore include_usage
        return ChatAnswer(text, model, 0, 0, stop, simulated)
    return ChatAnswer(text, model, usage.prompt_tokens, usage.completion_tokens, stop, simulated)


complete = SdkChat(PROVIDER, "openai", "AsyncOpenAI", _stream).complete

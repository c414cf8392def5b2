"""A streamed Claude message over the official `anthropic` SDK (Anthropic, or the built-in
simulator at the same protocol).

    POST {base_url}/v1/messages  {model, max_tokens, system?, messages, temperature, stream: true}
    x-api-key, anthropic-version

Events: message_start (the input tokens), content_block_delta (text_delta), message_delta
(stop_reason and the output tokens so far), message_stop. Anthropic has no JSON mode: the
system prompt asks for one JSON object and the node parses the answer. Failures become
ProviderError exactly as in openai_chat (the SDK's own retries are off).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .openai_chat import ChatAnswer, ChatRequest, OnText, SdkChat, grown

if TYPE_CHECKING:
    import anthropic

PROVIDER = "anthropic"
SIM_ID_PREFIX = "msg_sim"  # the simulator's message ids: "simulated" in the output
JSON_INSTRUCTION = ("Answer with one JSON object only: no text before or after it and no "
                    "code fences.")


def request_body(request: ChatRequest) -> dict[str, Any]:
    system = f"{request.system}\n\n{JSON_INSTRUCTION}".strip() if request.json_mode \
        else request.system
    content: Any = request.prompt
    if request.image is not None:
        source = {"type": "url", "url": request.image.url} if request.image.url else {
            "type": "base64", "data": request.image.base64,
            "media_type": request.image.media_type}
        content = [{"type": "image", "source": source},
                   {"type": "text", "text": request.prompt}]
    messages = [{"role": role, "content": text} for role, text in request.history]
    body: dict[str, Any] = {"model": request.model, "max_tokens": request.max_tokens,
                            "messages": [*messages, {"role": "user", "content": content}],
                            "stream": True,
                            # This SDK has no temperature argument; the API still reads it.
                            "extra_body": {"temperature": request.temperature}}
    if system:
        body["system"] = system
    if request.json_schema is not None:
        # The answer is the forced tool's input; its JSON streams as input_json_delta.
        body["tools"] = [{"name": request.schema_name, "input_schema": dict(request.json_schema),
                          "description": "Answer by calling this tool with the result."}]
        body["tool_choice"] = {"type": "tool", "name": request.schema_name}
    return body


async def _stream(client: anthropic.AsyncAnthropic, request: ChatRequest,
                  on_text: OnText | None) -> ChatAnswer:
    stream = await client.messages.create(**request_body(request))
    text, model, stop, simulated = "", request.model, None, False
    input_tokens = output_tokens = 0
    async for event in stream:
        if event.type == "message_start":
            model = event.message.model or model
            simulated = event.message.id.startswith(SIM_ID_PREFIX)
            input_tokens = _input_tokens(event.message.usage)
            output_tokens = event.message.usage.output_tokens
        elif event.type == "content_block_delta" and event.delta.type in (
                "text_delta", "input_json_delta"):  # the latter: a forced tool's input
            text = grown(PROVIDER, text, _delta_text(event.delta), on_text)
        elif event.type == "message_delta":
            stop = event.delta.stop_reason or stop
            output_tokens = event.usage.output_tokens  # cumulative
            input_tokens = _input_tokens(event.usage) or input_tokens
    return ChatAnswer(text, model, input_tokens, output_tokens, stop, simulated)


complete = SdkChat(PROVIDER, "anthropic", "AsyncAnthropic", _stream).complete


def _delta_text(delta: Any) -> str:
    return str(delta.text if delta.type == "text_delta" else delta.partial_json)


def _input_tokens(usage: Any) -> int:
    """Input tokens, counting those read from and written to the prompt cache (billed too)."""
    return sum(int(getattr(usage, name, None) or 0) for name in (
        "input_tokens", "cache_creation_input_tokens", "cache_read_input_tokens"))

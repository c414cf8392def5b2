"""The simulated Anthropic Messages API, at /_sim/anthropic/v1/messages.

Answers like Anthropic: a `message` body, or with `stream: true` the events message_start,
content_block_start, ping, content_block_delta (text_delta) per word, content_block_stop,
message_delta (stop_reason, usage.output_tokens) and message_stop. Errors are
`{"type": "error", "error": {type, message}, "request_id"}` (429 rate_limit_error with
retry-after, 529 overloaded_error, 400 invalid_request_error, 401 authentication_error).

The key is `x-api-key` or a bearer token (with `anthropic-version`): the simulator's own or a
team's stored one.
Replies, directives, latency, counting and key fingerprints work as in openai_chat.py. Message
ids start with `msg_sim`, which is how the client tells the simulator answered.
"""

from __future__ import annotations

import asyncio
import json
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.http import HttpRequest, JsonResponse

from .openai_chat import (
    GRAPH_SCHEMA,
    MAX_MESSAGES,
    MAX_MODEL_CHARS,
    MAX_TOKENS_LIMIT,
    Plan,
    Refusal,
    bounded_int,
    content_text,
    counted_directives,
    key_matches,
    latency_of,
    plan_view,
    read_json,
    reply_pieces,
    sse,
    tally_views,
    text_tokens,
)
from .tally import Tally

tally = Tally("sim:anthropic:", ("requests", "refused"))
ERROR_TYPES = {400: "invalid_request_error", 401: "authentication_error",
               403: "permission_error", 404: "not_found_error", 405: "invalid_request_error",
               413: "request_too_large", 429: "rate_limit_error", 500: "api_error",
               529: "overloaded_error"}
STOP_REASONS = {"stop": "end_turn", "length": "max_tokens"}
TOOL_STOP = "tool_use"


@dataclass(frozen=True)
class _Request:
    model: str
    system: str
    messages: list[tuple[str, str]]
    max_tokens: int


def anthropic_error(refusal: Refusal) -> JsonResponse:
    kind = ERROR_TYPES.get(refusal.http_status, refusal.error_type)
    if refusal.error_type in ERROR_TYPES.values():
        kind = refusal.error_type
    response = JsonResponse({"type": "error", "error": {"type": kind, "message": refusal.message},
                             "request_id": "req_sim" + secrets.token_hex(12)},
                            status=refusal.http_status)
    for name, value in refusal.headers.items():
        response[name] = value
    return response


def _parse(body: dict[str, Any]) -> _Request:
    model = body.get("model")
    if not isinstance(model, str) or not model or len(model) > MAX_MODEL_CHARS:
        raise Refusal(400, "invalid_request_error", "model: Field required")
    if "max_tokens" not in body:
        raise Refusal(400, "invalid_request_error", "max_tokens: Field required")
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages or len(messages) > MAX_MESSAGES:
        raise Refusal(400, "invalid_request_error", "messages: at least one message is required")
    found = []
    for message in messages:
        if not isinstance(message, dict) or message.get("role") not in ("user", "assistant"):
            raise Refusal(400, "invalid_request_error",
                          "messages: each message's role must be user or assistant")
        found.append((str(message["role"]), content_text(message.get("content"))))
    temperature = body.get("temperature", 1.0)
    if isinstance(temperature, bool) or not isinstance(temperature, int | float) \
            or not 0 <= temperature <= 1:
        raise Refusal(400, "invalid_request_error",
                      "temperature: range: 0 <= temperature <= 1")
    return _Request(model, content_text(body.get("system")), found,
                    bounded_int(body, "max_tokens", default=MAX_TOKENS_LIMIT))


def _key_of(request: HttpRequest) -> str:
    """`x-api-key`, or `Authorization: Bearer` (how the 2.x SDK sends an api_key)."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    return request.headers.get("x-api-key", "").strip() or (
        token.strip() if scheme == "Bearer" else "")


def admit(request: HttpRequest) -> Plan:
    _check(request, "POST")
    key = _key_of(request)
    if not request.headers.get("anthropic-version"):
        raise Refusal(400, "invalid_request_error",
                      "anthropic-version: header is required")
    body = read_json(request)
    parsed = _parse(body)
    texts = [parsed.system, *(text for _, text in parsed.messages)]
    directives = counted_directives(tally, body, texts, key, "anthropic")
    json_mode = "json" in parsed.system.lower()  # asked for in the system prompt
    tool = _graph_tool(body)
    pieces, finish = reply_pieces(parsed.messages, directives, graph=bool(tool),
                                  json_mode=json_mode, max_tokens=parsed.max_tokens)
    return Plan(model=parsed.model, pieces=pieces, finish=finish,
                prompt_tokens=sum(text_tokens(text) + 4 for text in texts if text) + 3,
                latency=latency_of(directives), hang=directives.hang,
                stream=body.get("stream") is True, include_usage=True, tool=tool)


def _graph_tool(body: dict[str, Any]) -> str:
    """GRAPH_SCHEMA when the request forces the workflow-generation tool, else ""."""
    choice, tools = body.get("tool_choice"), body.get("tools")
    if not isinstance(choice, dict) or choice.get("name") != GRAPH_SCHEMA:
        return ""
    named = isinstance(tools, list) and any(
        isinstance(tool, dict) and tool.get("name") == GRAPH_SCHEMA for tool in tools[:100])
    return GRAPH_SCHEMA if named else ""


def _stop_reason(plan: Plan) -> str:
    return TOOL_STOP if plan.tool and plan.finish == "stop" else STOP_REASONS[plan.finish]


def _message(plan: Plan, message_id: str, content: list[dict[str, Any]], stop: str | None,
             output_tokens: int) -> dict[str, Any]:
    return {"id": message_id, "type": "message", "role": "assistant", "model": plan.model,
            "content": content, "stop_reason": stop, "stop_sequence": None,
            "usage": {"input_tokens": plan.prompt_tokens, "output_tokens": output_tokens,
                      "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0,
                      "service_tier": "standard"}}


def message_body(plan: Plan) -> dict[str, Any]:
    return _message(plan, _new_id(), [_whole_block(plan)], _stop_reason(plan),
                    len(plan.pieces))


def _whole_block(plan: Plan) -> dict[str, Any]:
    text = "".join(plan.pieces)
    if not plan.tool:
        return {"type": "text", "text": text}
    try:
        tool_input = json.loads(text)
    except ValueError:  # cut at max_tokens: Anthropic then sends what it parsed, here nothing
        tool_input = {}
    return {"type": "tool_use", "id": _tool_id(), "name": plan.tool, "input": tool_input}


def _tool_id() -> str:
    return "toolu_sim" + secrets.token_hex(12)


def _delta(plan: Plan, piece: str) -> dict[str, Any]:
    if plan.tool:
        return {"type": "input_json_delta", "partial_json": piece}
    return {"type": "text_delta", "text": piece}


async def events(plan: Plan) -> AsyncIterator[bytes]:
    start = _message(plan, _new_id(), [], None, 1)
    yield sse({"type": "message_start", "message": start}, "message_start")
    block = {"type": "tool_use", "id": _tool_id(), "name": plan.tool, "input": {}} \
        if plan.tool else {"type": "text", "text": ""}
    yield sse({"type": "content_block_start", "index": 0, "content_block": block},
              "content_block_start")
    yield sse({"type": "ping"}, "ping")
    for i, piece in enumerate(plan.pieces):
        if i:
            await asyncio.sleep(plan.gap)
        yield sse({"type": "content_block_delta", "index": 0, "delta": _delta(plan, piece)},
                  "content_block_delta")
    yield sse({"type": "content_block_stop", "index": 0}, "content_block_stop")
    yield sse({"type": "message_delta",
               "delta": {"stop_reason": _stop_reason(plan), "stop_sequence": None},
               "usage": {"output_tokens": len(plan.pieces)}}, "message_delta")
    yield sse({"type": "message_stop"}, "message_stop")


def _new_id() -> str:
    return "msg_sim" + secrets.token_hex(12)


messages_view = plan_view(admit, events, message_body, anthropic_error, lambda: Refusal(
    529, "overloaded_error", "Simulated hang ended."))


def _check(request: HttpRequest, method: str) -> None:
    """The simulator is on, the request's key is one it takes and its method is `method`."""
    if not settings.SIMULATORS_ENABLED:
        raise Refusal(404, "not_found_error", "Not found")
    if not key_matches(_key_of(request), "anthropic"):
        raise Refusal(401, "authentication_error", "invalid x-api-key")
    if request.method != method:
        raise Refusal(405, "invalid_request_error", f"Method {request.method} not allowed")


stats_view, reset_view = tally_views(tally, _check, anthropic_error)

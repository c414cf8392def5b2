"""A workflow built from a sentence: POST /workflows/generate/stream (Server-Sent Events)."""

import json
from collections.abc import AsyncIterator
from typing import Any

from django.http import HttpRequest, StreamingHttpResponse
from ninja import Router, Schema
from pydantic import Field, field_validator

from accounts.auth import ApiAuth, caller_of
from accounts.scopes import WORKFLOWS_WRITE

from . import generate
from .schemas import COMMON_ERRORS, ErrorOut, storable

router = Router(tags=["workflows"])

SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
_STREAM_DOC = (
    "A `text/event-stream` of `event:` / `data:` (JSON) frames: `progress` "
    "`{stage, text, attempt}` (stage `asking`, `model` — the model's text as it streams, `text` "
    "being the new part —, `checking`, `repairing`, `valid`), then `workflow` `{nodes, edges}` "
    "(the React Flow graph, laid out left to right, passing lint) and `done` `{modelCalls, "
    "repairs, provider, model, simulated}`; or instead `error` `{error, code[, violations]}` "
    "(code `invalid_graph` after 2 failed repairs, `provider_error`, `timeout`). The stream "
    "ends after `done` or `error`. Nothing is saved.")
# One event (before OpenAPI 3.2's itemSchema, an event stream's `schema` describes each event).
_EVENT_SCHEMA = {"type": "object", "required": ["event", "data"], "properties": {
    "event": {"type": "string", "enum": ["progress", "workflow", "done", "error"]},
    "data": {"type": "string", "contentMediaType": "application/json",
             "contentSchema": {"type": "object"}}}}
_OPENAPI = {"responses": {200: {
    "description": _STREAM_DOC,
    "content": {"text/event-stream": {"schema": _EVENT_SCHEMA}}}}}


class GenerateIn(Schema):
    prompt: str = Field(min_length=1, max_length=generate.MAX_PROMPT_CHARS,
                        description="What the workflow should do, in a sentence.")

    @field_validator("prompt")
    @classmethod
    def _prompt_written(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("write what the workflow should do")
        return str(storable(value.strip()))


@router.post("/generate/stream", auth=ApiAuth(WORKFLOWS_WRITE),
             response={200: None, 409: ErrorOut, **COMMON_ERRORS}, openapi_extra=_OPENAPI,
             summary="Build a workflow from a sentence with the team's LLM (Server-Sent Events)")
def generate_stream(request: HttpRequest, payload: GenerateIn) -> StreamingHttpResponse:
    caller = caller_of(request)
    generator = generate.generator_for(caller.user, caller.team)
    response = StreamingHttpResponse(_frames(generate.generate_events(payload.prompt,
                                                                      generator)),
                                     content_type="text/event-stream")
    for name, value in SSE_HEADERS.items():
        response[name] = value
    return response


async def _frames(events: AsyncIterator[tuple[str, dict[str, Any]]]) -> AsyncIterator[bytes]:
    async for name, data in events:
        yield f"event: {name}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n".encode()

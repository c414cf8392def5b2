"""The simulated OpenAI chat completions API, at /_sim/openai/v1/chat/completions.

Answers like OpenAI: a `chat.completion` body, or with `stream: true` server-sent
`chat.completion.chunk` events (a final one with `usage` and no choices when
`stream_options.include_usage`), then `data: [DONE]`. Errors are OpenAI's
`{"error": {message, type, param, code}}`. The reply is deterministic, built from the last user
message with the directives stripped (a JSON object in json_object mode), sent a word at a time
and spread over the latency; `[sim hang]` sends nothing (for at most HANG_SECONDS). Usage:
prompt tokens from the messages' size (about a word each; never more than the node's
pre-run bound, see workflows/nodes/llm.py), completion tokens = chunks sent (≤ max_tokens).

The key is `Authorization: Bearer <key>`: the simulator's own (credentials.simulator_key) or a
team's stored one. Each request is counted, with a fingerprint of its key (`_chat_stats`).
The helpers here (replies, counting, plans) serve the Anthropic simulator too. Streaming views
are async over async generators: under ASGI a sync iterator would be buffered whole.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import math
import re
import secrets
import time
from collections.abc import AsyncIterator, Callable, Coroutine
from dataclasses import dataclass
from typing import Any

from asgiref.sync import sync_to_async
from django.conf import settings
from django.http import HttpRequest, JsonResponse, StreamingHttpResponse
from django.http.response import HttpResponseBase as HttpResponse
from django.views.decorators.csrf import csrf_exempt

from executions.providers.credentials import is_a_team_key, simulator_key

from . import state
from .directives import Directives, parse_directives, strip_directives
from .tally import Tally
from .views import json_object

logger = logging.getLogger("wireflow.simulators")
TTL_SECONDS = 24 * 3600
HANG_SECONDS = 600.0
MAX_REPLY_WORDS = 400
MAX_TOKENS_LIMIT = 128_000
MAX_MESSAGES = 1000
MAX_MODEL_CHARS = 256
TITLE_WORDS = 8
SIM_FINGERPRINT = "wireflow-sim"
View = Callable[[HttpRequest], Coroutine[Any, Any, HttpResponse]]  # an async Django view


class Refusal(Exception):
    """An error answer: status, the error's type and message, extra headers."""

    def __init__(self, http_status: int, error_type: str, message: str,
                 code: str | None = None, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.http_status = http_status
        self.error_type = error_type
        self.message = message
        self.code = code
        self.headers = headers or {}


# --- Counting (executions/simulators/tally.py) ----------------------------------------------

tally = Tally("sim:openai-chat:", ("requests", "refused"))


# --- What the simulated model answers ------------------------------------------------------

@dataclass(frozen=True)
class Plan:
    """One admitted request: what to send and how slowly."""
    model: str
    pieces: list[str]
    finish: str  # "stop" or "length"
    prompt_tokens: int
    latency: float
    hang: bool
    stream: bool
    include_usage: bool
    tool: str = ""  # Anthropic: the pieces are this forced tool's input JSON

    @property
    def gap(self) -> float:
        """Seconds between two pieces: the whole stream spread over the latency."""
        return self.latency / max(1, len(self.pieces) - 1)


def reply_text(prompt: str, json_mode: bool) -> str:
    """A title-like sentence from the prompt's words (after its last colon, if any)."""
    words = prompt.split()[:MAX_REPLY_WORDS]
    topic = prompt.rpartition(":")[2].split()[:TITLE_WORDS] or words[:TITLE_WORDS]
    title = " ".join(word.capitalize() for word in topic) or "Nothing"
    text = f"{title}: a simulated answer to “{' '.join(words)}”"
    if json_mode:
        return json.dumps({"answer": text, "words": len(words), "simulated": True},
                          ensure_ascii=False)
    return text


def pieces_of(text: str, max_tokens: int) -> tuple[list[str], str]:
    """The text a word at a time (each word with its following space), cut at max_tokens."""
    words = text.split(" ")
    pieces = [word + " " for word in words[:-1]] + words[-1:]
    if len(pieces) > max_tokens:
        return pieces[:max_tokens], "length"
    return pieces, "stop"


def text_tokens(text: str) -> int:
    """About a word of English each; never above the node's bound (UTF-8 bytes / 3 + 1)."""
    return math.ceil(len(text.encode()) / 4)


def latency_of(directives: Directives) -> float:
    return state.default_latency() if directives.latency is None else directives.latency


def key_matches(key: str, provider: str) -> bool:
    return bool(key) and (hmac.compare_digest(key.encode(), simulator_key(provider).encode())
                          or is_a_team_key(provider, key))


def read_json(request: HttpRequest) -> dict[str, Any]:
    return json_object(
        request, too_large=Refusal(413, "invalid_request_error", "Request too large."),
        invalid=lambda _: Refusal(400, "invalid_request_error",
                                  "We could not parse the JSON body of your request."),
        not_object=Refusal(400, "invalid_request_error", "The body must be a JSON object."))


def bounded_int(body: dict[str, Any], *names: str, default: int) -> int:
    for name in names:
        value = body.get(name)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int) \
                or not 1 <= value <= MAX_TOKENS_LIMIT:
            raise Refusal(400, "invalid_request_error",
                          f"Invalid '{name}': expected an integer from 1 to "
                          f"{MAX_TOKENS_LIMIT}.", "invalid_value")
        number: int = value
        return number
    return default


def sse(data: dict[str, Any], event: str | None = None) -> bytes:
    head = f"event: {event}\n" if event else ""
    return f"{head}data: {json.dumps(data, ensure_ascii=False)}\n\n".encode()


async def hang() -> AsyncIterator[bytes]:
    """Sends nothing and ends after HANG_SECONDS (a client that leaves cancels it sooner)."""
    await asyncio.sleep(HANG_SECONDS)
    for _ in ():
        yield b""


# --- Workflow generation (workflows/generate.py) -------------------------------------------
# A request whose answer must follow the schema (OpenAI) or call the tool (Anthropic) named
# GRAPH_SCHEMA gets a plausible, valid workflow for the kinds its request names, in the
# generator's wire format; with `[sim invalid=N]` the first N answers of a conversation break
# the graph rules (the assistant turns before the last message count the answers so far).

GRAPH_SCHEMA = "wireflow_graph"
_REQUEST = re.compile(r"<request>(.*?)</request>", re.DOTALL)
_KINDS: dict[str, tuple[str, ...]] = {  # word prefixes that name each kind
    "text": ("title", "caption", "text", "script", "story", "poem", "summar", "writ",
             "headline", "tagline", "slogan", "article", "blog"),
    "image": ("image", "picture", "photo", "illustrat", "drawing", "painting", "poster",
              "logo", "render", "portrait"),
    "edit": ("edit", "retouch", "restyl", "modif"),
    "upscale": ("upscal", "enlarg", "sharpen", "hd", "4k", "8k", "highres"),
    "video": ("video", "animat", "clip", "movie", "film"),
    "voice": ("voice", "speech", "speak", "spoken", "narrat", "tts", "audio"),
    "talking": ("talking", "avatar", "lipsync", "presenter", "spokes"),
}
_OWN = {"my", "our", "uploaded", "existing", "own"}  # the image is the user's, not generated
_MAIN_OUTPUT = {"llm:chat": "text", "generate:flux_2": "image", "edit:flux_2_edit": "image",
                "upscale:crystal_upscaler": "image", "video:kling_video_2_5_i2v": "video",
                "audio:tts": "audio", "talking:veed_fabric": "video", "input:image": "image"}


def kinds_named(sentence: str) -> set[str]:
    """The kinds the sentence names, and "own" when it speaks of the user's own image."""
    words = re.findall(r"[a-z0-9]+", sentence.lower())
    kinds = {kind for kind, stems in _KINDS.items()
             if any(word.startswith(stems) for word in words)}
    return kinds | ({"own"} if _OWN & set(words) and kinds - {"text", "voice"} else set())


class _Graph:
    def __init__(self) -> None:
        self.nodes: list[dict[str, Any]] = []
        self.edges: list[dict[str, str]] = []

    def add(self, node_type: str, label: str, **params: Any) -> str:
        node_id = f"n{len(self.nodes) + 1}"
        self.nodes.append({"id": node_id, "nodeType": node_type, "label": label, "params": [
            {"name": name, "value": value} for name, value in params.items()]})
        return node_id

    def wire(self, source: str, out: str, target: str, into: str) -> None:
        self.edges.append({"source": source, "sourcePort": out, "target": target,
                           "targetPort": into})

    def type_of(self, node_id: str) -> str:
        return str(next(n["nodeType"] for n in self.nodes if n["id"] == node_id))


def workflow_for(sentence: str) -> dict[str, Any]:
    """Prompt → (writer) → image → edit → upscale → video, voice → talking head → result:
    the parts the sentence names, in that order; a writer alone when it names none."""
    kinds = kinds_named(sentence) or {"text"}
    g = _Graph()
    prompt = g.add("input:text", "Prompt", text=sentence or "a red fox in the snow")
    text = prompt
    if "text" in kinds:
        text = g.add("llm:chat", "Writer", system="Write a short title or caption for this.")
        g.wire(prompt, "text", text, "prompt")
    image = _image_chain(g, kinds, prompt)
    if "video" in kinds and image:
        video = g.add("video:kling_video_2_5_i2v", "Video")
        g.wire(prompt, "text", video, "prompt")
        g.wire(image, "image", video, "image_url")
    if kinds & {"voice", "talking"}:
        voice = g.add("audio:tts", "Voice")
        g.wire(text, "text", voice, "text")
        if "talking" in kinds and image:
            talking = g.add("talking:veed_fabric", "Talking head", resolution="720p")
            g.wire(image, "image", talking, "image_url")
            g.wire(voice, "audio", talking, "audio_url")
    result = g.add("output:result", "Result")
    fed = {edge["source"] for edge in g.edges}
    for node in g.nodes[1:-1]:
        if node["id"] not in fed:
            g.wire(node["id"], _MAIN_OUTPUT[node["nodeType"]], result, "value")
    return {"nodes": g.nodes, "edges": g.edges}


def _image_chain(g: _Graph, kinds: set[str], prompt: str) -> str:
    """The image the later parts use (its node id), or "" when nothing needs one."""
    if not kinds & {"image", "edit", "upscale", "video", "talking"}:
        return ""
    if "own" in kinds or ("edit" in kinds and "image" not in kinds):
        image = g.add("input:image", "Photo")
    else:
        image = g.add("generate:flux_2", "Image")
        g.wire(prompt, "text", image, "prompt")
    if "edit" in kinds:
        edit = g.add("edit:flux_2_edit", "Edit")
        g.wire(prompt, "text", edit, "prompt")
        g.wire(image, "image", edit, "image_urls")
        image = edit
    if "upscale" in kinds:
        upscaled = g.add("upscale:crystal_upscaler", "Upscale")
        g.wire(image, "image", upscaled, "image_url")
        image = upscaled
    return image


def broken(workflow: dict[str, Any]) -> dict[str, Any]:
    """The workflow with its first edge led into a port that does not exist."""
    first, *rest = workflow["edges"]
    return {**workflow, "edges": [{**first, "targetPort": "nothing"}, *rest]}


def graph_reply(messages: list[tuple[str, str]], directives: Directives) -> str:
    """The JSON answer to a generation request: the request is the first user message's
    <request> block; the answers so far are the assistant turns."""
    first = next((text for role, text in messages if role == "user"), "")
    found = _REQUEST.search(first)
    sentence = strip_directives(found.group(1) if found else first)[:MAX_REPLY_WORDS * 8]
    answered = sum(1 for role, _ in messages if role == "assistant")
    workflow = workflow_for(sentence)
    if answered < directives.invalid_answers:
        workflow = broken(workflow)
    return json.dumps(workflow, ensure_ascii=False)


def is_graph_request(body: dict[str, Any]) -> bool:
    format_ = body.get("response_format")
    schema = format_.get("json_schema") if isinstance(format_, dict) else None
    return isinstance(schema, dict) and schema.get("name") == GRAPH_SCHEMA


# --- The OpenAI protocol -------------------------------------------------------------------

def content_text(content: object) -> str:
    """A message's text: a string, or the text parts of a list of content parts (OpenAI's
    parts and Anthropic's content blocks alike: `{"type": "text", "text": ...}`)."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(str(part.get("text", "")) for part in content[:MAX_MESSAGES]
                        if isinstance(part, dict) and part.get("type") == "text")
    return ""


def _messages(body: dict[str, Any]) -> list[tuple[str, str]]:
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise Refusal(400, "invalid_request_error",
                      "Invalid 'messages': expected a non-empty array.", "invalid_value")
    if len(messages) > MAX_MESSAGES:
        raise Refusal(400, "invalid_request_error", "Too many messages.", "invalid_value")
    found = []
    for message in messages:
        if not isinstance(message, dict) or not isinstance(message.get("role"), str):
            raise Refusal(400, "invalid_request_error",
                          "Invalid 'messages': each needs a role.", "invalid_value")
        found.append((message["role"], content_text(message.get("content"))))
    return found


def _model(body: dict[str, Any]) -> str:
    model = body.get("model")
    if not isinstance(model, str) or not model or len(model) > MAX_MODEL_CHARS:
        raise Refusal(400, "invalid_request_error", "you must provide a model parameter",
                      "missing_required_parameter")
    return model


def _json_mode(body: dict[str, Any], texts: list[str]) -> bool:
    format_ = body.get("response_format")
    if not isinstance(format_, dict) or format_.get("type") != "json_object":
        return False
    if not any("json" in text.lower() for text in texts):
        raise Refusal(400, "invalid_request_error",
                      "'messages' must contain the word 'json' in some form, to use "
                      "'response_format' of type 'json_object'.")
    return True


def injected(directives: Directives, attempt: int, provider: str) -> Refusal:
    status = directives.fail_status or 500
    if status in (429, 503, 529):
        kind = "overloaded_error" if status == 529 else "rate_limit_error" \
            if provider == "anthropic" else "requests"
        return Refusal(status, kind, f"Rate limit reached (simulated, attempt {attempt}). "
                       "Please try again in 1s.", "rate_limit_exceeded", {"Retry-After": "1"})
    if 400 <= status < 500:
        kind = {401: "authentication_error", 403: "permission_error",
                404: "not_found_error"}.get(status, "invalid_request_error")
        return Refusal(status, kind, f"Simulated invalid request ([sim fail={status}])",
                       "invalid_value")
    kind = "api_error" if provider == "anthropic" else "server_error"
    return Refusal(status, kind, f"The server had an error while processing your request "
                                 f"(simulated HTTP {status}, attempt {attempt}).")


def counted_directives(tally: Tally, body: dict[str, Any], texts: list[str], key: str,
                       provider: str) -> Directives:
    """The directives in the request's texts, once the request is counted under its key's
    fingerprint; a failure they inject into this attempt is raised instead, counted as
    refused (the attempts are counted only when a failure is asked for)."""
    directives = parse_directives(*texts)
    attempt = tally.attempt("chat", body) if directives.fail_status else 0
    if directives.submit_fails(attempt):
        tally.incr("refused")
        raise injected(directives, attempt, provider)
    tally.count("requests", state.key_fingerprint(key))
    return directives


def reply_pieces(messages: list[tuple[str, str]], directives: Directives, *, graph: bool,
                 json_mode: bool, max_tokens: int) -> tuple[list[str], str]:
    """The reply a word at a time and its finish: a workflow for a generation request, else
    a sentence from the last user message with the directives stripped."""
    last_user = next((text for role, text in reversed(messages) if role == "user"), "")
    reply = graph_reply(messages, directives) if graph \
        else reply_text(strip_directives(last_user), json_mode)
    return pieces_of(reply, max_tokens)


def admit(request: HttpRequest) -> Plan:
    """Everything before the answer (sync: the cache and the database): the key, the body,
    the directives, the count."""
    if not settings.SIMULATORS_ENABLED:
        raise Refusal(404, "invalid_request_error", "Not found.", "unknown_url")
    scheme, _, key = request.headers.get("Authorization", "").partition(" ")
    key = key.strip() if scheme == "Bearer" else ""
    if not key_matches(key, "openai"):
        raise Refusal(401, "invalid_request_error", "Incorrect API key provided. You can find "
                      "your API key at https://platform.openai.com/account/api-keys.",
                      "invalid_api_key")
    if request.method != "POST":
        raise Refusal(405, "invalid_request_error", f"Not allowed to {request.method} on "
                      f"{request.path}. (HINT: Perhaps you meant to use a different HTTP "
                      "method?)", "method_not_allowed")
    body = read_json(request)
    model, messages = _model(body), _messages(body)
    texts = [text for _, text in messages]
    json_mode = _json_mode(body, texts)
    max_tokens = bounded_int(body, "max_completion_tokens", "max_tokens",
                             default=MAX_TOKENS_LIMIT)
    directives = counted_directives(tally, body, texts, key, "openai")
    pieces, finish = reply_pieces(messages, directives, graph=is_graph_request(body),
                                  json_mode=json_mode, max_tokens=max_tokens)
    options = body.get("stream_options")
    return Plan(model=model, pieces=pieces, finish=finish,
                prompt_tokens=sum(text_tokens(text) + 4 for text in texts) + 3,
                latency=latency_of(directives), hang=directives.hang,
                stream=body.get("stream") is True,
                include_usage=isinstance(options, dict) and options.get("include_usage") is True)


def _usage(plan: Plan) -> dict[str, Any]:
    return {"prompt_tokens": plan.prompt_tokens, "completion_tokens": len(plan.pieces),
            "total_tokens": plan.prompt_tokens + len(plan.pieces),
            "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
            "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0,
                                          "accepted_prediction_tokens": 0,
                                          "rejected_prediction_tokens": 0}}


def _head(plan: Plan, completion_id: str, created: int, kind: str) -> dict[str, Any]:
    return {"id": completion_id, "object": kind, "created": created, "model": plan.model,
            "service_tier": "default", "system_fingerprint": SIM_FINGERPRINT}


def completion_body(plan: Plan) -> dict[str, Any]:
    head = _head(plan, _new_id(), int(time.time()), "chat.completion")
    message: dict[str, Any] = {"role": "assistant", "content": "".join(plan.pieces),
                               "refusal": None, "annotations": []}
    return {**head, "choices": [{"index": 0, "message": message, "logprobs": None,
                                 "finish_reason": plan.finish}], "usage": _usage(plan)}


async def chunks(plan: Plan) -> AsyncIterator[bytes]:
    head = _head(plan, _new_id(), int(time.time()), "chat.completion.chunk")
    usage: dict[str, Any] = {"usage": None} if plan.include_usage else {}

    def chunk(delta: dict[str, Any], finish: str | None = None) -> bytes:
        return sse({**head, "choices": [{"index": 0, "delta": delta, "logprobs": None,
                                         "finish_reason": finish}], **usage})

    yield chunk({"role": "assistant", "content": "", "refusal": None})
    for i, piece in enumerate(plan.pieces):
        if i:
            await asyncio.sleep(plan.gap)
        yield chunk({"content": piece})
    yield chunk({}, plan.finish)
    if plan.include_usage:
        yield sse({**head, "choices": [], "usage": _usage(plan)})
    yield b"data: [DONE]\n\n"


def _new_id() -> str:
    return "chatcmpl-sim" + secrets.token_hex(12)


def openai_error(refusal: Refusal) -> JsonResponse:
    response = JsonResponse({"error": {"message": refusal.message, "type": refusal.error_type,
                                       "param": None, "code": refusal.code}},
                            status=refusal.http_status)
    for name, value in refusal.headers.items():
        response[name] = value
    return response


def stream_response(events: AsyncIterator[bytes]) -> StreamingHttpResponse:
    response = StreamingHttpResponse(events, content_type="text/event-stream; charset=utf-8")
    response["Cache-Control"] = "no-cache"
    response["X-Accel-Buffering"] = "no"
    return response


async def guarded(request: HttpRequest, answer: Callable[[HttpRequest], Any],
                  error: Callable[[Refusal], HttpResponse]) -> HttpResponse:
    """Runs a view body, answering its Refusal, or a bug, in the provider's error shape."""
    try:
        response: HttpResponse = await answer(request)
        return response
    except Refusal as refusal:
        return error(refusal)
    except Exception:  # the simulator must answer like the provider even with a bug
        logger.exception("simulated %s failed", request.path)
        return error(Refusal(500, "server_error", "Internal simulator error"))


def plan_view(admit: Callable[[HttpRequest], Plan], events: Callable[[Plan], AsyncIterator[bytes]],
              body: Callable[[Plan], dict[str, Any]], error: Callable[[Refusal], HttpResponse],
              hang_ended: Callable[[], Refusal]) -> View:
    """A simulator's answering view: the request admitted (sync: the cache and the
    database), then its `events` streamed or its whole `body` sent after the latency, every
    Refusal in the provider's error shape. A hang sends nothing for HANG_SECONDS, then
    (unless streaming) refuses with `hang_ended()`."""
    async def answer(request: HttpRequest) -> HttpResponse:
        plan = await sync_to_async(admit)(request)
        if plan.hang:
            if plan.stream:
                return stream_response(hang())
            await asyncio.sleep(HANG_SECONDS)
            raise hang_ended()
        if plan.stream:
            return stream_response(events(plan))
        await asyncio.sleep(plan.latency)
        return JsonResponse(body(plan))

    @csrf_exempt
    async def view(request: HttpRequest) -> HttpResponse:
        return await guarded(request, answer, error)
    return view


chat_completions_view = plan_view(admit, chunks, completion_body, openai_error, lambda: Refusal(
    504, "server_error", "Simulated hang ended."))


def _check_admin(request: HttpRequest, method: str) -> None:
    if not settings.SIMULATORS_ENABLED:
        raise Refusal(404, "invalid_request_error", "Not found.", "unknown_url")
    scheme, _, key = request.headers.get("Authorization", "").partition(" ")
    if scheme != "Bearer" or not key_matches(key.strip(), "openai"):
        raise Refusal(401, "invalid_request_error", "Incorrect API key provided.",
                      "invalid_api_key")
    if request.method != method:
        raise Refusal(405, "invalid_request_error", "Method not allowed.", "method_not_allowed")


def tally_views(tally: Tally, check: Callable[[HttpRequest, str], None],
                render: Callable[[Refusal], JsonResponse]) -> tuple[Any, Any]:
    """A simulator's `_stats` (GET, `?key=<fingerprint>` for one key's count) and `_reset`
    (POST) views, behind its own key check and in its own error shape."""
    @csrf_exempt
    async def stats_view(request: HttpRequest) -> HttpResponse:
        async def answer(request: HttpRequest) -> HttpResponse:
            await sync_to_async(check)(request, "GET")
            key = request.GET.get("key", "")[:64] or None
            return JsonResponse(await sync_to_async(tally.stats)(key))
        return await guarded(request, answer, render)

    @csrf_exempt
    async def reset_view(request: HttpRequest) -> HttpResponse:
        async def answer(request: HttpRequest) -> HttpResponse:
            await sync_to_async(check)(request, "POST")
            await sync_to_async(tally.reset)()
            return JsonResponse({"reset": True})
        return await guarded(request, answer, render)

    return stats_view, reset_view


stats_view, reset_view = tally_views(tally, _check_admin, openai_error)

"""The simulated Stability AI Stable Image generate API, at /_sim/stability/v2beta/.

    POST /_sim/stability/v2beta/stable-image/generate/{core|ultra|sd3}
         multipart/form-data: prompt, negative_prompt, aspect_ratio, seed, output_format,
                              style_preset, model (sd3)
         accept: application/json -> {"image": <base64>, "finish_reason", "seed"}
         accept: image/*          -> the image's bytes, `finish-reason` and `seed` headers
    GET  /_sim/stability/_stats[?key=<fingerprint>]    POST /_sim/stability/_reset

The image is real: media.draw_image at the size Stability gives the aspect ratio (about one
megapixel), shrunk like every simulated image (media.scaled), encoded as asked. Directives in
the prompt ([sim latency=..], [sim fail=429x2], [sim fail=500], [sim fail=400], and
[sim fail=403] for a content-moderation refusal); `[sim filtered]` answers finish_reason
CONTENT_FILTERED. Every call needs `authorization: Bearer <key>`: the simulator's own key
(credentials.simulator_key) or a team's stored one; requests are counted with a fingerprint of
the key. Errors answer Stability's `{"id", "name", "errors": [...]}`. Nothing is answered while
SIMULATORS_ENABLED is off.
"""

from __future__ import annotations

import base64
import hmac
import logging
import secrets
import uuid
from collections.abc import Callable
from typing import Any

from asgiref.sync import sync_to_async
from django.http import HttpRequest, HttpResponse, JsonResponse

from executions.providers.credentials import is_a_team_key, simulator_key

from . import media, state
from .directives import parse_directives, strip_directives
from .tally import Tally
from .views import AsyncView, Refusal, simulator_view

logger = logging.getLogger("wireflow.simulators")
_PREFIX = "sim:stability:"
TTL_SECONDS = 24 * 3600
MAX_PROMPT_CHARS = 10_000
MAX_SEED = 4_294_967_294
# The sizes Stability answers for each aspect ratio (about one megapixel).
SIZES = {"1:1": (1024, 1024), "16:9": (1344, 768), "21:9": (1536, 640), "2:3": (832, 1216),
         "3:2": (1216, 832), "4:5": (896, 1088), "5:4": (1088, 896), "9:16": (768, 1344),
         "9:21": (640, 1536)}
FORMATS = {"core": ("png", "jpeg", "webp"), "ultra": ("png", "jpeg", "webp"),
           "sd3": ("png", "jpeg")}
SD3_MODELS = frozenset({"sd3.5-large", "sd3.5-large-turbo", "sd3.5-medium", "sd3.5-flash"})
STYLE_PRESETS = frozenset({
    "3d-model", "analog-film", "anime", "cinematic", "comic-book", "digital-art", "enhance",
    "fantasy-art", "isometric", "line-art", "low-poly", "modeling-compound", "neon-punk",
    "origami", "photographic", "pixel-art", "tile-texture"})
FILTERED_WORD = "[sim filtered]"
tally = Tally(_PREFIX, ("generations", "refused"))



class StabilityRefusal(Refusal):
    """An error answer in Stability's format."""

    def __init__(self, http_status: int, name: str, errors: list[str],
                 headers: dict[str, str] | None = None) -> None:
        super().__init__("; ".join(errors), http_status,
                         {"id": uuid.uuid4().hex, "name": name, "errors": errors}, headers)


def stability_view(method: str) -> Callable[[AsyncView], Any]:
    return simulator_view(
        # (_checked_key is defined below: looked up when a request comes.)
        method, provider="stability", checked_key=lambda request: _checked_key(request),
        refusal=lambda status, text: StabilityRefusal(
            status, "not_found" if status == 404 else "method_not_allowed", [text]),
        crashed=lambda: {"id": uuid.uuid4().hex, "name": "internal_error",
                         "errors": ["An unexpected server error has occurred, please try "
                                    "again later."]})


@stability_view("POST")
async def generate_view(request: HttpRequest, key: str, model: str) -> HttpResponse:
    if model not in FORMATS:
        raise StabilityRefusal(404, "not_found", [f"no such endpoint: {model[:40]}"])
    form = _form(request, model)
    await _obey(form)
    seed = form["seed"] or secrets.randbelow(MAX_SEED) + 1
    filtered = FILTERED_WORD in form["prompt"].lower()
    content, content_type = await sync_to_async(_draw, thread_sensitive=False)(
        form, model, seed)
    await sync_to_async(tally.count, thread_sensitive=False)(
        "generations", state.key_fingerprint(key))
    finish = "CONTENT_FILTERED" if filtered else "SUCCESS"
    if request.headers.get("accept", "").startswith("image/"):
        response = HttpResponse(content, content_type=content_type)
        response["finish-reason"] = finish
        response["seed"] = str(seed)
        return response
    return JsonResponse({"image": base64.b64encode(content).decode("ascii"),
                         "finish_reason": finish, "seed": seed, "simulated": True})


@stability_view("GET")
async def stats_view(request: HttpRequest, key: str) -> HttpResponse:
    return JsonResponse(await sync_to_async(tally.stats)(request.GET.get("key", "")[:64] or None))


@stability_view("POST")
async def reset_view(request: HttpRequest, key: str) -> HttpResponse:
    await sync_to_async(tally.reset)()
    return JsonResponse({"reset": True})


# --- The image -----------------------------------------------------------------------------

def _draw(form: dict[str, Any], model: str, seed: int) -> tuple[bytes, str]:
    size = media.scaled(SIZES[form["aspect_ratio"]])
    text = strip_directives(form["prompt"]).replace(FILTERED_WORD, "")[:500]
    label = form.get("model") or model
    image = media.draw_image(size, f"{text} ({label})", seed % 1_000_000)
    content, _, content_type = media.encode_image(image, form["output_format"])
    return content, content_type


def _form(request: HttpRequest, endpoint: str) -> dict[str, Any]:
    data = request.POST
    prompt = data.get("prompt", "")
    problems: list[str] = []
    if not prompt.strip():
        problems.append("prompt: cannot be empty")
    elif len(prompt) > MAX_PROMPT_CHARS:
        problems.append(f"prompt: must be at most {MAX_PROMPT_CHARS} characters")
    negative = data.get("negative_prompt", "")
    if len(negative) > MAX_PROMPT_CHARS:
        problems.append(f"negative_prompt: must be at most {MAX_PROMPT_CHARS} characters")
    aspect = data.get("aspect_ratio", "1:1")
    if aspect not in SIZES:
        problems.append(f"aspect_ratio: must be one of {', '.join(SIZES)}")
    fmt = data.get("output_format", "png")
    if fmt not in FORMATS[endpoint]:
        problems.append(f"output_format: must be one of {', '.join(FORMATS[endpoint])}")
    seed_text = data.get("seed", "0")
    seed = int(seed_text) if seed_text.isdigit() and len(seed_text) <= 10 else -1
    if not 0 <= seed <= MAX_SEED:
        problems.append(f"seed: must be an integer from 0 to {MAX_SEED}")
    style = data.get("style_preset", "")
    if style and style not in STYLE_PRESETS:
        problems.append(f"style_preset: must be one of {', '.join(sorted(STYLE_PRESETS))}")
    model = data.get("model", "")
    if endpoint == "sd3" and model and model not in SD3_MODELS:
        problems.append(f"model: must be one of {', '.join(sorted(SD3_MODELS))}")
    if problems:
        raise StabilityRefusal(400, "bad_request", problems)
    return {"prompt": prompt, "negative_prompt": negative, "aspect_ratio": aspect,
            "output_format": fmt, "seed": seed, "style_preset": style, "model": model,
            "endpoint": endpoint}


async def _obey(form: dict[str, Any]) -> None:
    directives = parse_directives(form["prompt"])
    failing = await tally.obey(directives, form["endpoint"], form)
    if failing:
        assert directives.fail_status is not None
        raise _injected(directives.fail_status, failing)


def _injected(status: int, attempt: int) -> StabilityRefusal:
    if status == 400:
        return StabilityRefusal(400, "bad_request",
                                ["prompt: simulated validation error ([sim fail=400])"])
    if status == 403:
        return StabilityRefusal(403, "content_moderation", [
            "Your request was flagged by our content moderation system, as a result your "
            "request was denied and you were not charged."])
    if status == 429:
        return StabilityRefusal(429, "rate_limit_exceeded", [
            f"You have exceeded the rate limit of 150 requests within a 10 second period "
            f"(simulated, attempt {attempt})."], headers={"Retry-After": "1"})
    if status < 500:
        return StabilityRefusal(status, "bad_request",
                                [f"simulated HTTP {status} error (attempt {attempt})"])
    return StabilityRefusal(status, "internal_error", [
        f"An unexpected server error has occurred, please try again later (simulated, "
        f"attempt {attempt})."])


# --- State ---------------------------------------------------------------------------------













def _token_of(request: HttpRequest) -> str:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


def _checked_key(request: HttpRequest) -> str:
    token = _token_of(request)
    if not token or not hmac.compare_digest(token.encode(),
                                            simulator_key("stability").encode()) \
            and not is_a_team_key("stability", token):
        raise StabilityRefusal(401, "unauthorized", ["authorization: invalid or missing "
                                                     "API key"])
    return token



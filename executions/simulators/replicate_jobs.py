"""The simulated Replicate predictions: create, get, cancel and the completion webhook.

Views (replicate.py) call these functions and only translate their answers to HTTP. Like the
fal simulator, a prediction's status follows from the clock (created + latency); a background
call (timers.py) renders its output once while it runs and, at its due time, when the create
named a `webhook`, POSTs the finished prediction there (deliveries.py, retried) through the
SSRF guard. State lives in the Django cache under its own prefix, so the fal simulator's
counters are untouched.
"""

import hashlib
import logging
import secrets
import time
from concurrent.futures import Future
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

from django.core.cache import cache

from executions.media import save_media

from . import deliveries, media, state, views
from .directives import Directives, parse_directives, strip_directives
from .tally import Tally
from .timers import drawing, timers

logger = logging.getLogger("wireflow.simulators")
_PREFIX = "sim:replicate:"
TTL_SECONDS = 24 * 3600
STEPS = 10
WEBHOOK_TRIES = 5
WEBHOOK_TIMEOUT_SECONDS = 5.0
WEBHOOK_MAX_ANSWER = 64 * 1024
IMAGE_WORDS = ("flux", "sdxl", "diffusion", "image", "imagen", "recraft", "ideogram", "photon",
               "kandinsky", "playground", "dall")
IMAGE_SIZE = (512, 384)
MAX_TOKENS = 200
_COUNTERS = ("submissions", "refused", "webhooks", "cancels")
# The counters, attempts and resets; per-key counts and stats are Replicate's own (below): its
# per-key counts are not reset with the rest.
tally = Tally(_PREFIX, _COUNTERS)
HELLO_WORLD_VERSION = "5c7d5dc6dd8bf75c1acaa8565735e7986bc5b66206b55cca93cb72c9bf15ccaa"


class Refusal(views.Refusal):
    """An error answer in Replicate's format: status, problem-details body, extra headers."""

    def __init__(self, http_status: int, title: str, detail: str,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(detail, http_status,
                         {"title": title, "detail": detail, "status": http_status}, headers)


@dataclass
class Run:
    id: str
    model: str  # "owner/name" ("" when created by a bare version id)
    version: str
    input: dict[str, Any]
    created_at: float
    latency: float
    hang: bool = False
    fail_job: bool = False
    webhook: str | None = None
    canceled_at: float | None = None
    key_seen: str = ""  # fingerprint of the token that created it: only it may ask again


def create(model: str, version: str, payload: dict[str, Any], webhook: str | None, *,
           key_seen: str) -> Run:
    directives = parse_directives(*(_text(payload.get(name))
                                    for name in ("prompt", "text", "simulate")))
    which = model or version
    # Attempts are counted per payload and per generation (a reset starts a new one).
    attempt = tally.attempt(which, payload) if directives.fail_status else 0
    if directives.submit_fails(attempt):
        tally.incr("refused")
        raise _injected(directives, attempt)
    latency = state.default_latency() if directives.latency is None else directives.latency
    run = Run(id=_new_id(), model=model, version=version or HELLO_WORLD_VERSION, input=payload,
              created_at=time.time(), latency=latency, hang=directives.hang,
              fail_job=directives.fail_job, webhook=webhook,
              key_seen=state.key_fingerprint(key_seen))
    _save(run)
    tally.incr("submissions")
    tally.incr(f"byKey:{run.key_seen}")
    if not run.hang:
        drawing.call_at(run.created_at + state.drawing_seconds(run.latency), prepare, run)
        timers.call_at(run.created_at + run.latency, complete, run.id, 1)
    return run


def prepare(run: Run) -> None:
    """Draw the output during the prediction's latency (see fal_jobs.prepare)."""
    if not run.fail_job and time.time() < run.created_at + run.latency:
        _output(run)


def find(prediction_id: str, key_seen: str) -> Run:
    run = _get(prediction_id)
    if run is None or run.key_seen != state.key_fingerprint(key_seen):
        raise Refusal(404, "Not found", "Not found.")
    return run


def cancel(run: Run) -> Run:
    """Stops a running prediction; a finished one is answered as it is (like Replicate)."""
    if status_of(run, time.time()) in ("starting", "processing"):
        run.canceled_at = time.time()
        _save(run)
        tally.incr("cancels")
        cache.set(f"{_PREFIX}canceled:{run.id}", True, TTL_SECONDS)
        if run.webhook:
            timers.call_at(time.time(), complete, run.id, 1)
    return run


def status_of(run: Run, now: float) -> str:
    if run.canceled_at is not None:
        return "canceled"
    elapsed = now - run.created_at
    if elapsed < min(run.latency * 0.2, 1.0):
        return "starting"
    if run.hang or elapsed < run.latency:
        return "processing"
    return "failed" if run.fail_job else "succeeded"


def body_of(run: Run, urls: dict[str, str], now: float | None = None) -> dict[str, Any]:
    """The prediction as Replicate shows it (every key of its API reference's examples)."""
    now = time.time() if now is None else now
    status = status_of(run, now)
    done = status in ("succeeded", "failed", "canceled")
    finished_at = run.canceled_at if run.canceled_at is not None \
        else run.created_at + run.latency
    output = _output(run) if status == "succeeded" else None
    return {
        "id": run.id, "model": run.model or "replicate/hello-world", "version": run.version,
        "input": run.input, "logs": _logs(run, now, status), "output": output,
        "data_removed": False,
        "error": "Simulated model failure ([sim fail=job])" if status == "failed" else None,
        "status": status, "source": "api", "created_at": _iso(run.created_at),
        "started_at": None if status == "starting" else _iso(run.created_at + 0.01),
        "completed_at": _iso(finished_at) if done else None,
        "metrics": {"predict_time": round(run.latency, 3)} if done else {},
        "urls": urls, "simulated": True,
    }


def complete(prediction_id: str, attempt: int) -> "Future[bool] | None":
    """Due-time work: the output (rendered once), then the webhook, retried with backoff.
    Returns the delivery in flight, if one was sent."""
    run = _get(prediction_id)
    if run is None or not run.webhook:
        return None
    from .replicate import prediction_urls  # the views know the routes

    body = body_of(run, prediction_urls(run.id), max(time.time(), run.created_at + run.latency)
                   if run.canceled_at is None else time.time())

    def delivered(ok: bool) -> None:
        if ok:
            tally.incr("webhooks")
        elif attempt < WEBHOOK_TRIES:
            timers.call_at(time.time() + 2 ** (attempt - 1), complete, prediction_id,
                           attempt + 1)

    return deliveries.post(run.webhook, body, what=f"replicate {prediction_id}",
                           timeout=WEBHOOK_TIMEOUT_SECONDS, max_answer=WEBHOOK_MAX_ANSWER,
                           done=delivered)


def stats(fingerprint: str | None = None) -> dict[str, Any]:
    found: dict[str, Any] = {name: int(cache.get(f"{_PREFIX}{name}") or 0)
                             for name in _COUNTERS}
    if fingerprint:
        found["byKey"] = {fingerprint: int(cache.get(f"{_PREFIX}byKey:{fingerprint}") or 0)}
    return found


def reset() -> None:
    tally.reset()


# --- Helpers -------------------------------------------------------------------------------

def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _new_id() -> str:
    # Replicate's ids: 26 lowercase base32 characters.
    alphabet = "abcdefghijklmnopqrstuvwxyz234567"
    return "".join(secrets.choice(alphabet) for _ in range(26))


def _iso(when: float) -> str:
    return datetime.fromtimestamp(when, UTC).isoformat().replace("+00:00", "Z")


def _save(run: Run) -> None:
    cache.set(f"{_PREFIX}pred:{run.id}", asdict(run), TTL_SECONDS)


def _get(prediction_id: str) -> Run | None:
    record = cache.get(f"{_PREFIX}pred:{prediction_id}")
    if not isinstance(record, dict):
        return None
    run = Run(**record)
    if run.canceled_at is None and cache.get(f"{_PREFIX}canceled:{run.id}"):
        run.canceled_at = time.time()
    return run


def _injected(directives: Directives, attempt: int) -> Refusal:
    status = directives.fail_status or 500
    if status == 400:  # a permanent validation error, as Replicate answers a bad input
        return Refusal(422, "Input validation failed",
                       "- input.prompt: Simulated validation error ([sim fail=400])")
    if status in (429, 503):
        return Refusal(status, "Request was throttled.",
                       f"Request was throttled. Expected available in 1 second. "
                       f"(simulated, attempt {attempt})", {"Retry-After": "1"})
    return Refusal(status, "Internal server error",
                   f"Simulated HTTP {status} error (attempt {attempt})")


def _logs(run: Run, now: float, status: str) -> str:
    if status == "starting":
        return ""
    if status == "processing":
        running = max(run.latency, 1e-6)
        step = min(STEPS - 1, int(min((now - run.created_at) / running, 0.99) * STEPS) + 1)
    else:
        step = STEPS
    lines = [f"Loading {run.model or run.version[:12]} (simulated)"]
    return "\n".join(lines + [f"step {i}/{STEPS}" for i in range(1, step + 1)])


def is_image_model(model: str) -> bool:
    name = model.lower()
    return any(word in name for word in IMAGE_WORDS)


def _output(run: Run) -> Any:
    """Rendered once per prediction (kept in the cache, so every poll names the same media)."""
    key = f"{_PREFIX}output:{run.id}"
    stored = cache.get(key)
    if stored is not None:
        return stored["value"]
    prompt = strip_directives(_text(run.input.get("prompt")) or _text(run.input.get("text"))
                              or "")
    if is_image_model(run.model):
        seed = int(hashlib.sha256(prompt.encode()).hexdigest()[:8], 16)
        content, ext, content_type = media.encode_image(
            media.draw_image(media.scaled(IMAGE_SIZE, 1.0), prompt or "replicate", seed), "png")
        value: Any = [save_media(content, ext, content_type, folder="sim")]
    else:
        words = f"Simulated {run.model or 'model'} answer to: {prompt}".split()[:MAX_TOKENS]
        value = [word + " " for word in words[:-1]] + words[-1:]
    if not cache.add(key, {"value": value}, TTL_SECONDS):
        stored = cache.get(key)
        return stored["value"] if stored is not None else value
    return value

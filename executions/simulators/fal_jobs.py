"""The simulated fal queue: submit, status, result, cancel and the completion webhook.

Views call these functions and only translate their answers to HTTP. A job finishes by the
clock. A background call (timers.py) renders its output once while the job runs and, at its
due time, when the submit named `fal_webhook`, POSTs fal's completion body there (deliveries.py:
retried, at least once) through the SSRF guard: the simulator runs inside the site, so it must
not post where users may not.
"""

import logging
import time
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from . import deliveries, state, views
from .directives import Directives, parse_directives
from .fal_models import family_for
from .media import MediaInputError
from .state import Job, Outcome, Phase
from .timers import drawing, timers

logger = logging.getLogger("wireflow.simulators")
WEBHOOK_TRIES = 5
WEBHOOK_TIMEOUT_SECONDS = 5.0
WEBHOOK_MAX_ANSWER = 64 * 1024  # what is read of the receiver's answer (it is not used)
CANCELLED = Outcome(400, {"detail": "Request was cancelled"}, "request_cancelled")


class Refusal(views.Refusal):
    """An error answer in fal's format: HTTP status, `detail`, extra headers."""

    def __init__(self, http_status: int, detail: str | list[dict[str, Any]],
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(str(detail), http_status, {"detail": detail}, headers)


@dataclass(frozen=True)
class Report:
    """What a status poll shows."""
    phase: Phase
    error: str | None = None
    error_type: str | None = None


def submit(model_id: str, payload: dict[str, Any], webhook_url: str | None, *,
           key_seen: str = "") -> Job:
    model_id = "/".join(part for part in model_id.split("/") if part)
    if model_id.count("/") < 1:
        raise Refusal(404, f"Application {model_id!r} not found")
    directives = parse_directives(_text(payload.get("prompt")), _text(payload.get("text")),
                                  _text(payload.get("simulate")))
    key = state.payload_key(model_id, payload)
    # Only payloads that ask for failures need their attempts counted (a cache round trip).
    attempt = state.count_attempt(key) if directives.fail_status else 0
    if directives.submit_fails(attempt):
        raise _injected(directives, attempt)
    _validate(model_id, payload)
    job = _new_job(model_id, payload, webhook_url, directives)
    job.key_seen = state.key_fingerprint(key_seen) if key_seen else ""
    state.submission_save(job, key)
    if not job.hang:
        # Drawn while it runs, shortly before it is due (state.drawing_seconds); finished at
        # its due time.
        drawing.call_at(job.submitted_at + state.drawing_seconds(job.latency), prepare, job)
        timers.call_at(job.submitted_at + job.latency, complete, job.request_id, 1)
    return job


def find(app: str, request_id: str, key_seen: str = "") -> Job:
    """The job, if it is there for this key: like fal, a job belongs to the account (key)
    that submitted it, and another one's key does not find it."""
    job = state.job_get(request_id)
    if job is None or job.app != app or (key_seen and job.key_seen
                                         and job.key_seen != state.key_fingerprint(key_seen)):
        raise Refusal(404, f"Request {request_id} not found")
    return job


def report(job: Job) -> Report:
    phase = state.job_phase(job, time.time())
    if phase.status != "COMPLETED":
        return Report(phase)
    outcome = outcome_of(job)
    if outcome.ok:
        return Report(phase)
    return Report(phase, _error_text(outcome), outcome.error_type)


def result(job: Job) -> Outcome:
    if state.job_phase(job, time.time()).status != "COMPLETED":
        raise Refusal(400, "Request is still in progress")
    return outcome_of(job)


def cancel(job: Job) -> bool:
    """True if the job was stopped, False if it had already finished."""
    if state.job_phase(job, time.time()).status == "COMPLETED":
        return False
    job.cancelled = True
    state.job_save(job)
    state.count_cancel(job.request_id)
    return True


def outcome_of(job: Job) -> Outcome:
    if job.cancelled:
        return CANCELLED
    return state.outcome_get(job.request_id) or state.outcome_put(job.request_id, _run(job))


def prepare(job: Job) -> None:
    """Draw the output while the job runs, as a provider's GPU works through its latency: at
    the due time only the webhook is usually left to send, so the drawing does not land on the
    moment the site takes in the results. Whoever needs the output first (this, the due-time
    webhook, a status poll, a result fetch) draws it; outcome_put keeps the first stored. A
    job already due is left to its due-time call, which draws it itself."""
    if time.time() < job.submitted_at + job.latency:
        outcome_of(job)


def complete(request_id: str, attempt: int) -> "Future[bool] | None":
    """Due-time work: the output (drawn by `prepare` meanwhile, or now), then the webhook,
    retried with backoff. Returns the delivery in flight, if one was sent."""
    job = state.job_get(request_id)
    if job is None or job.cancelled:
        return None
    outcome = outcome_of(job)
    if not job.webhook_url:
        return None

    def delivered(ok: bool) -> None:
        if ok:
            state.count_webhook()
        elif attempt < WEBHOOK_TRIES:
            timers.call_at(time.time() + 2 ** (attempt - 1), complete, request_id, attempt + 1)

    return deliveries.post(job.webhook_url, webhook_body(job, outcome), what=request_id,
                           timeout=WEBHOOK_TIMEOUT_SECONDS, max_answer=WEBHOOK_MAX_ANSWER,
                           done=delivered)


def webhook_body(job: Job, outcome: Outcome) -> dict[str, Any]:
    return {"request_id": job.request_id, "gateway_request_id": job.request_id,
            "status": "OK" if outcome.ok else "ERROR", "payload": outcome.body,
            "error": None if outcome.ok else f"Invalid status code: {outcome.http_status}"}


# --- Helpers -------------------------------------------------------------------------------

def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _injected(directives: Directives, attempt: int) -> Refusal:
    status = directives.fail_status or 500
    if status == 400:  # a permanent validation error, shaped as fal's FastAPI apps answer it
        return Refusal(422, [{"loc": ["body", "prompt"], "type": "value_error",
                              "msg": "Simulated validation error ([sim fail=400])"}])
    if status in (429, 503):
        return Refusal(status, f"Simulated rate limit (attempt {attempt})", {"Retry-After": "1"})
    return Refusal(status, f"Simulated HTTP {status} error (attempt {attempt})")


def _validate(model_id: str, payload: dict[str, Any]) -> None:
    try:
        family_for(model_id, payload).schema.model_validate(payload)
    except ValidationError as exc:
        raise Refusal(422, validation_detail(exc)) from exc


def validation_detail(exc: ValidationError) -> list[dict[str, Any]]:
    return [{"loc": ["body", *error["loc"]], "msg": error["msg"], "type": error["type"]}
            for error in exc.errors(include_url=False, include_context=False,
                                    include_input=False)]


def _new_job(model_id: str, payload: dict[str, Any], webhook_url: str | None,
             directives: Directives) -> Job:
    owner, app = model_id.split("/")[:2]
    latency = state.default_latency() if directives.latency is None else directives.latency
    return Job(request_id=state.new_request_id(), model_id=model_id, app=f"{owner}/{app}",
               payload=payload, submitted_at=time.time(), latency=latency,
               hang=directives.hang, fail_job=directives.fail_job, webhook_url=webhook_url)


def _run(job: Job) -> Outcome:
    if job.fail_job:
        return Outcome(500, {"detail": "Simulated model failure ([sim fail=job])"},
                       "runtime_error")
    family = family_for(job.model_id, job.payload)
    try:
        body = family.build(job, family.schema.model_validate(job.payload))
    except MediaInputError as exc:
        detail = [{"loc": ["body"], "msg": str(exc), "type": "file_download_error"}]
        return Outcome(422, {"detail": detail}, "file_download_error")
    except Exception:  # a crashing model still finishes its job, as on fal, with an error
        logger.exception("simulated %s crashed on %s", job.model_id, job.request_id)
        return Outcome(500, {"detail": "The simulated model crashed"}, "runtime_error")
    return Outcome(200, {**body, "simulated": True})


def _error_text(outcome: Outcome) -> str:
    detail = outcome.body.get("detail")
    if isinstance(detail, list):
        return "; ".join(str(item.get("msg", item)) for item in detail if isinstance(item, dict))
    return str(detail or f"HTTP {outcome.http_status}")

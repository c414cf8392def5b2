"""Simulated fal jobs and submission counters, kept in the Django cache.

Web workers, Celery workers and test processes all submit and poll, so the state must be shared:
the cache is Redis in tests and production and local memory in the single-process embedded mode.
A job's status is never stored: it follows from the clock (submit time + latency), so no
background worker is needed to move a job along.
"""

import hashlib
import json
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from typing import Any, Literal, TypeVar

from django.conf import settings
from django.core.cache import cache

from wireflow_site.env import env_float

TTL_SECONDS = 24 * 3600
_PREFIX = "sim:fal:"
_STATS_KEY = f"{_PREFIX}stats"
_LOCK_KEY = f"{_PREFIX}stats-lock"
STEPS = 10

Status = Literal["IN_QUEUE", "IN_PROGRESS", "COMPLETED"]
T = TypeVar("T")


def default_latency() -> float:
    configured = getattr(settings, "SIM_DEFAULT_LATENCY", None)
    if configured is not None:
        return float(configured)
    return env_float("WIREFLOW_SIM_LATENCY", 0.3)


@dataclass
class Job:
    request_id: str
    model_id: str
    app: str  # "<owner>/<app>": the part of the model id that status/result URLs keep
    payload: dict[str, Any]
    submitted_at: float
    latency: float
    hang: bool = False
    fail_job: bool = False
    webhook_url: str | None = None
    cancelled: bool = False


@dataclass(frozen=True)
class Outcome:
    """The finished job's answer at its response URL (and in its webhook)."""
    http_status: int
    body: dict[str, Any]
    error_type: str | None = None

    @property
    def ok(self) -> bool:
        return self.http_status < 400


@dataclass(frozen=True)
class Phase:
    status: Status
    logs: list[str] = field(default_factory=list)


def new_request_id() -> str:
    return str(uuid.uuid4())


def payload_key(model_id: str, payload: dict[str, Any]) -> str:
    """Identifies "the same request": the model and a hash of its input."""
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)
    return f"{model_id}:{hashlib.sha256(canonical.encode()).hexdigest()[:16]}"


# --- Jobs ---------------------------------------------------------------------------------

def job_save(job: Job) -> None:
    cache.set(f"{_PREFIX}job:{job.request_id}", asdict(job), TTL_SECONDS)


def job_get(request_id: str) -> Job | None:
    record = cache.get(f"{_PREFIX}job:{request_id}")
    return Job(**record) if isinstance(record, dict) else None


def outcome_get(request_id: str) -> Outcome | None:
    record = cache.get(f"{_PREFIX}outcome:{request_id}")
    return Outcome(**record) if isinstance(record, dict) else None


def outcome_put(request_id: str, outcome: Outcome) -> Outcome:
    """Stores the outcome unless another process stored one first; returns the one kept, so
    every poll and webhook of a job names the same media."""
    key = f"{_PREFIX}outcome:{request_id}"
    if cache.add(key, asdict(outcome), TTL_SECONDS):
        return outcome
    return outcome_get(request_id) or outcome


def job_phase(job: Job, now: float) -> Phase:
    if job.cancelled:
        return Phase("COMPLETED")
    elapsed = max(0.0, now - job.submitted_at)
    queued = min(job.latency * 0.2, 1.0)
    if elapsed < queued:
        return Phase("IN_QUEUE")
    if job.hang or elapsed < job.latency:
        running = max(job.latency - queued, 1e-6)
        progress = min((elapsed - queued) / running, 0.9 if job.hang else 0.99)
        # The last step is logged only on completion, so "step 10/10" means done.
        step = min(STEPS - 1, int(progress * STEPS) + 1)
        return Phase("IN_PROGRESS", _logs(job.model_id, step))
    return Phase("COMPLETED", _logs(job.model_id, STEPS))


def _logs(model_id: str, done: int) -> list[str]:
    return [f"Loading {model_id} (simulated)"] + [f"step {i}/{STEPS}" for i in range(1, done + 1)]


# --- Counters -----------------------------------------------------------------------------

def _empty_stats() -> dict[str, Any]:
    return {"submissions": 0, "byRequest": {}, "byModel": {}, "attempts": {}, "cancelled": [],
            "webhooks": 0}


def simulator_stats() -> dict[str, Any]:
    stats = cache.get(_STATS_KEY)
    return stats if isinstance(stats, dict) else _empty_stats()


def reset_simulator() -> None:
    with _stats_lock():
        cache.delete(_STATS_KEY)


def count_attempt(key: str) -> int:
    """Counts a submit of this payload (accepted or not) and returns its number, from 1.
    Only payloads with a `fail=` directive are counted (the rest need no number)."""
    def bump(stats: dict[str, Any]) -> int:
        stats["attempts"][key] = stats["attempts"].get(key, 0) + 1
        return int(stats["attempts"][key])
    return _update_stats(bump)


def count_submission(key: str, model_id: str) -> None:
    def bump(stats: dict[str, Any]) -> None:
        stats["submissions"] += 1
        stats["byRequest"][key] = stats["byRequest"].get(key, 0) + 1
        stats["byModel"][model_id] = stats["byModel"].get(model_id, 0) + 1
    _update_stats(bump)


def count_cancel(request_id: str) -> None:
    _update_stats(lambda stats: stats["cancelled"].append(request_id))


def count_webhook() -> None:
    def bump(stats: dict[str, Any]) -> None:
        stats["webhooks"] += 1
    _update_stats(bump)


def _update_stats(change: Callable[[dict[str, Any]], T]) -> T:
    with _stats_lock():
        stats = simulator_stats()
        result = change(stats)
        cache.set(_STATS_KEY, stats, TTL_SECONDS)
    return result


@contextmanager
def _stats_lock(wait_seconds: float = 5.0) -> Iterator[None]:
    """A cross-process lock from the cache's atomic `add` (Redis SET NX); it expires on its own
    if a holder dies, and a waiter gives up after `wait_seconds` rather than stall a request."""
    token = uuid.uuid4().hex
    deadline = time.monotonic() + wait_seconds
    while not cache.add(_LOCK_KEY, token, timeout=5):
        if time.monotonic() > deadline:
            break
        time.sleep(0.002)
    try:
        yield
    finally:
        if cache.get(_LOCK_KEY) == token:
            cache.delete(_LOCK_KEY)

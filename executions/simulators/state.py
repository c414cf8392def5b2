"""Simulated fal jobs and submission counters, kept in Redis (REDIS_URL).

Web workers, Celery workers and test processes all submit and poll, so the state must be shared:
Redis in tests and production, this process's memory (the local-memory cache and `_local`) in
the single-process embedded mode. A submit stores its job and its counts in one round trip.
A job's status is never stored: it follows from the clock (submit time + latency), so no
background worker is needed to move a job along.
"""

import hashlib
import json
import threading
import uuid
from dataclasses import asdict, dataclass, field
from functools import cache as cache_fn
from typing import Any, Literal

import redis
from django.conf import settings
from django.core.cache import cache

from wireflow_site.env import env_float

TTL_SECONDS = 24 * 3600
_PREFIX = "sim:fal:"
STEPS = 10
DRAWING_LEAD_SECONDS = 2.0  # a job's output is drawn at least this long before it is due

Status = Literal["IN_QUEUE", "IN_PROGRESS", "COMPLETED"]


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
    key_seen: str = ""  # key_fingerprint of the key that submitted it: only it may ask again


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
    _store_job(job)


def job_get(request_id: str) -> Job | None:
    client = _redis()
    if client is None:
        record = cache.get(_job_key(request_id))
    else:
        stored = client.get(_job_key(request_id))
        record = json.loads(stored) if stored is not None else None
    return Job(**record) if isinstance(record, dict) else None


def submission_save(job: Job, key: str) -> None:
    """A new job and its counts (submissions, by payload `key`, by model, by key
    fingerprint), sent to Redis together."""
    _store_job(job, {"byRequest": key, "byModel": job.model_id,
                     "byKey": job.key_seen or "none"})


def _job_key(request_id: str) -> str:
    return f"{_PREFIX}job:{request_id}"


def _store_job(job: Job, counts: dict[str, str] | None = None) -> None:
    client = _redis()
    if client is None:
        cache.set(_job_key(job.request_id), asdict(job), TTL_SECONDS)
        if counts is not None:
            _bump_local("submissions", counts, None)
        return
    pipe = client.pipeline(transaction=False)
    pipe.set(_job_key(job.request_id), json.dumps(asdict(job)), ex=TTL_SECONDS)
    if counts is not None:
        _queue_bump(pipe, "submissions", counts, None)
    pipe.execute()


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


def queued_seconds(latency: float) -> float:
    """How long a job of this latency shows IN_QUEUE before it runs."""
    return min(latency * 0.2, 1.0)


def drawing_seconds(latency: float) -> float:
    """When, after its submit, a job's output is drawn: once it runs, halfway through its
    run, and at least DRAWING_LEAD_SECONDS before it is due when it runs that long. A
    provider's GPU works on other machines; the simulator's drawing stands in for it on the
    site's own, so it lands where it costs the site least: neither among the submits of the
    burst the job came in with nor among that burst's completions (drawn in its last seconds,
    a burst's outputs were drawn while the site took in the results of the jobs ahead of
    them), yet ready when due."""
    return max(queued_seconds(latency), min(latency / 2, latency - DRAWING_LEAD_SECONDS))


def job_phase(job: Job, now: float) -> Phase:
    if job.cancelled:
        return Phase("COMPLETED")
    elapsed = max(0.0, now - job.submitted_at)
    queued = queued_seconds(job.latency)
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
# Atomic counters, so concurrent submits (web processes, timer threads) never wait on a lock:
# Redis INCR / HINCRBY / RPUSH when Redis is configured, a locked dict in the embedded mode.

_COUNTS = f"{_PREFIX}counts"  # hash: submissions, webhooks
_HASHES = ("byRequest", "byModel", "attempts", "byKey")
_CANCELLED = f"{_PREFIX}cancelled"
_local_lock = threading.Lock()
_local: dict[str, Any] = {}


@cache_fn
def _redis() -> redis.Redis | None:
    url = getattr(settings, "REDIS_URL", "")
    return redis.Redis.from_url(url) if url else None


def _empty_stats() -> dict[str, Any]:
    return {"submissions": 0, "byRequest": {}, "byModel": {}, "attempts": {}, "cancelled": [],
            "webhooks": 0, "byKey": {}}


def _hash_key(name: str) -> str:
    return f"{_PREFIX}{name}"


def _bump(counter: str | None = None, hashes: dict[str, str] | None = None,
          cancelled: str | None = None) -> list[int]:
    """Add one to `counter` and to each `hashes[name][field]`, append `cancelled`; returns the
    new hash values in order."""
    client = _redis()
    if client is None:
        return _bump_local(counter, hashes or {}, cancelled)
    pipe = client.pipeline(transaction=False)
    _queue_bump(pipe, counter, hashes or {}, cancelled)
    results = pipe.execute()
    return [int(results[i * 2]) for i in range(len(hashes or {}))]


def _queue_bump(pipe: "redis.client.Pipeline", counter: str | None, hashes: dict[str, str],
                cancelled: str | None) -> None:
    for name, item in hashes.items():
        pipe.hincrby(_hash_key(name), item, 1)
        pipe.expire(_hash_key(name), TTL_SECONDS)
    if counter:
        pipe.hincrby(_COUNTS, counter, 1)
        pipe.expire(_COUNTS, TTL_SECONDS)
    if cancelled:
        pipe.rpush(_CANCELLED, cancelled)
        pipe.expire(_CANCELLED, TTL_SECONDS)


def _bump_local(counter: str | None, hashes: dict[str, str], cancelled: str | None) -> list[int]:
    with _local_lock:
        stats = _local.setdefault("stats", _empty_stats())
        values = []
        for name, item in hashes.items():
            stats[name][item] = stats[name].get(item, 0) + 1
            values.append(stats[name][item])
        if counter:
            stats[counter] += 1
        if cancelled:
            stats["cancelled"].append(cancelled)
        return values


def simulator_stats() -> dict[str, Any]:
    client = _redis()
    if client is None:
        with _local_lock:
            copied: dict[str, Any] = json.loads(json.dumps(_local.get("stats") or _empty_stats()))
            return copied
    pipe = client.pipeline()
    pipe.hgetall(_COUNTS)
    for name in _HASHES:
        pipe.hgetall(_hash_key(name))
    pipe.lrange(_CANCELLED, 0, -1)
    counts, *hashes, cancelled = pipe.execute()
    stats = _empty_stats()
    for name, value in counts.items():
        stats[name.decode()] = int(value)
    for name, values in zip(_HASHES, hashes, strict=True):
        stats[name] = {k.decode(): int(v) for k, v in values.items()}
    stats["cancelled"] = [item.decode() for item in cancelled]
    return stats


def reset_simulator() -> None:
    client = _redis()
    if client is None:
        with _local_lock:
            _local.pop("stats", None)
        return
    client.delete(_COUNTS, _CANCELLED, *(_hash_key(name) for name in _HASHES))


def count_attempt(key: str) -> int:
    """Counts a submit of this payload (accepted or not) and returns its number, from 1.
    Only payloads with a `fail=` directive are counted (the rest need no number)."""
    return _bump(hashes={"attempts": key})[0]


def key_fingerprint(api_key: str) -> str:
    """Which key a submission came with, without keeping the key: a short SHA-256 prefix."""
    return hashlib.sha256(api_key.encode()).hexdigest()[:16] if api_key else "none"


def count_cancel(request_id: str) -> None:
    _bump(cancelled=request_id)


def count_webhook() -> None:
    _bump("webhooks")

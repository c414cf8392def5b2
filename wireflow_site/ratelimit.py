"""Rate limits: a sliding-window log per bucket, and the team policy of docs/api.md on top of it.

The algorithm: a bucket remembers the time of every admission still inside its window. A hit
first forgets admissions older than the window, then admits only if fewer than `limit` remain.
So no window of `window` seconds, wherever it starts, ever holds more than `limit` admissions
(a fixed window would admit 2x across its edge). In Redis the whole step is one Lua script, so
parallel clients on any number of processes cannot both read "9 of 10" and both write; in the
embedded mode (no REDIS_URL, one process) the same steps run on a dict behind a lock.

The policy (who counts where):
- an API-key call counts against the team's "API requests / min";
- an execution (execute, run, webhook trigger) counts against "executions / min" and
  "executions / day" of the team that owns the workflow, whoever starts it: a key, a browser
  session (whatever its current team: switching teams resets nothing), the public webhook. The
  day is a rolling 24 hours, the same algorithm with a longer window, so there is no burst of
  2x the cap around midnight;
- a browser-session call counts against a generous per-user editor bucket
  (accounts.plans.EDITOR_REQUESTS_PER_MINUTE), not the team's API allowance.

How to use it: `ApiAuth(scope, counts=EXECUTION)` on an endpoint that starts an execution, and
`enforce_execution_limits(workflow.team, request)` once the endpoint has found the workflow,
before doing any work; code that starts executions without ApiAuth (the webhook trigger) makes
the same call. Both raise `RateLimited` or `DailyExecutionLimit` (429). The RateLimitMiddleware
then adds the X-RateLimit-* headers to the response and gives the day slot back if the
execution did not start (an error response, or an idempotent replay), so a typo'd workflow id
does not use up the day. Every attempt still counts
against the per-minute bucket: that one protects the server, and failed attempts cost it too.

With settings.RATE_LIMITS_ENABLED off nothing is counted and no X-RateLimit-* header is sent.
If Redis cannot be reached the call is let through (logged): the limiter protects the service,
it must not take the API down with it.
"""

import bisect
import logging
import math
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import redis
from django.conf import settings
from django.http import HttpRequest, HttpResponse

from accounts.models import Team, User
from accounts.plans import EDITOR_REQUESTS_PER_MINUTE, limits_for

from .errors import ApiError

logger = logging.getLogger("wireflow.ratelimit")

MINUTE = 60
DAY = 86_400
REQUESTS = "requests"
EXECUTIONS = "executions"
EXECUTIONS_DAY = "executions-day"


@dataclass(frozen=True)
class Decision:
    allowed: bool
    limit: int
    remaining: int
    reset_epoch: int  # Unix seconds when the oldest counted admission leaves the window
    retry_after: int  # whole seconds until a slot frees (>= 1) when refused; 0 when allowed
    token: str | None = None  # this admission's id in the log, to give the slot back

    def headers(self) -> dict[str, str]:
        return {"X-RateLimit-Limit": str(self.limit),
                "X-RateLimit-Remaining": str(self.remaining),
                "X-RateLimit-Reset": str(self.reset_epoch)}


def _decide(admitted: bool, limit: int, count: int, oldest: float, now: float, window: int,
            token: str) -> Decision:
    frees_at = oldest + window if count else now
    return Decision(allowed=admitted, limit=limit, remaining=max(limit - count, 0),
                    reset_epoch=math.ceil(frees_at),
                    retry_after=0 if admitted else max(1, math.ceil(frees_at - now)),
                    token=token if admitted else None)


class Limiter(Protocol):
    def hit(self, key: str, limit: int, window_seconds: int,
            now: float | None = None) -> Decision: ...

    def release(self, key: str, token: str) -> None: ...

    def count(self, key: str, window_seconds: int) -> int: ...


# --- Redis: one atomic script ---------------------------------------------------------------

# KEYS[1] the bucket's log (a sorted set: member = admission id, score = time in microseconds).
# ARGV: limit, window (µs), now (µs, or "" for the Redis server's clock, shared by every web
# process), the new admission's id. Returns {admitted, count, oldest, now}.
_SLIDING_LOG = """
local key, limit, window, member = KEYS[1], tonumber(ARGV[1]), tonumber(ARGV[2]), ARGV[4]
local now = tonumber(ARGV[3])
if not now then
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000000 + tonumber(t[2])
end
redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
local count = redis.call('ZCARD', key)
local admitted = 0
if count < limit then
  redis.call('ZADD', key, now, member)
  count = count + 1
  admitted = 1
end
local oldest = now
if count > 0 then
  oldest = tonumber(redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')[2])
  redis.call('PEXPIRE', key, math.ceil(window / 1000))
end
return {admitted, count, oldest, now}
"""

_MICRO = 1_000_000


class RedisLimiter:
    def __init__(self, url: str) -> None:
        # A blocking pool: a burst of threads beyond its size waits its turn for a connection
        # instead of failing (and so being let through unlimited).
        pool = redis.BlockingConnectionPool.from_url(url, max_connections=100, timeout=5)
        self.redis = redis.Redis(connection_pool=pool)
        self._script = self.redis.register_script(_SLIDING_LOG)

    def hit(self, key: str, limit: int, window_seconds: int,
            now: float | None = None) -> Decision:
        token = uuid.uuid4().hex
        at = "" if now is None else int(now * _MICRO)
        admitted, count, oldest, server_now = self._script(
            keys=[key], args=[limit, window_seconds * _MICRO, at, token])
        return _decide(bool(admitted), limit, int(count), oldest / _MICRO,
                       server_now / _MICRO, window_seconds, token)

    def release(self, key: str, token: str) -> None:
        self.redis.zrem(key, token)

    def count(self, key: str, window_seconds: int) -> int:
        seconds, micros = self.redis.time()  # the clock the script keeps the log by
        since = int(seconds) * _MICRO + int(micros) - window_seconds * _MICRO
        return int(self.redis.zcount(key, f"({since}", "+inf"))


# --- Embedded: the same steps in this process -----------------------------------------------

@dataclass
class _Log:
    window: int
    entries: list[tuple[float, str]]  # (time, admission id), oldest first

    def forget_before(self, now: float) -> None:
        del self.entries[:bisect.bisect_right(self.entries, now - self.window,
                                              key=lambda entry: entry[0])]


class LocalLimiter:
    """For the embedded mode, which runs one process; a lock makes each hit atomic."""

    _SWEEP_EVERY = 1_000  # hits; drops the logs of buckets nobody has used for a window

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._logs: dict[str, _Log] = {}
        self._hits = 0

    def hit(self, key: str, limit: int, window_seconds: int,
            now: float | None = None) -> Decision:
        at = time.time() if now is None else now
        token = uuid.uuid4().hex
        with self._lock:
            self._sweep(at)
            log = self._logs.setdefault(key, _Log(window_seconds, []))
            log.window = window_seconds
            log.forget_before(at)
            admitted = len(log.entries) < limit
            if admitted:
                bisect.insort(log.entries, (at, token), key=lambda entry: entry[0])
            oldest = log.entries[0][0] if log.entries else at
            return _decide(admitted, limit, len(log.entries), oldest, at, window_seconds, token)

    def release(self, key: str, token: str) -> None:
        with self._lock:
            log = self._logs.get(key)
            if log is not None:
                log.entries = [entry for entry in log.entries if entry[1] != token]

    def count(self, key: str, window_seconds: int) -> int:
        since = time.time() - window_seconds
        with self._lock:
            log = self._logs.get(key)
            return sum(1 for at, _ in log.entries if at > since) if log else 0

    def _sweep(self, now: float) -> None:
        self._hits += 1
        if self._hits % self._SWEEP_EVERY:
            return
        for key, log in list(self._logs.items()):
            log.forget_before(now)
            if not log.entries:
                del self._logs[key]


_limiters: dict[str, Limiter] = {}
_limiters_lock = threading.Lock()


def limiter() -> Limiter:
    """The process's limiter: one Redis client (and connection pool) per process. Created under
    a lock: two embedded limiters made by a first burst of threads would each admit `limit`."""
    url = settings.REDIS_URL
    with _limiters_lock:
        if url not in _limiters:
            _limiters[url] = RedisLimiter(url) if url else LocalLimiter()
        return _limiters[url]


# --- The policy -----------------------------------------------------------------------------

class RateLimited(ApiError):
    status = 429
    code = "rate_limited"

    def __init__(self, decision: Decision, message: str | None = None) -> None:
        wait = decision.retry_after
        super().__init__(message or f"Rate limit exceeded. Try again in {wait} seconds.",
                         retryAfter=wait,
                         headers={"Retry-After": str(wait), **decision.headers()})


class DailyExecutionLimit(RateLimited):
    code = "daily_execution_limit"

    def __init__(self, decision: Decision, plan: str) -> None:
        super().__init__(decision, message=(
            f"Daily execution limit reached ({decision.limit:,} per day on the {plan} plan). "
            f"Try again in {decision.retry_after} seconds."))


def bucket_key(team_id: int, bucket: str) -> str:
    return f"wf:rl:team:{team_id}:{bucket}"


def editor_key(user_id: int) -> str:
    return f"wf:rl:user:{user_id}:editor"


def enforce_request_limit(team: Team, request: HttpRequest) -> None:
    """Count one API-key call against the team's requests per minute."""
    limits = limits_for(team.plan)
    _enforce(request, bucket_key(team.pk, REQUESTS), limits.requests_per_minute, MINUTE)


def enforce_editor_limit(user: User, request: HttpRequest) -> None:
    """Count one browser-session call against the user's editor ceiling."""
    _enforce(request, editor_key(user.pk), EDITOR_REQUESTS_PER_MINUTE, MINUTE)


def enforce_execution_limits(team: Team, request: HttpRequest) -> None:
    """Count one execution (execute, run or webhook trigger) against the per-minute and per-day
    limits of `team`, the team that owns the workflow. Call it before starting the execution;
    it raises the 429s. A request is counted once per team: ApiAuth counts an API key's
    execution against the key's team up front, and the endpoint's call for the workflow's team
    (the same one: a key reaches no other) then changes nothing."""
    if getattr(request, "rate_limit_execution_team", None) == team.pk:
        return
    request.rate_limit_execution_team = team.pk  # type: ignore[attr-defined]
    limits = limits_for(team.plan)
    minute = _enforce(request, bucket_key(team.pk, EXECUTIONS), limits.executions_per_minute,
                      MINUTE)
    if minute is None or limits.executions_per_day is None:
        return
    day_key = bucket_key(team.pk, EXECUTIONS_DAY)
    day = _hit(day_key, limits.executions_per_day, DAY)
    if day is None:
        return
    if not day.allowed:
        request.rate_limit = day  # type: ignore[attr-defined]
        raise DailyExecutionLimit(day, team.plan)
    request.rate_limit_day_slot = (day_key, day.token)  # type: ignore[attr-defined]
    # The headers describe the tighter of the two buckets: the one a client will hit first.
    request.rate_limit = min(minute, day, key=lambda d: d.remaining)  # type: ignore[attr-defined]


def take_execution_slot(team: Team) -> Callable[[], None]:
    """enforce_execution_limits without a request (a schedule firing): count one execution
    against the same per-minute and per-day counters of `team`, raising the same 429s. Returns
    a function that gives the day slot back, for an execution that then did not start."""
    limits = limits_for(team.plan)
    minute = _hit(bucket_key(team.pk, EXECUTIONS), limits.executions_per_minute, MINUTE)
    if minute is not None and not minute.allowed:
        raise RateLimited(minute)
    if minute is None or limits.executions_per_day is None:
        return lambda: None
    day_key = bucket_key(team.pk, EXECUTIONS_DAY)
    day = _hit(day_key, limits.executions_per_day, DAY)
    if day is None:
        return lambda: None
    if not day.allowed:
        raise DailyExecutionLimit(day, team.plan)
    token = day.token or ""
    return lambda: _release(day_key, token)


def webhook_key(workflow_id: object) -> str:
    return f"wf:rl:webhook:{workflow_id}"


def enforce_webhook_limit(workflow_id: object, request: HttpRequest) -> None:
    """Count one request to a workflow's public trigger URL against
    settings.WEBHOOK_RATE_LIMIT_PER_MINUTE (0: no such limit). Keyed by the workflow, so
    rotating the URL does not reset it. Raises `RateLimited` (429)."""
    limit = settings.WEBHOOK_RATE_LIMIT_PER_MINUTE
    if limit > 0:
        _enforce(request, webhook_key(workflow_id), limit, MINUTE)


def settle(request: HttpRequest, response: HttpResponse) -> None:
    """After the view: give back the day slot of an execution that did not start, and announce
    the limits on the response."""
    slot = getattr(request, "rate_limit_day_slot", None)
    if slot is not None and _did_not_start(response):
        key, token = slot
        _release(key, token)
    decision: Decision | None = getattr(request, "rate_limit", None)
    if decision is not None:
        for name, value in decision.headers().items():
            response[name] = value


def _did_not_start(response: HttpResponse) -> bool:
    return response.status_code >= 400 or response.has_header("Idempotent-Replayed")


def _enforce(request: HttpRequest, key: str, limit: int, window: int) -> Decision | None:
    decision = _hit(key, limit, window)
    if decision is None:
        return None
    request.rate_limit = decision  # type: ignore[attr-defined]
    if not decision.allowed:
        raise RateLimited(decision)
    return decision


def _hit(key: str, limit: int, window: int) -> Decision | None:
    if not settings.RATE_LIMITS_ENABLED:
        return None
    try:
        return limiter().hit(key, limit, window)
    except redis.RedisError:
        logger.warning("rate limiter unavailable; letting %s through", key, exc_info=True)
        return None


def bucket_count(key: str, window_seconds: int) -> int | None:
    """How many admissions a bucket holds in its window now, counting none (Settings > Usage);
    None when nothing is counted (limits off) or the limiter cannot be reached."""
    if not settings.RATE_LIMITS_ENABLED:
        return None
    try:
        return limiter().count(key, window_seconds)
    except redis.RedisError:
        logger.warning("rate limiter unavailable; cannot read %s", key, exc_info=True)
        return None


def _release(key: str, token: str) -> None:
    try:
        limiter().release(key, token)
    except redis.RedisError:
        logger.warning("rate limiter unavailable; could not give back a slot of %s", key,
                       exc_info=True)

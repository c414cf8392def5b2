"""Backoff for retryable provider errors: exponential with full jitter, honouring Retry-After."""

import random

BASE_SECONDS = 1.0
CAP_SECONDS = 30.0


def backoff_seconds(attempt: int, retry_after: float | None = None) -> float:
    """Delay before attempt `attempt + 1`, where `attempt` (1-based) just failed."""
    ceiling = min(CAP_SECONDS, BASE_SECONDS * 2 ** (attempt - 1))
    delay = random.uniform(0, ceiling)
    if retry_after is not None:
        delay = max(delay, min(retry_after, CAP_SECONDS * 10))
    return delay


def poll_delay(polls: int, webhook: bool = False) -> float:
    """How long to wait before looking at a remote job again: 0.5 s growing to 5 s. When the
    provider will call our webhook on completion, polling is only a safety net (and a source
    of progress logs), so it starts at 10 s and grows to 30 s: thousands of waiting jobs then
    cost a worker little."""
    if webhook:
        return min(30.0, 10.0 * 1.5 ** polls)
    return min(5.0, 0.5 * 1.5 ** polls)

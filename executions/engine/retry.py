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


def poll_delay(polls: int, webhook: bool = False, webhooks_arrive: bool = False) -> float:
    """How long to wait before looking at a remote job again.

    Without a webhook: 0.5 s growing to 5 s. With one, polling is only a safety net (and a
    source of progress logs): 10 s growing to 30 s, so thousands of waiting jobs cost a worker
    little. Once webhooks are known to reach the site (one arrived within the past hour,
    `nodectx.webhooks_arrive`), a poll is only for a delivery that got lost: 60 s growing to
    2 min, so a job waiting 30 s costs a submit and a result and nothing between."""
    if webhook and webhooks_arrive:
        return min(120.0, 60.0 * 1.5 ** polls)
    if webhook:
        return min(30.0, 10.0 * 1.5 ** polls)
    return min(5.0, 0.5 * 1.5 ** polls)

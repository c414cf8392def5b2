"""wireflow_site/ratelimit.py: the sliding-window log, in Redis (one Lua script) and in the
embedded mode (a dict behind a lock), run through the same tests; exact under 200 threads."""

import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from wireflow_site import ratelimit
from wireflow_site.ratelimit import DAY, Limiter, LocalLimiter, RedisLimiter


@pytest.fixture
def redis_limiter(settings: Any) -> RedisLimiter:
    return RedisLimiter(settings.REDIS_URL)


@pytest.fixture(params=["redis", "embedded"])
def any_limiter(request: Any, settings: Any) -> Limiter:
    return RedisLimiter(settings.REDIS_URL) if request.param == "redis" else LocalLimiter()


def _key() -> str:
    # A fresh bucket per test: these keys expire with their window, nothing to clean up.
    return f"wf:rl:test:{uuid.uuid4().hex}"


# --- Exact under concurrency ---------------------------------------------------------------------

def _hit_in_parallel(limiter: Limiter, key: str, limit: int, threads: int) -> list[bool]:
    start = threading.Barrier(threads)

    def hit(_: int) -> bool:
        start.wait()
        return limiter.hit(key, limit, 60).allowed

    with ThreadPoolExecutor(max_workers=threads) as pool:
        return list(pool.map(hit, range(threads)))


def test_the_redis_script_admits_exactly_the_limit_from_two_hundred_threads(
        redis_limiter: RedisLimiter) -> None:
    key = _key()
    assert _hit_in_parallel(redis_limiter, key, 10, 200).count(True) == 10
    assert redis_limiter.redis.zcard(key) == 10


def test_the_embedded_limiter_admits_exactly_the_limit_from_two_hundred_threads() -> None:
    assert _hit_in_parallel(LocalLimiter(), _key(), 10, 200).count(True) == 10


# --- The algorithm, on both implementations ------------------------------------------------------

def test_remaining_counts_down_to_zero_then_the_hit_is_refused(any_limiter: Limiter) -> None:
    key = _key()
    decisions = [any_limiter.hit(key, 3, 60, now=1000.0 + i) for i in range(4)]
    assert [(d.allowed, d.remaining) for d in decisions] == [(True, 2), (True, 1), (True, 0),
                                                             (False, 0)]
    assert {d.reset_epoch for d in decisions} == {1060}
    assert [d.retry_after for d in decisions] == [0, 0, 0, 57]


def test_it_is_a_sliding_window_not_a_fixed_one(any_limiter: Limiter) -> None:
    key = _key()
    # Ten at the end of one minute; a fixed window would admit ten more at its edge.
    assert all(any_limiter.hit(key, 10, 60, now=1059.0).allowed for _ in range(10))
    refused = any_limiter.hit(key, 10, 60, now=1061.0)
    assert not refused.allowed
    assert refused.retry_after == 58
    assert not any_limiter.hit(key, 10, 60, now=1118.9).allowed
    assert any_limiter.hit(key, 10, 60, now=1119.0).allowed


def test_admissions_leave_the_window_one_by_one(any_limiter: Limiter) -> None:
    key = _key()
    for second in (0, 10, 20):
        any_limiter.hit(key, 3, 60, now=5000.0 + second)
    assert not any_limiter.hit(key, 3, 60, now=5059.0).allowed
    admitted = any_limiter.hit(key, 3, 60, now=5060.0)
    assert (admitted.allowed, admitted.remaining, admitted.reset_epoch) == (True, 0, 5070)


def test_a_refused_hit_is_not_counted(any_limiter: Limiter) -> None:
    key = _key()
    any_limiter.hit(key, 1, 60, now=0.0)
    for second in range(1, 60):
        assert not any_limiter.hit(key, 1, 60, now=float(second)).allowed
    assert any_limiter.hit(key, 1, 60, now=60.0).allowed


def test_a_released_slot_can_be_used_again(any_limiter: Limiter) -> None:
    key = _key()
    first = any_limiter.hit(key, 1, 60, now=100.0)
    assert first.token is not None
    any_limiter.release(key, first.token)
    assert any_limiter.hit(key, 1, 60, now=101.0).allowed


def test_a_rolling_day_frees_the_first_slot_24_hours_later(any_limiter: Limiter) -> None:
    key = _key()
    for minute in range(50):
        any_limiter.hit(key, 50, DAY, now=minute * 60.0)
    refused = any_limiter.hit(key, 50, DAY, now=DAY - 1.0)
    assert (refused.allowed, refused.retry_after) == (False, 1)
    assert any_limiter.hit(key, 50, DAY, now=float(DAY)).allowed


def test_buckets_are_independent(any_limiter: Limiter) -> None:
    first, second = _key(), _key()
    assert any_limiter.hit(first, 1, 60, now=0.0).allowed
    assert any_limiter.hit(second, 1, 60, now=0.0).allowed
    assert not any_limiter.hit(first, 1, 60, now=1.0).allowed


def test_the_redis_bucket_expires_with_its_window(redis_limiter: RedisLimiter) -> None:
    key = _key()
    redis_limiter.hit(key, 5, 60)
    assert 0 < redis_limiter.redis.pttl(key) <= 60_000


def test_the_process_has_one_limiter_on_redis_when_redis_is_configured() -> None:
    assert ratelimit.limiter() is ratelimit.limiter()
    assert isinstance(ratelimit.limiter(), RedisLimiter)


def test_the_embedded_mode_uses_the_process_local_limiter(settings: Any) -> None:
    settings.REDIS_URL = ""
    assert isinstance(ratelimit.limiter(), LocalLimiter)

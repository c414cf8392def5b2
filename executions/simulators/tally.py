"""Counters of a simulator, in the Django cache (shared by the web, worker and test processes):
totals by name, per key fingerprint, and per payload attempt, so tests can prove what was
submitted, how often and with whose key. A reset starts a new generation: per-key and
per-payload counts start again without scanning the cache."""

import asyncio
from typing import Any

from asgiref.sync import sync_to_async
from django.core.cache import cache

from . import state
from .directives import Directives

TTL_SECONDS = 24 * 3600
HANG_SECONDS = 600.0  # `[sim hang]`: longer than any node waits, yet bounded


class Tally:
    def __init__(self, prefix: str, counters: tuple[str, ...]) -> None:
        self.prefix = prefix
        self.counters = counters

    def incr(self, name: str) -> int:
        key = f"{self.prefix}{name}"
        cache.add(key, 0, TTL_SECONDS)
        try:
            return int(cache.incr(key))
        except ValueError:  # expired in between
            cache.set(key, 1, TTL_SECONDS)
            return 1

    def generation(self) -> int:
        return int(cache.get(f"{self.prefix}generation") or 0)

    def attempt(self, kind: str, payload: dict[str, Any]) -> int:
        """The number of this submit of the same payload, 1-based (for `[sim fail=CODExN]`)."""
        return self.incr(f"attempts:{self.generation()}:{state.payload_key(kind, payload)}")

    async def obey(self, directives: Directives, kind: str, payload: dict[str, Any]) -> int:
        """What `[sim fail=...]` and `[sim latency=...]` ask of this submit: the attempt number
        when it must fail (counted as refused; the caller answers its provider's error), else
        0 once the latency (or, for `[sim hang]`, ten minutes) has passed."""
        if directives.fail_status is not None:
            attempt = await sync_to_async(self.attempt, thread_sensitive=False)(kind, payload)
            if directives.submit_fails(attempt):
                await sync_to_async(self.incr, thread_sensitive=False)("refused")
                return attempt
        latency = state.default_latency() if directives.latency is None else directives.latency
        if directives.hang:
            latency = HANG_SECONDS
        if latency > 0:
            await asyncio.sleep(latency)
        return 0

    def count(self, counter: str, fingerprint: str) -> None:
        """One more `counter`, made with the key of this fingerprint."""
        self.incr(counter)
        self.incr(f"byKey:{self.generation()}:{fingerprint}")
        cache.set(f"{self.prefix}lastKey", fingerprint, TTL_SECONDS)

    def stats(self, fingerprint: str | None = None) -> dict[str, Any]:
        found: dict[str, Any] = {name: int(cache.get(f"{self.prefix}{name}") or 0)
                                 for name in self.counters}
        found["lastKey"] = cache.get(f"{self.prefix}lastKey")
        if fingerprint:
            count = cache.get(f"{self.prefix}byKey:{self.generation()}:{fingerprint}")
            found["byKey"] = {fingerprint: int(count or 0)}
        return found

    def reset(self) -> None:
        cache.delete_many([f"{self.prefix}{name}" for name in (*self.counters, "lastKey")])
        self.incr("generation")

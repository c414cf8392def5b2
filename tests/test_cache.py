"""The Redis cache keeps one connection pool per process. Django makes a cache backend per
thread and per async context, and under the ASGI server each request is a new context: with
Django's own RedisCache each such backend built its own pool and opened a new connection."""

import contextvars
from typing import Any, cast

import pytest
from django.conf import settings
from django.core.cache import caches
from django.core.cache.backends.redis import RedisCache

from wireflow_site.cache import SharedPoolRedisCache


def _in_a_new_context(work: Any) -> Any:
    return contextvars.Context().run(work)  # as the ASGI server runs each request


def test_the_configured_cache_is_the_shared_pool_backend() -> None:
    assert isinstance(caches["default"], SharedPoolRedisCache)


def test_every_context_of_the_process_uses_one_client_and_its_pools() -> None:
    clients = {id(_in_a_new_context(lambda: cast(SharedPoolRedisCache, caches["default"]).client))
               for _ in range(20)}
    assert len(clients) == 1
    _in_a_new_context(lambda: caches["default"].set("wireflow-test-shared", "a value", 30))
    assert _in_a_new_context(lambda: caches["default"].get("wireflow-test-shared")) == "a value"


def test_django_s_own_backend_would_make_a_client_per_instance() -> None:
    # The reason for the shared backend: two instances (two contexts) of RedisCache hold two
    # clients, so two pools and two connections; of ours, one.
    ours = [SharedPoolRedisCache(settings.REDIS_URL, {}) for _ in range(2)]
    theirs = [RedisCache(settings.REDIS_URL, {}) for _ in range(2)]
    assert ours[0].client is ours[1].client
    assert getattr(theirs[0], "_cache") is not getattr(theirs[1], "_cache")  # noqa: B009


def test_a_forked_process_makes_its_own_client(monkeypatch: pytest.MonkeyPatch) -> None:
    parent = SharedPoolRedisCache(settings.REDIS_URL, {}).client
    monkeypatch.setattr("wireflow_site.cache.os.getpid", lambda: -1)
    assert SharedPoolRedisCache(settings.REDIS_URL, {}).client is not parent

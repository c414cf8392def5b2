"""Django's Redis cache with one connection pool per process.

Django keeps a cache backend per thread and per async context, and RedisCache keeps its
connection pools in that backend instance. Under the ASGI server every request runs in a new
context, so every request that touched the cache built a new pool and opened (and greeted) a
new Redis connection: 100 simulated submits opened 102 connections, each a connect and a HELLO
before the command. Here the client that holds the pools is made once per process and shared
by every backend instance of it (redis-py's pools are thread-safe; a forked child makes its own).
"""

import os
import re
import threading
from typing import Any

from django.core.cache.backends.redis import RedisCache, RedisCacheClient
from django.utils.functional import cached_property

_clients: dict[tuple[Any, ...], RedisCacheClient] = {}
_lock = threading.Lock()


class SharedPoolRedisCache(RedisCache):
    """RedisCache whose client (and so its connection pools) is one per process."""

    def __init__(self, server: str | list[str], params: dict[str, Any]) -> None:
        super().__init__(server, params)
        self._locations = re.split("[;,]", server) if isinstance(server, str) else list(server)
        self._client_options: dict[str, Any] = params.get("OPTIONS", {})

    @property
    def client(self) -> RedisCacheClient:
        return self._cache

    @cached_property
    def _cache(self) -> RedisCacheClient:
        key = (os.getpid(), tuple(self._locations), repr(sorted(self._client_options.items())))
        with _lock:
            client = _clients.get(key)
            if client is None:
                client = _clients[key] = RedisCacheClient(self._locations, **self._client_options)
            return client

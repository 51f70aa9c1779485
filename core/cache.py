"""The Redis cache backend, with one set of connection pools per process.

Django keeps cache instances per async context (`caches` is an asgiref Local that is not
thread-critical), and each RedisCache instance builds its own client and connection pools. Under
ASGI every request, and every `sync_to_async` call from a new task, is a new context: each got a
new pool and opened a new TCP connection to Redis (with its handshake commands), and the old pools
were left to the garbage collector. bench/helpline_chat.py's profile showed it as a Redis
connection per message batch. Sharing the client per configuration keeps the pools for the life of
the process; redis-py's pools are thread-safe and start afresh in a forked child.
"""

from __future__ import annotations

import threading
from typing import Any

from django.core.cache.backends.redis import RedisCache as DjangoRedisCache
from django.utils.functional import cached_property

_clients: dict[tuple[tuple[str, ...], str], Any] = {}
_clients_lock = threading.Lock()


class RedisCache(DjangoRedisCache):
    """Django's RedisCache; every instance with the same servers and options shares one client."""

    @cached_property
    def _cache(self) -> Any:
        key = (tuple(self._servers), repr(sorted(self._options.items())))
        with _clients_lock:
            client = _clients.get(key)
            if client is None:
                client = _clients[key] = self._class(self._servers, **self._options)
        return client

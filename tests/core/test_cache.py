"""core.cache.RedisCache: one set of Redis connections per process, whatever the async context."""

from __future__ import annotations

import asyncio

import pytest
import redis
from asgiref.sync import sync_to_async
from django.core.cache import caches

pytestmark = pytest.mark.redis


@pytest.fixture
def redis_cache(settings, redis_url):  # type: ignore[no-untyped-def]
    settings.CACHES = {"default": {"BACKEND": "core.cache.RedisCache", "LOCATION": redis_url,
                                   "KEY_PREFIX": "test-core-cache"}}
    yield  # nothing touches caches["default"] here: a context made below would inherit it
    caches["default"].clear()


def _connections_received(url: str) -> int:
    return int(redis.Redis.from_url(url).info("stats")["total_connections_received"])


def _round_trip(n: int) -> tuple[int, int | None]:
    """In a pool thread, in the calling task's context: the instance and what it reads back."""
    cache = caches["default"]
    cache.set(f"k{n}", n, timeout=30)
    return id(cache._cache), cache.get(f"k{n}")


def test_every_async_context_shares_one_client_and_its_connections(redis_cache, redis_url):
    # Each task is a context of its own, as each ASGI request is: each gets its own instance.
    async def forty_tasks() -> list[tuple[int, int | None]]:
        call = sync_to_async(_round_trip, thread_sensitive=False)
        return await asyncio.gather(*(call(n) for n in range(40)))

    before = _connections_received(redis_url)
    results = asyncio.run(forty_tasks())
    opened = _connections_received(redis_url) - before - 1  # -1: the counting connection

    assert [value for _, value in results] == list(range(40))
    assert len({client for client, _ in results}) == 1  # 40 contexts, 40 instances, 1 client
    # Django's own RedisCache opens a connection per context (40 here); the shared pools
    # open at most one per thread that is using one at the same time.
    assert opened <= 8


def test_a_different_location_gets_its_own_client(settings, redis_url):
    from core.cache import RedisCache

    one = RedisCache(redis_url, {})
    again = RedisCache(redis_url, {})
    other = RedisCache(redis_url.rsplit("/", 1)[0] + "/13", {})
    assert one._cache is again._cache
    assert other._cache is not one._cache

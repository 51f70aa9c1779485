"""Abuse limits for public pages without storing who anyone is (used by helpline and learning).

A source address becomes an HMAC under a random key made for the day and kept only in the cache
(Redis in production and CI) with a two-day TTL, per namespace; counters are keyed by that HMAC.
The address is never stored, and neither is a plain hash of it (which enumeration of the IPv4
space would reverse): once the day's key expires, yesterday's counters mean nothing.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Sequence
from datetime import datetime

from django.core.cache import cache, caches
from django.core.cache.backends.redis import RedisCache
from django.utils import timezone

DAY_KEY_TTL = 2 * 24 * 3600


def _day_key(namespace: str, at: datetime) -> bytes:
    name = f"{namespace}:source-key:{at:%Y-%m-%d}"
    cache.add(name, secrets.token_hex(32), timeout=DAY_KEY_TTL)  # first caller of the day wins
    return bytes.fromhex(cache.get(name) or secrets.token_hex(32))


def source_tag(address: str, *, namespace: str, at: datetime | None = None) -> str:
    """The day's keyed tag of a source address (or any value to count by, e.g. an index)."""
    key = _day_key(namespace, at or timezone.now())
    return hmac.new(key, address.encode(), hashlib.sha256).hexdigest()[:32]


def hit(name: str, *, limit: int, window: int) -> bool:
    """Count one event; False when the window already holds `limit` events."""
    if cache.add(name, 1, timeout=window):
        return True
    try:
        count = cache.incr(name)
    except ValueError:  # expired between add and incr
        cache.add(name, 1, timeout=window)
        return True
    return count <= limit


# hit_many's counters in one command: per key, in order, SET NX (0, with the window's TTL) and
# INCR, the same counts `hit` keeps; run by Redis, so the batch costs one round trip and one
# command to pack however many counters it holds.
_HIT_MANY_LUA = """
local counts = {}
for i, key in ipairs(KEYS) do
  redis.call('SET', key, 0, 'EX', ARGV[1], 'NX')
  counts[i] = redis.call('INCR', key)
end
return counts
"""


def hit_many(names: Sequence[str], *, limit: int, window: int) -> list[bool]:
    """`hit` for several counters, in order; one Redis round trip (one script: SET NX + INCR
    per counter, the same counts `hit` keeps) when the cache is Redis, else one `hit` each.
    Keys are the cache's own (`make_key`, as `hit` makes them; the names are the callers' own
    ASCII, so memcached's key warnings have nothing to say)."""
    if not names:
        return []
    backend = caches["default"]
    if not isinstance(backend, RedisCache):
        return [hit(name, limit=limit, window=window) for name in names]
    keys = [backend.make_key(name) for name in names]
    # Django's own client for the backend (its writes all go to the first server).
    client = backend._cache.get_client(keys[0], write=True)
    counts = client.register_script(_HIT_MANY_LUA)(keys=keys, args=[window])
    return [int(count) <= limit for count in counts]

"""One token bucket per (organisation, channel) in Redis, shared by every worker on every machine.

Celery's `rate_limit` counts per worker process, so two workers send at twice the rate. Here the
bucket lives in Redis and a Lua script refills and takes tokens atomically, using Redis's own
clock (so machines with skewed clocks still share one rate).

`acquire(n)` reserves n tokens and returns how long the caller must wait before sending them (0
when the bucket had them). A wait longer than `max_wait` reserves nothing and returns the wait
as a negative number: the caller hands its rows back with a later due time instead of sleeping.

Without Redis (the SQLite demo) a per-process bucket is used: correct for the demo's single
worker, and documented as not shared.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

import redis
from django.conf import settings

# KEYS[1] bucket hash; ARGV: rate/s, burst, n, max_wait. Returns wait seconds as a string
# (Lua numbers become integers on the way out, so we format them).
_SCRIPT = """
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local n = tonumber(ARGV[3])
local max_wait = tonumber(ARGV[4])
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(state[1]) or burst
local at = tonumber(state[2]) or now
tokens = math.min(burst, tokens + math.max(0, now - at) * rate)
local wait = 0
if tokens < n then
  wait = (n - tokens) / rate
  if wait > max_wait then
    redis.call('HSET', KEYS[1], 'tokens', tokens, 'at', now)
    redis.call('EXPIRE', KEYS[1], 3600)
    return tostring(-wait)
  end
end
redis.call('HSET', KEYS[1], 'tokens', tokens - n, 'at', now)
redis.call('EXPIRE', KEYS[1], 3600)
return tostring(wait)
"""


@dataclass(frozen=True)
class Bucket:
    organisation_id: int
    channel: str
    rate: float
    burst: int

    @property
    def key(self) -> str:
        return f"outreach:bucket:{self.organisation_id}:{self.channel}"


class RedisBuckets:
    def __init__(self, url: str) -> None:
        self.client = redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5)
        self.script = self.client.register_script(_SCRIPT)  # EVALSHA, falls back to EVAL

    def acquire(self, bucket: Bucket, n: int, *, max_wait: float) -> float:
        rate = max(bucket.rate, 0.001)
        burst = max(bucket.burst, n, 1)
        return float(self.script(keys=[bucket.key], args=[rate, burst, n, max_wait]))


class LocalBuckets:
    """Per-process fallback with the same semantics (not shared between processes)."""

    def __init__(self) -> None:
        self.state: dict[str, tuple[float, float]] = {}
        self.lock = threading.Lock()

    def acquire(self, bucket: Bucket, n: int, *, max_wait: float) -> float:
        rate = max(bucket.rate, 0.001)
        burst = max(bucket.burst, n, 1)
        with self.lock:
            now = time.monotonic()
            tokens, at = self.state.get(bucket.key, (float(burst), now))
            tokens = min(burst, tokens + (now - at) * rate)
            wait = max(0.0, (n - tokens) / rate)
            if wait > max_wait:
                self.state[bucket.key] = (tokens, now)
                return -wait
            self.state[bucket.key] = (tokens - n, now)
            return wait


_buckets: RedisBuckets | LocalBuckets | None = None


def buckets() -> RedisBuckets | LocalBuckets:
    global _buckets
    if _buckets is None:
        url = settings.DELIVERY_REDIS_URL
        _buckets = RedisBuckets(url) if url else LocalBuckets()
    return _buckets


def acquire(bucket: Bucket, n: int, *, max_wait: float) -> float:
    return buckets().acquire(bucket, n, max_wait=max_wait)

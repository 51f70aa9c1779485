"""Abuse limits without storing who anyone is.

- New conversations (and resume attempts) per source: the source address is turned into an
  HMAC under a random key made for the day and kept only in the cache (Redis in production and
  CI) with a two-day TTL; counters are keyed by that HMAC with a one-hour TTL. The address is
  never stored, and neither is a plain hash of it (which enumeration of the IPv4 space would
  reverse): once the day's key expires, yesterday's counters mean nothing.
- Messages per conversation: a fixed window per conversation id.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime

from django.conf import settings
from django.core.cache import cache
from django.utils import timezone

DAY_KEY_TTL = 2 * 24 * 3600
WINDOW_SECONDS = 3600


def _day_key(at: datetime) -> bytes:
    name = f"helpline:source-key:{at:%Y-%m-%d}"
    cache.add(name, secrets.token_hex(32), timeout=DAY_KEY_TTL)  # first caller of the day wins
    return bytes.fromhex(cache.get(name) or secrets.token_hex(32))


def source_tag(address: str, *, at: datetime | None = None) -> str:
    key = _day_key(at or timezone.now())
    return hmac.new(key, address.encode(), hashlib.sha256).hexdigest()[:32]


def _hit(name: str, *, limit: int, window: int) -> bool:
    """Count one event; False when the window already holds `limit` events."""
    if cache.add(name, 1, timeout=window):
        return True
    try:
        count = cache.incr(name)
    except ValueError:  # expired between add and incr
        cache.add(name, 1, timeout=window)
        return True
    return count <= limit


def source_allows(address: str, *, what: str, at: datetime | None = None) -> bool:
    limit = {"start": settings.HELPLINE_STARTS_PER_SOURCE_PER_HOUR,
             "resume": settings.HELPLINE_RESUMES_PER_SOURCE_PER_HOUR}[what]
    return _hit(f"helpline:{what}:{source_tag(address, at=at)}", limit=limit,
                window=WINDOW_SECONDS)


def message_allows(conversation_id: object, *, sender: str) -> bool:
    return _hit(f"helpline:messages:{sender}:{conversation_id}",
                limit=settings.HELPLINE_MESSAGES_PER_WINDOW,
                window=settings.HELPLINE_MESSAGE_WINDOW_SECONDS)

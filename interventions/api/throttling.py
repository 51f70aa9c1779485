"""Per-partner request budgets for the intervention endpoint.

The intervention endpoint is the hot path, so it has its own fixed-window counter per partner
in the shared cache (Redis) instead of the general API throttle, whose sliding-window history
grows with the rate. Each web process claims tokens from the shared counter in chunks (one
INCRBY per chunk, at most 1% of the budget and never more than 50), so the budget is shared by
all processes and is never exceeded; unused tokens of a chunk lapse with the window, which can
only make the limit slightly stricter. Rate: settings.INTERVENTIONS_RATE_PER_PARTNER or the
environment variable of that name, e.g. "600/s" or "20000/min" (default 12000/min).
"""

from __future__ import annotations

import time

from django.conf import settings
from django.core.cache import cache
from rest_framework.throttling import BaseThrottle

from organisations.api.principal import caller_organisation

DEFAULT_RATE = "12000/min"
_PERIODS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_rate(rate: str) -> tuple[int, int]:
    count, _, period = rate.partition("/")
    return int(count), _PERIODS[period.strip()[0].lower()]


def partner_rate() -> str:
    return settings.INTERVENTIONS_RATE_PER_PARTNER or DEFAULT_RATE


class PartnerRateThrottle(BaseThrottle):
    scope = "interventions"

    def allow_request(self, request, view) -> bool:  # type: ignore[no-untyped-def]
        organisation = caller_organisation(request)
        if organisation is None:
            return True  # authentication and permissions answer 401/403 first
        limit, period = parse_rate(partner_rate())
        now = time.time()
        window = int(now // period)
        key = f"throttle:{self.scope}:{organisation.pk}:{period}:{window}"
        self._wait = period - (now % period)
        return _take(key, limit=limit, timeout=period + 1)

    def wait(self) -> float | None:
        return getattr(self, "_wait", None)


# Tokens this process holds, per window key (only the current windows are kept).
_held: dict[str, int] = {}


def _take(key: str, *, limit: int, timeout: int) -> bool:
    if _held.get(key, 0) > 0:
        _held[key] -= 1
        return True
    chunk = max(1, min(50, limit // 100))
    claimed = _incr(key, chunk, timeout=timeout)
    granted = min(chunk, limit - (claimed - chunk))
    if granted <= 0:
        return False
    if len(_held) > 1000:
        _held.clear()
    _held[key] = granted - 1
    return True


def _incr(key: str, delta: int, *, timeout: int) -> int:
    # Django's incr is "exists, then INCRBY": the key can vanish in between (evicted by a full
    # Redis, or the window's expiry), which raised ValueError, a 500, under load. Retry, and if
    # the counter keeps vanishing grant the chunk rather than fail the request.
    for _ in range(3):
        try:
            return cache.incr(key, delta)
        except ValueError:  # first claim of the window, or the counter vanished
            if cache.add(key, delta, timeout):
                return delta
    return delta


def throttle_clear() -> None:
    _held.clear()

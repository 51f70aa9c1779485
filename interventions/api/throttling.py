"""Per-partner request budgets for the intervention endpoint.

The intervention endpoint is the hot path, so it has its own fixed-window counter per partner
(one Redis INCR per request) instead of the general API throttle, whose sliding-window history
grows with the rate. Rate: settings.INTERVENTIONS_RATE_PER_PARTNER or the environment variable
of that name, e.g. "600/s" or "20000/min" (default 12000/min).
"""

from __future__ import annotations

import os
import time

from django.conf import settings
from django.core.cache import cache
from rest_framework.throttling import BaseThrottle

from outreach.api.principal import caller_organisation

DEFAULT_RATE = "12000/min"
_PERIODS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_rate(rate: str) -> tuple[int, int]:
    count, _, period = rate.partition("/")
    return int(count), _PERIODS[period.strip()[0].lower()]


def partner_rate() -> str:
    return (getattr(settings, "INTERVENTIONS_RATE_PER_PARTNER", None)
            or os.environ.get("INTERVENTIONS_RATE_PER_PARTNER") or DEFAULT_RATE)


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
        count = _incr(key, timeout=period + 1)
        self._wait = period - (now % period)
        return count <= limit

    def wait(self) -> float | None:
        return getattr(self, "_wait", None)


def _incr(key: str, *, timeout: int) -> int:
    try:
        return cache.incr(key)
    except ValueError:  # first request of the window
        if cache.add(key, 1, timeout):
            return 1
        return cache.incr(key)

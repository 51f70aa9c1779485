"""Is a service open at an instant? Pure functions over weekly periods in the service's time zone.

A period is (weekday, opens, closes) with ISO weekdays (1 = Monday … 7 = Sunday) in the
service's local time. A period whose `closes` is not after `opens` runs past midnight into the
next day (18:00-02:00 on Friday is open until 02:00 on Saturday); `opens == closes` means the
whole 24 hours from `opens`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, time
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from django.core.exceptions import ValidationError


@dataclass(frozen=True)
class Period:
    weekday: int  # ISO: 1 = Monday … 7 = Sunday
    opens: time
    closes: time


def validate_time_zone(value: str) -> None:
    """An IANA zone name such as Europe/London (blank is allowed: hours unknown)."""
    if value and value not in _zones():
        raise ValidationError(f"'{value}' is not an IANA time zone such as Europe/London.")


def _zones() -> set[str]:
    global _ZONES
    if _ZONES is None:
        _ZONES = available_timezones()
    return _ZONES


_ZONES: set[str] | None = None


def zone(name: str) -> ZoneInfo | None:
    try:
        return ZoneInfo(name) if name else None
    except (ZoneInfoNotFoundError, ValueError):
        return None


def is_open_at(periods: Iterable[Period], *, time_zone: str, at: datetime) -> bool | None:
    """True/False from the periods; None when the zone is unknown (we cannot say)."""
    tz = zone(time_zone)
    if tz is None or at.tzinfo is None:
        return None
    local = at.astimezone(tz)
    weekday, now = local.isoweekday(), local.time().replace(tzinfo=None)
    previous_day = 7 if weekday == 1 else weekday - 1
    return any(_covers(period, weekday, previous_day, now) for period in periods)


def _covers(period: Period, weekday: int, previous_day: int, now: time) -> bool:
    if period.opens < period.closes:  # same-day period
        return period.weekday == weekday and period.opens <= now < period.closes
    # Runs past midnight: the evening part today, the small hours tomorrow.
    if period.weekday == weekday and now >= period.opens:
        return True
    return period.weekday == previous_day and now < period.closes

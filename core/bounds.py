"""The range a timestamp we accept or count may fall in.

A reported time outside it is refused at the edge with a 400 naming the field; a stored row
outside it (written before these checks) is skipped by the rollup and the reports and counted,
never read into Python where a date before year 1 or after 9999 raises.

* EARLIEST: nothing this system records predates 2000-01-01 (UTC); any earlier time is a
  mistake (a default of year 1, a unit error).
* CLOCK_SKEW: a reporter's clock may run up to 5 minutes ahead of ours.
* EXISTENCE_TOLERANCE: an event may be dated up to one day before the campaign or exposure it
  refers to existed (a reporter's clock or time zone set wrong: offsets reach 14 hours).
* LATEST_PLANNED: planning times (flights, scheduled sends) may lie in the future, but not
  beyond 2100.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from django.utils import timezone

EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
EARLIEST_DAY = EARLIEST.date()
LATEST_PLANNED = datetime(2100, 1, 1, tzinfo=UTC)
CLOCK_SKEW = timedelta(minutes=5)
EXISTENCE_TOLERANCE = timedelta(days=1)
STORED_FUTURE_TOLERANCE = timedelta(days=1)  # a stored row later than now + this is skipped


def event_time_problem(moment: datetime, *, at: datetime,
                       not_before: datetime | None = None) -> str | None:
    """Why `moment` (aware) cannot be the time of an event reported at `at`, or None."""
    if moment > at + CLOCK_SKEW:
        return "Cannot be in the future (we allow 5 minutes of clock skew)."
    floor = max(EARLIEST, not_before - EXISTENCE_TOLERANCE) if not_before else EARLIEST
    if moment < floor:
        return f"Cannot be before {floor.isoformat()} (when what it refers to existed, less " \
               "one day of tolerance)."
    return None


def planned_time_problem(moment: datetime) -> str | None:
    """Why `moment` (aware) cannot be a planning time (a flight's start, a send), or None."""
    if not EARLIEST <= moment < LATEST_PLANNED:
        return f"Must lie between {EARLIEST.date()} and {LATEST_PLANNED.date()}."
    return None


def day_problem(day: date, *, at: datetime) -> str | None:
    """Why `day` cannot be a reported calendar day, or None."""
    if day > timezone.localdate(at):
        return "The day cannot be in the future."
    if day < EARLIEST_DAY:
        return f"The day cannot be before {EARLIEST_DAY}."
    return None


def stored_range(at: datetime | None = None) -> tuple[datetime, datetime]:
    """[first, last) of stored event times that rollups and reports count."""
    return EARLIEST, (at or timezone.now()) + STORED_FUTURE_TOLERANCE


def stored_day_range(at: datetime | None = None) -> tuple[date, date]:
    """[first, last] of stored calendar days that reports read."""
    first, last = stored_range(at)
    return first.date(), last.date()

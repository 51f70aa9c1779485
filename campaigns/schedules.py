"""When a schedule fires, computed in the organisation's time zone (zoneinfo, DST-safe).

- one_off: fires once at `send_at`.
- recurring: `send_at` is the first occurrence; it repeats daily, weekly or monthly at the same
  local wall-clock time (a monthly schedule on the 31st fires on the last day of shorter months).
- relative: fires every day at `time_of_day`; each firing selects recipients whose date
  attribute (`relative_attribute`) plus `offset_days` is that local day
  (`schedule_relative_target_date`). "7 days after release_date at 10:00" is
  relative_attribute="release_date", offset_days=7, time_of_day=10:00.

Send windows are recipient-local: `window_start`-`window_end` (wrapping past midnight when
start > end) on `window_weekdays` (ISO 1-7, empty means every day). The delivery engine defers
a send outside the window to `schedule_next_window_start`.

Due work lives in PostgreSQL: `Schedule.next_fire_at` is kept current by the services and the
delivery engine claims due rows with SKIP LOCKED; nothing waits on the broker.
"""

from __future__ import annotations

import calendar
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from campaigns.models import Recurrence, Schedule, ScheduleKind

MAX_RECURRENCES = 100_000  # a bound on the catch-up loop (about 270 years of daily sends)


def organisation_zone(schedule: Schedule) -> ZoneInfo:
    return zone_named(schedule.campaign.organisation.time_zone)


def zone_named(name: str | None) -> ZoneInfo:
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def _local(moment: datetime, zone: ZoneInfo) -> datetime:
    return moment.astimezone(zone)


def _at_local(day: date, clock: time, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, clock.replace(tzinfo=None), tzinfo=zone)


def _add_months(day: date, months: int, wanted_day: int) -> date:
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    return date(year, month, min(wanted_day, calendar.monthrange(year, month)[1]))


def recurrence_occurrence(schedule: Schedule, index: int, zone: ZoneInfo) -> datetime:
    """The index-th occurrence (0 = send_at) of a recurring schedule, in local time."""
    first = _local(schedule.send_at, zone)
    if schedule.recurrence == Recurrence.DAILY:
        day = first.date() + timedelta(days=index)
    elif schedule.recurrence == Recurrence.WEEKLY:
        day = first.date() + timedelta(weeks=index)
    else:
        day = _add_months(first.date(), index, first.day)
    return _at_local(day, first.timetz(), zone)


def _next_recurring(schedule: Schedule, after: datetime, zone: ZoneInfo) -> datetime | None:
    if schedule.send_at is None or not schedule.recurrence:
        return None
    if schedule.send_at > after:
        return schedule.send_at
    # Jump close to `after` instead of walking from the first occurrence.
    period_days = {Recurrence.DAILY: 1, Recurrence.WEEKLY: 7}.get(schedule.recurrence, 31)
    index = max(0, (after - schedule.send_at).days // period_days - 2)
    for _ in range(MAX_RECURRENCES):
        occurrence = recurrence_occurrence(schedule, index, zone)
        if occurrence > after:
            return occurrence
        index += 1
    return None


def _next_daily(clock: time, after: datetime, zone: ZoneInfo) -> datetime:
    local_after = _local(after, zone)
    for offset in range(3):
        occurrence = _at_local(local_after.date() + timedelta(days=offset), clock, zone)
        if occurrence > after:
            return occurrence
    raise AssertionError("unreachable: a daily time recurs within three days")


def schedule_next_fire(schedule: Schedule, after: datetime) -> datetime | None:
    """The first occurrence strictly after `after`, or None when the schedule is spent."""
    zone = organisation_zone(schedule)
    if schedule.kind == ScheduleKind.ONE_OFF:
        return schedule.send_at if schedule.send_at and schedule.send_at > after else None
    if schedule.kind == ScheduleKind.RECURRING:
        return _next_recurring(schedule, after, zone)
    if schedule.kind == ScheduleKind.RELATIVE and schedule.time_of_day is not None:
        return _next_daily(schedule.time_of_day, after, zone)
    return None


def schedule_due_occurrence_key(schedule: Schedule, at: datetime) -> str:
    """A stable key for one firing, for the delivery engine's unique per-recipient key.

    Pass the occurrence being fired (the claimed `next_fire_at`). A one-off schedule has one
    occurrence; others are keyed by the local date and minute of the occurrence, so a re-run
    of the same occurrence makes the same key and cannot send twice.
    """
    if schedule.kind == ScheduleKind.ONE_OFF:
        return f"schedule:{schedule.pk}:once"
    local = _local(at, organisation_zone(schedule))
    return f"schedule:{schedule.pk}:{local:%Y-%m-%dT%H:%M}"


def schedule_relative_target_date(schedule: Schedule, at: datetime) -> date:
    """For a relative schedule firing at `at`: the attribute date that is due (day - offset)."""
    local_day = _local(at, organisation_zone(schedule)).date()
    return local_day - timedelta(days=schedule.offset_days)


# --- recipient-local send windows ----------------------------------------------------------

def _weekday_allowed(schedule: Schedule, day: date) -> bool:
    return not schedule.window_weekdays or day.isoweekday() in schedule.window_weekdays


def _time_allowed(schedule: Schedule, clock: time) -> bool:
    start, end = schedule.window_start, schedule.window_end
    if start is None or end is None:
        return True
    clock = clock.replace(tzinfo=None)
    if start < end:
        return start <= clock < end
    return clock >= start or clock < end  # the window wraps past midnight


def schedule_window_allows(schedule: Schedule, local_dt: datetime) -> bool:
    """Whether a send at `local_dt` (in the recipient's zone) is inside the window.

    For a window wrapping midnight (22:00-02:00), the weekday is the day the window opened.
    """
    if not _time_allowed(schedule, local_dt.timetz()):
        return False
    day = local_dt.date()
    start, end = schedule.window_start, schedule.window_end
    if start is not None and end is not None and start > end \
            and local_dt.time() < end:
        day -= timedelta(days=1)
    return _weekday_allowed(schedule, day)


def schedule_next_window_start(schedule: Schedule, local_dt: datetime) -> datetime:
    """The earliest moment at or after `local_dt` (aware, recipient-local) the window allows."""
    if schedule_window_allows(schedule, local_dt):
        return local_dt
    zone = local_dt.tzinfo
    start = schedule.window_start or time(0, 0)
    for offset in range(8):
        candidate = datetime.combine(local_dt.date() + timedelta(days=offset), start,
                                     tzinfo=zone)
        if candidate >= local_dt and schedule_window_allows(schedule, candidate):
            return candidate
    raise ValueError("the send window allows no time at all")


def schedule_problems(schedule: Schedule, *, now: datetime) -> list[str]:
    """What is wrong with a schedule, each problem naming the field (empty when valid)."""
    problems: list[str] = []
    if schedule.kind == ScheduleKind.ONE_OFF:
        if schedule.send_at is None:
            problems.append("send_at: a one-off schedule needs a send time")
        elif schedule.send_at <= now:
            problems.append("send_at: the send time is in the past")
    elif schedule.kind == ScheduleKind.RECURRING:
        if not schedule.recurrence:
            problems.append("recurrence: choose daily, weekly or monthly")
        if schedule.send_at is None:
            problems.append("send_at: a recurring schedule needs its first send time")
    elif schedule.kind == ScheduleKind.RELATIVE:
        if not schedule.relative_attribute:
            problems.append("relative_attribute: name the recipient date, e.g. release_date")
        if schedule.time_of_day is None:
            problems.append("time_of_day: a relative schedule needs a time of day")
    else:
        problems.append(f"kind: unknown schedule kind '{schedule.kind}'")
    return problems + window_problems(schedule)


def window_problems(schedule: Schedule) -> list[str]:
    problems: list[str] = []
    start, end = schedule.window_start, schedule.window_end
    if (start is None) != (end is None):
        problems.append("window_end: give both ends of the send window, or neither")
    elif start is not None and start == end:
        problems.append("window_end: the send window allows no hour (start equals end)")
    weekdays = schedule.window_weekdays
    if not isinstance(weekdays, list) or not all(
            isinstance(d, int) and not isinstance(d, bool) and 1 <= d <= 7 for d in weekdays):
        problems.append("window_weekdays: use ISO weekdays 1 (Monday) to 7 (Sunday)")
    return problems

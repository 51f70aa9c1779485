"""Next-fire computation in the organisation's zone (one-off, daily, weekly, monthly, relative)
and send windows."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from campaigns.models import Campaign, Schedule
from campaigns.schedules import (
    schedule_due_occurrence_key,
    schedule_next_fire,
    schedule_next_window_start,
    schedule_relative_target_date,
    schedule_window_allows,
)
from tests.factories import OrganisationFactory

LONDON = ZoneInfo("Europe/London")


def schedule(**fields: object) -> Schedule:
    organisation = OrganisationFactory.build(time_zone="Europe/London")
    campaign = Campaign(organisation=organisation)
    return Schedule(campaign=campaign, **fields)


def test_a_one_off_fires_once_at_its_time() -> None:
    send_at = datetime(2026, 12, 1, 9, tzinfo=UTC)
    s = schedule(kind="one_off", send_at=send_at)
    assert schedule_next_fire(s, send_at - timedelta(seconds=1)) == send_at
    assert schedule_next_fire(s, send_at) is None
    assert schedule_due_occurrence_key(s, send_at) == f"schedule:{s.pk}:once"


def test_a_daily_schedule_keeps_its_local_time_across_the_clock_change() -> None:
    first = datetime(2026, 10, 24, 10, 0, tzinfo=LONDON)  # BST, UTC+1
    s = schedule(kind="recurring", recurrence="daily", send_at=first)
    after_change = schedule_next_fire(s, datetime(2026, 10, 25, 0, tzinfo=UTC))
    assert after_change.astimezone(LONDON).hour == 10
    assert after_change.astimezone(UTC).hour == 10  # GMT now, so 10:00 UTC


def test_a_weekly_schedule_skips_to_the_next_week() -> None:
    first = datetime(2026, 11, 2, 9, 30, tzinfo=LONDON)  # a Monday
    s = schedule(kind="recurring", recurrence="weekly", send_at=first)
    nxt = schedule_next_fire(s, datetime(2026, 11, 20, tzinfo=UTC))
    assert nxt.astimezone(LONDON) == datetime(2026, 11, 23, 9, 30, tzinfo=LONDON)


def test_a_monthly_schedule_on_the_31st_fires_on_the_last_day_of_short_months() -> None:
    first = datetime(2027, 1, 31, 8, 0, tzinfo=LONDON)
    s = schedule(kind="recurring", recurrence="monthly", send_at=first)
    nxt = schedule_next_fire(s, first)
    assert nxt.astimezone(LONDON).date() == date(2027, 2, 28)
    assert schedule_next_fire(s, nxt).astimezone(LONDON).date() == date(2027, 3, 31)


def test_a_monthly_schedule_years_later_does_not_skip_a_month() -> None:
    first = datetime(2020, 1, 15, 8, 0, tzinfo=LONDON)
    s = schedule(kind="recurring", recurrence="monthly", send_at=first)
    nxt = schedule_next_fire(s, datetime(2030, 6, 1, tzinfo=UTC))
    assert nxt.astimezone(LONDON).date() == date(2030, 6, 15)


def test_a_relative_schedule_fires_daily_and_targets_the_offset_date() -> None:
    s = schedule(kind="relative", relative_attribute="release_date", offset_days=7,
                 time_of_day=time(10))
    nxt = schedule_next_fire(s, datetime(2026, 11, 25, 12, tzinfo=UTC))
    assert nxt.astimezone(LONDON) == datetime(2026, 11, 26, 10, tzinfo=LONDON)
    assert schedule_relative_target_date(s, nxt) == date(2026, 11, 19)
    assert schedule_due_occurrence_key(s, nxt) == f"schedule:{s.pk}:2026-11-26T10:00"


def test_a_window_allows_only_its_hours_and_weekdays() -> None:
    s = schedule(window_start=time(9), window_end=time(17), window_weekdays=[1, 2, 3, 4, 5])
    assert schedule_window_allows(s, datetime(2026, 11, 25, 9, 0, tzinfo=LONDON))  # Wednesday
    assert not schedule_window_allows(s, datetime(2026, 11, 25, 17, 0, tzinfo=LONDON))
    assert not schedule_window_allows(s, datetime(2026, 11, 28, 12, 0, tzinfo=LONDON))  # Sat


def test_a_send_outside_the_window_waits_for_the_next_opening() -> None:
    s = schedule(window_start=time(9), window_end=time(17), window_weekdays=[1, 2, 3, 4, 5])
    friday_evening = datetime(2026, 11, 27, 18, 0, tzinfo=LONDON)
    assert schedule_next_window_start(s, friday_evening) == \
        datetime(2026, 11, 30, 9, 0, tzinfo=LONDON)
    inside = datetime(2026, 11, 25, 10, 0, tzinfo=LONDON)
    assert schedule_next_window_start(s, inside) == inside


def test_a_window_can_wrap_past_midnight() -> None:
    s = schedule(window_start=time(22), window_end=time(2), window_weekdays=[5])  # Friday night
    assert schedule_window_allows(s, datetime(2026, 11, 27, 23, 0, tzinfo=LONDON))
    assert schedule_window_allows(s, datetime(2026, 11, 28, 1, 0, tzinfo=LONDON))  # Sat 01:00
    assert not schedule_window_allows(s, datetime(2026, 11, 28, 23, 0, tzinfo=LONDON))

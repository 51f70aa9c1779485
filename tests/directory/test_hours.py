from datetime import UTC, datetime, time
from zoneinfo import ZoneInfo

import pytest

from directory.hours import Period, is_open_at
from tests.directory.factories import HelpResourceFactory, OpeningHoursFactory

pytestmark = pytest.mark.django_db

LONDON = ZoneInfo("Europe/London")
FRIDAY_EVENINGS = [Period(5, time(18), time(2))]  # Friday 18:00 to Saturday 02:00


def london(*args):
    return datetime(*args, tzinfo=LONDON)


def utc(*args):
    return datetime(*args, tzinfo=UTC)


def test_a_line_open_past_midnight_is_open_at_1_30_on_the_next_weekday():
    saturday_early = london(2026, 7, 4, 1, 30)  # 4 July 2026 is a Saturday
    assert saturday_early.isoweekday() == 6
    assert is_open_at(FRIDAY_EVENINGS, time_zone="Europe/London", at=saturday_early) is True


def test_a_line_open_past_midnight_closes_at_its_closing_time():
    assert is_open_at(FRIDAY_EVENINGS, time_zone="Europe/London",
                      at=london(2026, 7, 4, 2, 0)) is False
    assert is_open_at(FRIDAY_EVENINGS, time_zone="Europe/London",
                      at=london(2026, 7, 3, 17, 59)) is False
    assert is_open_at(FRIDAY_EVENINGS, time_zone="Europe/London",
                      at=london(2026, 7, 3, 18, 0)) is True


def test_the_small_hours_belong_to_the_previous_day_only():
    # 01:30 on a Saturday after a Thursday-only evening line: closed.
    thursday_evenings = [Period(4, time(18), time(2))]
    assert is_open_at(thursday_evenings, time_zone="Europe/London",
                      at=london(2026, 7, 4, 1, 30)) is False


def test_a_sunday_night_line_runs_into_monday():
    sunday_nights = [Period(7, time(22), time(2))]
    assert is_open_at(sunday_nights, time_zone="Europe/London",
                      at=london(2026, 7, 6, 1, 0)) is True


def test_it_uses_the_local_weekday_not_the_utc_weekday():
    # Friday 23:30 UTC in summer is Saturday 00:30 in London.
    instant = utc(2026, 7, 3, 23, 30)
    assert instant.isoweekday() == 5
    saturday_nights = [Period(6, time(0), time(6))]
    friday_days = [Period(5, time(9), time(17))]
    assert is_open_at(saturday_nights, time_zone="Europe/London", at=instant) is True
    assert is_open_at(friday_days, time_zone="Europe/London", at=instant) is False
    assert is_open_at(FRIDAY_EVENINGS, time_zone="Europe/London", at=instant) is True


def test_a_utc_sunday_evening_is_monday_morning_in_sydney():
    monday_mornings = [Period(1, time(8), time(17))]
    assert is_open_at(monday_mornings, time_zone="Australia/Sydney",
                      at=utc(2026, 7, 5, 22, 30)) is True
    assert is_open_at(monday_mornings, time_zone="Europe/London",
                      at=utc(2026, 7, 5, 22, 30)) is False


def test_it_follows_daylight_saving_time():
    weekday_mornings = [Period(day, time(9), time(17)) for day in range(1, 6)]
    # 08:30 UTC is 09:30 in London in summer (open) but 08:30 in winter (closed).
    assert is_open_at(weekday_mornings, time_zone="Europe/London",
                      at=utc(2026, 7, 6, 8, 30)) is True
    assert is_open_at(weekday_mornings, time_zone="Europe/London",
                      at=utc(2026, 1, 5, 8, 30)) is False


def test_equal_opening_and_closing_times_mean_open_around_the_clock():
    all_day_monday = [Period(1, time(0), time(0))]
    assert is_open_at(all_day_monday, time_zone="UTC", at=utc(2026, 7, 6, 23, 59)) is True
    assert is_open_at(all_day_monday, time_zone="UTC", at=utc(2026, 7, 7, 0, 0)) is False


def test_without_a_time_zone_the_answer_is_unknown():
    assert is_open_at(FRIDAY_EVENINGS, time_zone="", at=utc(2026, 7, 3, 19)) is None


def test_a_phone_line_without_structured_hours_is_hours_unknown():
    line = HelpResourceFactory(kind="helpline")
    assert line.is_open(utc(2026, 7, 3, 12)) is None


@pytest.mark.parametrize("kind", ["website", "self_help_programme", "email"])
def test_an_always_available_kind_without_hours_is_open(kind):
    resource = HelpResourceFactory(kind=kind, phone=None)
    assert resource.is_open(utc(2026, 7, 3, 3)) is True


def test_a_resource_with_structured_hours_uses_them():
    line = HelpResourceFactory(time_zone="Europe/London")
    OpeningHoursFactory(resource=line, weekday=5, opens="18:00", closes="02:00")
    assert line.is_open(london(2026, 7, 4, 1, 30)) is True
    assert line.is_open(london(2026, 7, 4, 12, 0)) is False

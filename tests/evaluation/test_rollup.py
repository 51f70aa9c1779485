"""The rollup turns raw exposures and outcomes into daily cells, incrementally and exactly."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from core.vocabulary import OutcomeKind
from evaluation.models import ArmSubjectTotal, CampaignDailyOutcome, DailyCell, Outcome
from evaluation.rollup import _batch, rollup_pending
from evaluation.selectors import exposures_pending_rollup
from tests.evaluation.factories import campaign_with_arms, expose, outcome

DAY1 = datetime(2026, 11, 2, 9, tzinfo=UTC)
DAY2 = datetime(2026, 11, 3, 23, 30, tzinfo=UTC)


@pytest.fixture
def setup(tenant):  # type: ignore[no-untyped-def]
    campaign, arms = campaign_with_arms(tenant.organisation)
    return campaign, arms


def cells(campaign) -> dict:  # type: ignore[no-untyped-def]
    return {(c.arm.name, c.channel, c.country, c.day): c
            for c in DailyCell.objects.filter(campaign=campaign).select_related("arm")}


def test_every_outcome_kind_has_a_column_in_the_daily_cell() -> None:
    columns = {f.name for f in DailyCell._meta.get_fields()}
    assert set(OutcomeKind.values) <= columns


def test_it_counts_exposures_per_cell_and_day(setup) -> None:  # type: ignore[no-untyped-def]
    campaign, arms = setup
    for person in range(3):
        expose(campaign, arms["legal"], person, at=DAY1)
    expose(campaign, arms["legal"], 0, at=DAY1)  # the same person again that day
    expose(campaign, arms["legal"], 0, at=DAY2)
    expose(campaign, arms["control"], 9, at=DAY1, country="IE")

    result = rollup_pending()

    assert result.exposures == 6
    found = cells(campaign)
    day1 = found[("legal", "on_platform", "GB", date(2026, 11, 2))]
    assert (day1.exposures, day1.unique_subjects) == (4, 3)
    assert found[("legal", "on_platform", "GB", date(2026, 11, 3))].exposures == 1
    assert found[("control", "on_platform", "IE", date(2026, 11, 2))].exposures == 1
    assert exposures_pending_rollup() == 0


def test_a_second_run_adds_only_new_rows_and_keeps_unique_subjects_exact(setup) -> None:  # type: ignore[no-untyped-def]
    campaign, arms = setup
    expose(campaign, arms["legal"], 1, at=DAY1)
    expose(campaign, arms["legal"], 2, at=DAY1)
    rollup_pending()
    expose(campaign, arms["legal"], 2, at=DAY1)  # seen before, same day
    expose(campaign, arms["legal"], 3, at=DAY1)

    assert rollup_pending().exposures == 2
    assert rollup_pending().exposures == 0  # nothing pending: nothing counted twice

    day1 = cells(campaign)[("legal", "on_platform", "GB", date(2026, 11, 2))]
    assert (day1.exposures, day1.unique_subjects) == (4, 3)


def test_small_batches_give_the_same_cells_as_one_big_batch(setup) -> None:  # type: ignore[no-untyped-def]
    campaign, arms = setup
    for person in range(25):
        expose(campaign, arms["help"], person % 7, at=DAY1)
    rollup_pending(batch_size=4)
    day1 = cells(campaign)[("help", "on_platform", "GB", date(2026, 11, 2))]
    assert (day1.exposures, day1.unique_subjects) == (25, 7)


def test_outcomes_count_in_their_exposure_cell_even_when_they_arrive_later(setup) -> None:  # type: ignore[no-untyped-def]
    campaign, arms = setup
    first = expose(campaign, arms["legal"], 1, at=DAY1)
    second = expose(campaign, arms["legal"], 2, at=DAY1)
    rollup_pending()
    outcome(first, "help_click", key="a", at=DAY2)  # clicked the next day
    outcome(second, "help_click", key="b")
    outcome(second, "helpline_contact", key="c")

    assert rollup_pending().outcomes == 3

    day1 = cells(campaign)[("legal", "on_platform", "GB", date(2026, 11, 2))]
    assert (day1.exposures, day1.help_click, day1.helpline_contact) == (2, 2, 1)
    assert not Outcome.objects.filter(rolled_up_at__isnull=True).exists()


def test_an_outcome_rolled_up_before_its_exposure_still_lands_in_the_same_cell(setup) -> None:  # type: ignore[no-untyped-def]
    campaign, arms = setup
    exposure = expose(campaign, arms["legal"], 1, at=DAY1)
    outcome(exposure, "help_click", key="a")
    _batch("outcome", 100)  # the outcome's batch runs first
    _batch("exposure", 100)
    day1 = cells(campaign)[("legal", "on_platform", "GB", date(2026, 11, 2))]
    assert (day1.exposures, day1.help_click) == (1, 1)


def test_referral_code_outcomes_without_an_exposure_go_to_the_campaign_not_to_an_arm(setup) -> None:  # type: ignore[no-untyped-def]
    campaign, _ = setup
    outcome(None, "helpline_contact", key="r1", campaign=campaign, at=DAY1)
    outcome(None, "helpline_contact", key="r2", campaign=campaign, at=DAY1)
    rollup_pending()
    assert not DailyCell.objects.filter(campaign=campaign).exists()
    row = CampaignDailyOutcome.objects.get(campaign=campaign)
    assert (row.kind, row.day, row.count) == ("helpline_contact", date(2026, 11, 2), 2)


def test_subject_totals_count_each_person_once_per_arm_across_days(setup) -> None:  # type: ignore[no-untyped-def]
    campaign, arms = setup
    first = expose(campaign, arms["legal"], 1, at=DAY1)
    expose(campaign, arms["legal"], 1, at=DAY2)
    expose(campaign, arms["legal"], 2, at=DAY2)
    outcome(first, "help_click", key="a")
    rollup_pending()
    total = ArmSubjectTotal.objects.get(arm=arms["legal"])
    assert total.unique_subjects == 2
    assert total.subjects_with_outcome == {"help_click": 1}
    assert sum(c.unique_subjects for c in DailyCell.objects.filter(arm=arms["legal"])) == 3


@pytest.mark.django_db(transaction=True)
def test_the_rollup_is_exact_on_postgresql_too(postgres, tenant) -> None:  # type: ignore[no-untyped-def]
    campaign, arms = campaign_with_arms(tenant.organisation)
    for person in range(30):
        exposure = expose(campaign, arms["legal"], person % 10, at=DAY1 if person < 20 else DAY2)
        if person % 3 == 0:
            outcome(exposure, "help_click", key=f"k{person}")
    rollup_pending(batch_size=7)
    expose(campaign, arms["legal"], 3, at=DAY1)
    outcome(None, "helpline_contact", key="ref", campaign=campaign, at=DAY1)
    rollup_pending(batch_size=7)
    found = cells(campaign)
    day1 = found[("legal", "on_platform", "GB", date(2026, 11, 2))]
    day2 = found[("legal", "on_platform", "GB", date(2026, 11, 3))]
    assert (day1.exposures, day1.unique_subjects, day1.help_click) == (21, 10, 7)
    assert (day2.exposures, day2.unique_subjects, day2.help_click) == (10, 10, 3)
    assert CampaignDailyOutcome.objects.get(campaign=campaign).count == 1

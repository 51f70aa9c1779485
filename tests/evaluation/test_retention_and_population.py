"""Retention keeps rollups and drops raw rows; expired keys go; population counts get an ITS."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from django.utils import timezone

from core.errors import InvalidInput
from core.keys import create_key_file, pseudonym_ring
from evaluation.models import DailyCell, Exposure, Outcome, RetentionRun
from evaluation.reports import campaign_report
from evaluation.retention import (
    destroy_expired_pseudonym_keys,
    expired_key_periods,
    purge_expired_raw_events,
    retention_settings_set,
)
from evaluation.rollup import rollup_pending
from evaluation.tasks import BEAT_SCHEDULE
from organisations.models import AuditEvent
from organisations.services import Actor
from tests.campaigns.factories import FlightFactory
from tests.evaluation.factories import campaign_with_arms, expose, outcome

NOW = datetime(2026, 11, 20, 12, tzinfo=UTC)


@pytest.fixture
def ended(tenant):  # type: ignore[no-untyped-def]
    """A campaign whose only flight ended 100 days before NOW, with raw rows rolled up."""
    campaign, arms = campaign_with_arms(tenant.organisation)
    FlightFactory(campaign=campaign, starts_at=NOW - timedelta(days=130),
                  ends_at=NOW - timedelta(days=100))
    at = NOW - timedelta(days=110)
    first = expose(campaign, arms["legal"], 1, at=at)
    expose(campaign, arms["legal"], 2, at=at)
    outcome(first, "help_click", key="x")
    rollup_pending()
    return campaign, arms


def test_it_purges_raw_events_90_days_after_the_campaign_ends_and_keeps_the_cells(ended) -> None:  # type: ignore[no-untyped-def]
    campaign, _ = ended
    summary = purge_expired_raw_events(now=NOW)
    assert summary[campaign.organisation_id] == {"exposures": 2, "outcomes": 1}
    assert not Exposure.objects.exists() and not Outcome.objects.exists()
    cells = DailyCell.objects.get(campaign=campaign)
    assert (cells.exposures, cells.help_click) == (2, 1)
    report = campaign_report(campaign=campaign, with_population=False)
    assert report.arms[1].exposures.display == "<10"  # still reported, still disclosed
    assert RetentionRun.objects.filter(action="purge").count() == 1
    assert AuditEvent.objects.filter(action="evaluation.raw_events_purged").exists()


def test_it_keeps_raw_events_inside_the_programmes_retention(ended, tenant) -> None:  # type: ignore[no-untyped-def]
    retention_settings_set(organisation=tenant.organisation, actor=Actor.system(),
                           days_after_campaign_end=120)
    assert purge_expired_raw_events(now=NOW) == {}
    assert Exposure.objects.count() == 2


def test_it_never_purges_rows_the_rollup_has_not_counted(ended) -> None:  # type: ignore[no-untyped-def]
    campaign, arms = ended
    late = expose(campaign, arms["help"], 3, at=NOW - timedelta(days=110))
    purge_expired_raw_events(now=NOW)
    assert list(Exposure.objects.all()) == [late]


def test_no_raw_event_outlives_13_months_even_while_a_campaign_runs(tenant) -> None:  # type: ignore[no-untyped-def]
    campaign, arms = campaign_with_arms(tenant.organisation)
    FlightFactory(campaign=campaign, starts_at=NOW - timedelta(days=500), ends_at=None)
    expose(campaign, arms["legal"], 1, at=NOW - timedelta(days=400))
    recent = expose(campaign, arms["legal"], 2, at=NOW - timedelta(days=10))
    rollup_pending()
    purge_expired_raw_events(now=NOW)
    assert list(Exposure.objects.all()) == [recent]


def test_a_programme_cannot_keep_raw_events_longer_than_13_months(tenant) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(InvalidInput):
        retention_settings_set(organisation=tenant.organisation, actor=Actor.system(),
                               days_after_campaign_end=500)


def test_only_key_periods_past_the_maximum_retention_expire(settings, tmp_path) -> None:  # type: ignore[no-untyped-def]
    settings.KEY_DIR = tmp_path
    periods = {"2025-08", "2025-09", "2025-10", "2026-10", "2026-11"}
    for period in periods:
        create_key_file(pseudonym_ring().directory, period)
    expired = set(expired_key_periods(now=NOW))
    # 2026-11 is current, 2026-10 previous; 2025-09 ended 14 months before Nov 2026.
    assert expired == {"2025-08", "2025-09"}


@pytest.mark.django_db
def test_destroying_expired_keys_deletes_the_key_files_and_audits_it(settings, tmp_path) -> None:  # type: ignore[no-untyped-def]
    settings.KEY_DIR = tmp_path
    ring = pseudonym_ring()
    for period in ("2024-01", "2026-11"):
        create_key_file(ring.directory, period)
    assert destroy_expired_pseudonym_keys(now=NOW) == ["2024-01"]
    assert set(ring.keys()) == {"2026-11"}
    assert AuditEvent.objects.filter(action="pseudonym_key.destroyed",
                                     changes={"key_id": "2024-01"}).exists()


def test_beat_rolls_up_every_minute_on_the_evaluation_queue() -> None:
    entry = BEAT_SCHEDULE["evaluation-rollup"]
    assert entry["schedule"] == 60.0 and entry["options"]["queue"] == "evaluation"
    assert {"evaluation.purge_expired_raw_events", "evaluation.destroy_expired_pseudonym_keys"} \
        <= {e["task"] for e in BEAT_SCHEDULE.values()}


def test_the_population_view_fits_an_its_around_the_flights_and_discloses_daily_counts(
        tenant) -> None:  # type: ignore[no-untyped-def]
    from interventions.models import DailyAggregate

    campaign, _ = campaign_with_arms(tenant.organisation)
    start = timezone.now().date() - timedelta(days=90)
    FlightFactory(campaign=campaign, starts_at=datetime.combine(
        start + timedelta(days=60), datetime.min.time(), tzinfo=UTC), ends_at=None)
    rng = np.random.default_rng(7)
    for i in range(90):
        expected = 30 * (1.5 if i >= 60 else 1.0)
        DailyAggregate.objects.create(
            organisation=tenant.organisation, reported_by=tenant.organisation,
            day=start + timedelta(days=i), kind="helpline_contact",
            referral_source="all", count=int(rng.poisson(expected)))
    population = campaign_report(campaign=campaign).population
    assert population.source == "helpline daily aggregates"
    assert population.its is not None
    assert population.its.rate_ratio.lower < 1.5 < population.its.rate_ratio.upper
    assert population.its.rate_ratio.lower > 1.0
    assert all(c.value is None or c.value == 0 or c.value >= 10 for c in population.counts)
    assert sum(population.campaign_on) == 30
    # Issue 14: a fit over the days gives a suppressed day back, so one small day hides it.
    DailyAggregate.objects.filter(day=start).update(count=4)
    population = campaign_report(campaign=campaign).population
    assert population.counts[0].display == "<10"
    assert population.its is None and "suppressed" in population.note


def test_population_view_says_when_it_cannot_fit(tenant) -> None:  # type: ignore[no-untyped-def]
    campaign, _ = campaign_with_arms(tenant.organisation)
    population = campaign_report(campaign=campaign).population
    assert population.its is None and "No population-level counts" in population.note

"""The evaluation demo seeds a locked plan and evidence a report can show, once."""

from __future__ import annotations

from evaluation.demo import seed_demo
from evaluation.models import DailyCell
from evaluation.reports import campaign_report
from evaluation.selectors import exposures_pending_rollup
from interventions.demo import simulate_helpline_totals
from tests.evaluation.factories import campaign_with_arms


def test_the_demo_locks_a_plan_and_gives_a_report_with_a_real_effect(tenant) -> None:  # type: ignore[no-untyped-def]
    campaign, _ = campaign_with_arms(tenant.organisation)
    summary = seed_demo(campaign=campaign)
    assert "plan locked" in summary
    assert simulate_helpline_totals(campaign=campaign) == 90  # the time series' population
    campaign.evaluation_plan.refresh_from_db()
    assert len(campaign.evaluation_plan.locked_hash) == 64
    assert exposures_pending_rollup() == 0
    report = campaign_report(campaign=campaign)
    assert report.srm.verdict == "ok"
    legal = next(c for c in report.comparisons if c.variant == "legal")
    assert legal.shown and legal.risk_ratio.lower > 1  # the simulated +40% effect
    assert report.population.its is not None

    count = DailyCell.objects.count()
    assert "already seeded" in seed_demo(campaign=campaign)
    assert DailyCell.objects.count() == count


def test_the_demo_needs_a_comparator_arm(tenant) -> None:  # type: ignore[no-untyped-def]
    campaign, _ = campaign_with_arms(tenant.organisation, {"a": "variant", "b": "variant"})
    assert "nothing seeded" in seed_demo(campaign=campaign)

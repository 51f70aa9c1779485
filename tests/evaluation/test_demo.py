"""The evaluation demo seeds a locked plan and evidence a report can show, once."""

from __future__ import annotations

from django.db.models import Sum

from evaluation.demo import seed_demo
from evaluation.models import DailyCell
from evaluation.reports import campaign_report, context
from evaluation.selectors import exposures_pending_rollup
from interventions.demo import simulate_helpline_totals
from tests.evaluation.factories import campaign_with_arms


def test_the_demo_locks_a_plan_and_gives_a_report_with_a_real_effect(tenant, monkeypatch) -> None:  # type: ignore[no-untyped-def]
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
    # What became of the simulated contacts: most answered, some left the queue.
    sums = DailyCell.objects.filter(campaign=campaign).aggregate(
        contact=Sum("helpline_contact"), answered=Sum("helpline_answered"),
        abandoned=Sum("helpline_abandoned"))
    assert 0 < sums["abandoned"] < sums["answered"]
    assert sums["answered"] + sums["abandoned"] == sums["contact"]
    # Where the campaign signposts a helpline hosted here (make demo's does), the report
    # shows the queue beside the contacts, and it costs the per-person analysis nothing:
    # every other figure is published as it was.
    monkeypatch.setattr(context, "SIGNPOSTS_HELPLINE", [lambda campaign: True])
    with_queue = campaign_report(campaign=campaign)
    stages = [s.label for s in with_queue.funnel["legal"]]
    assert stages[-3:] == ["helpline_contact", "helpline_answered", "helpline_abandoned"]
    assert with_queue.comparisons == report.comparisons
    assert with_queue.secondary_comparisons == report.secondary_comparisons
    for before, after in zip([*report.arms, report.totals], [*with_queue.arms,
                                                             with_queue.totals], strict=True):
        assert {k: after.outcomes[k] for k in before.outcomes} == before.outcomes

    count = DailyCell.objects.count()
    assert "already seeded" in seed_demo(campaign=campaign)
    assert DailyCell.objects.count() == count


def test_the_demo_needs_a_comparator_arm(tenant) -> None:  # type: ignore[no-untyped-def]
    campaign, _ = campaign_with_arms(tenant.organisation, {"a": "variant", "b": "variant"})
    assert "nothing seeded" in seed_demo(campaign=campaign)

"""Per-person analysis: the person (pseudonym) is the unit of randomisation.

Proportions count people exposed at least once and people with at least one outcome; events
are never capped at the trials (``min``). Without person totals an arm with more outcomes
than exposures has no proportion at all (rates only), and the report says which basis it used.
"""

from __future__ import annotations

import pytest
from scipy.stats import chi2_contingency

from core.disclosure import DisclosurePolicy
from evaluation.models import ArmSubjectTotal
from evaluation.reports import campaign_report
from evaluation.services import plan_create
from organisations.services import Actor
from tests.evaluation.factories import campaign_with_arms, cell

pytestmark = pytest.mark.django_db
OFF = DisclosurePolicy(enabled=False)


def plan(campaign, unit: str = "session") -> None:  # type: ignore[no-untyped-def]
    plan_create(campaign=campaign, actor=Actor.system(), hypothesis="Warnings deter.",
                primary_outcome="help_click", comparator_kind="neutral_control",
                comparator_rationale="The status quo.", unit_of_analysis=unit,
                baseline_rate=0.01, minimum_detectable_effect=0.5, mde_is_relative=True)


def two_arms(tenant):  # type: ignore[no-untyped-def]
    campaign, arms = campaign_with_arms(tenant.organisation, {"c": "comparator", "v": "variant"})
    plan(campaign)
    # repeated displays and repeated clicks: more clicks than displays in the variant
    cell(campaign, arms["c"], exposures=3_000, help_click=900)
    cell(campaign, arms["v"], exposures=3_000, help_click=3_600)
    return campaign, arms


def test_proportions_are_per_person_when_the_person_totals_exist(tenant) -> None:  # type: ignore[no-untyped-def]
    campaign, arms = two_arms(tenant)
    ArmSubjectTotal.objects.create(campaign=campaign, arm=arms["c"], unique_subjects=1_000,
                                   subjects_with_outcome={"help_click": 300})
    ArmSubjectTotal.objects.create(campaign=campaign, arm=arms["v"], unique_subjects=1_000,
                                   subjects_with_outcome={"help_click": 400})
    report = campaign_report(campaign=campaign, policy=OFF, with_population=False)
    c = report.comparisons[0]
    assert c.basis == "subjects" and c.shown
    assert (c.variant_proportion.events, c.variant_proportion.trials) == (400, 1_000)
    assert (c.comparator_proportion.events, c.comparator_proportion.trials) == (300, 1_000)
    expected = chi2_contingency([[400, 600], [300, 700]], correction=False)[1]
    assert c.test.p_value == pytest.approx(expected, rel=1e-9)
    assert c.rate_ratio.value == pytest.approx(4.0)  # rates stay per exposure: 3,600 / 900


def test_without_person_totals_more_outcomes_than_exposures_give_no_proportion(tenant) -> None:  # type: ignore[no-untyped-def]
    campaign, _ = two_arms(tenant)
    report = campaign_report(campaign=campaign, policy=OFF, with_population=False)
    c = report.comparisons[0]
    assert c.basis == "exposures" and c.shown
    assert c.variant_proportion is None and c.test is None and c.odds_ratio is None
    assert "proportions not computed" in c.note
    assert c.rate_ratio.value == pytest.approx(4.0)
    strata = [s for s in report.stratified if s.variant == "v"]
    assert strata and all(not s.shown and "more help_click outcomes" in s.note for s in strata)


def test_the_people_without_the_outcome_are_protected_when_they_are_few(tenant) -> None:  # type: ignore[no-untyped-def]
    # 40 people, 37 clicked: published 40 and 35 (rounded), the 3 who did not click are
    # the small cell of the 2x2 table. The per-person comparison reveals both counts
    # exactly, so it may not be published as it stands.
    campaign, arms = campaign_with_arms(tenant.organisation, {"c": "comparator", "v": "variant"})
    plan(campaign)
    cell(campaign, arms["c"], exposures=2_000, help_click=400)
    cell(campaign, arms["v"], exposures=60, help_click=70)
    ArmSubjectTotal.objects.create(campaign=campaign, arm=arms["c"], unique_subjects=1_000,
                                   subjects_with_outcome={"help_click": 300})
    ArmSubjectTotal.objects.create(campaign=campaign, arm=arms["v"], unique_subjects=40,
                                   subjects_with_outcome={"help_click": 37})
    report = campaign_report(campaign=campaign, with_population=False)
    c = report.comparisons[0]
    v = next(a for a in report.arms if a.name == "v")
    # Either the comparison is hidden, or a count it stands on is: never both exact.
    assert not c.shown or v.subjects.suppressed, (c, v.subjects)

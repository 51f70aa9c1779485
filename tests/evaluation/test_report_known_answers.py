"""Known answers at the report level: rollup cells in, the report's figures out.

The statistics package checks these figures function by function; here the same published
counts go through DailyCell rows, the report builder and disclosure control, and the report's
figures are checked against independent computations (scipy, statsmodels, by hand).
"""

from __future__ import annotations

import math
from datetime import date, timedelta

import numpy as np
import pytest
from scipy.stats import chi2, chi2_contingency, fisher_exact
from statsmodels.stats.contingency_tables import StratifiedTable, Table2x2

from core.disclosure import DisclosurePolicy
from evaluation.reports import campaign_report
from evaluation.services import plan_create
from organisations.services import Actor
from tests.evaluation.factories import campaign_with_arms, cell

Z95 = 1.959963984540054
DISPLAYS = 2_800_000
RETHINK = {"info_requested": 1_656, "help_click": 490, "helpline_contact": 68}
PUBLISHED_PER_100K = {"info_requested": 59.14, "help_click": 17.5, "helpline_contact": 2.43}

# Prichard et al. 2022: published arm sizes, counts reconstructed from the published odds
# ratios (see test_stats_known_answers.py for the reconstruction).
CONTROL = (27, 100)
WARNINGS = {"harm a": (28, 74), "harm b": (27, 65), "ip tracing": (40, 81),
            "illegality": (52, 99)}
PUBLISHED_OR = {"ip tracing": (2.64, 1.42, 4.90), "illegality": (2.99, 1.65, 5.41)}


def spread(total: int, parts: int) -> list[int]:
    """Split a total into ``parts`` near-equal integers that add up exactly."""
    base, extra = divmod(total, parts)
    return [base + (1 if i < extra else 0) for i in range(parts)]


@pytest.fixture
def rethink(tenant):  # type: ignore[no-untyped-def]
    """The reThink funnel rolled up over 28 days and two countries in one arm."""
    campaign, arms = campaign_with_arms(tenant.organisation, {"control": "comparator",
                                                              "rethink": "variant"})
    days = [date(2024, 3, 1) + timedelta(days=i) for i in range(28)]
    keys = [(d, country) for d in days for country in ("GB", "IE")]
    columns = {"exposures": spread(DISPLAYS, len(keys)),
               **{k: spread(v, len(keys)) for k, v in RETHINK.items()}}
    for i, (day, country) in enumerate(keys):
        cell(campaign, arms["rethink"], day=day, country=country,
             **{k: v[i] for k, v in columns.items()})
        cell(campaign, arms["control"], day=day, country=country, exposures=100_000,
             help_click=12, info_requested=40, helpline_contact=2)
    return campaign


def arm(report, name: str):  # type: ignore[no-untyped-def]
    return next(row for row in report.arms if row.name == name)


@pytest.mark.parametrize("kind", list(RETHINK))
def test_the_report_reproduces_the_published_rethink_rates(rethink, kind: str) -> None:  # type: ignore[no-untyped-def]
    report = campaign_report(campaign=rethink, with_population=False)
    rate = arm(report, "rethink").rates[kind]
    assert round(rate.rate, 2) == PUBLISHED_PER_100K[kind]


@pytest.mark.parametrize("kind", list(RETHINK))
def test_the_reports_rethink_intervals_match_exact_poisson_limits_by_hand(rethink, kind) -> None:  # type: ignore[no-untyped-def]
    report = campaign_report(campaign=rethink, with_population=False)
    rate = arm(report, "rethink").rates[kind]
    k, scale = RETHINK[kind], 100_000 / DISPLAYS
    assert rate.lower == pytest.approx(chi2.ppf(0.025, 2 * k) / 2 * scale, rel=1e-10)
    assert rate.upper == pytest.approx(chi2.ppf(0.975, 2 * k + 2) / 2 * scale, rel=1e-10)


def test_the_reports_rethink_funnel_shows_rounded_counts_and_exact_conversions(rethink) -> None:  # type: ignore[no-untyped-def]
    report = campaign_report(campaign=rethink, with_population=False)
    stages = {s.label: s for s in report.funnel["rethink"]}
    assert stages["exposures"].count.display == "2,800,000"
    assert stages["info_requested"].count.display == "1,655"  # 1,656 rounded to 5
    assert stages["help_click"].count.display == "490"
    assert stages["helpline_contact"].count.display == "70"  # 68 rounded to 5
    assert stages["help_click"].conversion == pytest.approx(490 / 1_656)
    assert stages["helpline_contact"].conversion == pytest.approx(68 / 490)


def test_the_reports_contacts_are_about_24_per_million(rethink) -> None:  # type: ignore[no-untyped-def]
    report = campaign_report(campaign=rethink, with_population=False)
    assert arm(report, "rethink").rates["helpline_contact"].rate * 10 == pytest.approx(24.29,
                                                                                       abs=0.01)


@pytest.fixture
def prichard(tenant):  # type: ignore[no-untyped-def]
    campaign, arms = campaign_with_arms(tenant.organisation, {
        "no warning": "comparator", **{f"warning {k}": "variant" for k in WARNINGS}})
    plan_create(campaign=campaign, actor=Actor.system(), hypothesis="Warnings deter.",
                primary_outcome="search_abandoned", comparator_kind="neutral_control",
                comparator_rationale="A honeypot page with no warning is the status quo.",
                unit_of_analysis="session", baseline_rate=0.27, minimum_detectable_effect=0.15,
                mde_is_relative=False)
    cell(campaign, arms["no warning"], exposures=CONTROL[1], search_abandoned=CONTROL[0])
    for k, (events, trials) in WARNINGS.items():
        cell(campaign, arms[f"warning {k}"], exposures=trials, search_abandoned=events)
    return campaign


@pytest.mark.parametrize("name", list(WARNINGS))
def test_the_reports_prichard_odds_ratios_match_statsmodels(prichard, name: str) -> None:  # type: ignore[no-untyped-def]
    report = campaign_report(campaign=prichard, with_population=False)
    comparison = next(c for c in report.comparisons if c.variant == f"warning {name}")
    events, trials = WARNINGS[name]
    table = Table2x2(np.array([[events, trials - events], [CONTROL[0], CONTROL[1] - CONTROL[0]]]))
    assert comparison.shown
    assert comparison.odds_ratio.method == "woolf_log"
    assert comparison.odds_ratio.value == pytest.approx(table.oddsratio, rel=1e-12)
    low, high = table.oddsratio_confint(alpha=0.05)
    assert (comparison.odds_ratio.lower, comparison.odds_ratio.upper) == pytest.approx(
        (low, high), rel=1e-9)


def test_the_reports_prichard_p_values_are_holm_adjusted_across_the_four_warnings(prichard) -> None:  # type: ignore[no-untyped-def]
    report = campaign_report(campaign=prichard, with_population=False)
    raw = {c.variant: chi2_contingency(
        [[e, t - e], [CONTROL[0], CONTROL[1] - CONTROL[0]]], correction=False)[1]
        for c, (e, t) in zip(report.comparisons, WARNINGS.values(), strict=True)}
    ordered = sorted(raw.values())
    by_hand, running = [], 0.0
    for i, p in enumerate(ordered):
        running = max(running, min(1.0, (len(ordered) - i) * p))
        by_hand.append(running)
    adjusted = dict(zip(sorted(raw, key=raw.get), by_hand, strict=True))
    for c in report.comparisons:
        assert c.test.p_value == pytest.approx(raw[c.variant], rel=1e-9)
        assert c.adjusted_p_value == pytest.approx(adjusted[c.variant], rel=1e-9)
    strongest = next(c for c in report.comparisons if c.variant == "warning illegality")
    assert 2.5 < strongest.odds_ratio.value < 3.0 and strongest.significant


@pytest.mark.parametrize("name", list(PUBLISHED_OR))
def test_the_report_reproduces_prichards_published_odds_ratios_to_two_decimals(
        prichard, name: str) -> None:  # type: ignore[no-untyped-def]
    report = campaign_report(campaign=prichard, with_population=False)
    c = next(c for c in report.comparisons if c.variant == f"warning {name}")
    shown = (c.odds_ratio.value, c.odds_ratio.lower, c.odds_ratio.upper)
    assert tuple(round(x, 2) for x in shown) == PUBLISHED_OR[name]


def test_the_report_uses_exact_methods_one_event_below_the_threshold(tenant) -> None:  # type: ignore[no-untyped-def]
    campaign, arms = campaign_with_arms(tenant.organisation, {"c": "comparator", "v": "variant"})
    cell(campaign, arms["c"], exposures=1_000, help_click=30)
    cell(campaign, arms["v"], exposures=1_000, help_click=9)
    policy = DisclosurePolicy(threshold=5)  # a programme that publishes counts from 5
    c = campaign_report(campaign=campaign, policy=policy, with_population=False).comparisons[0]
    assert c.shown and c.test.method == "fisher_exact"
    assert c.test.p_value == pytest.approx(fisher_exact([[9, 991], [30, 970]])[1], rel=1e-9)
    assert c.odds_ratio.method == "exact_conditional"
    assert c.rate_ratio.method == "exact_conditional_binomial"


def test_the_report_uses_score_methods_at_the_threshold_and_they_agree_with_exact(tenant) -> None:  # type: ignore[no-untyped-def]
    campaign, arms = campaign_with_arms(tenant.organisation, {"c": "comparator", "v": "variant"})
    cell(campaign, arms["c"], exposures=10_000, help_click=560)
    cell(campaign, arms["v"], exposures=10_000, help_click=500)
    c = campaign_report(campaign=campaign, with_population=False).comparisons[0]
    assert c.test.method == "pearson_chi2" and c.rate_ratio.method == "wald_log"
    exact_p = fisher_exact([[500, 9_500], [560, 9_440]])[1]
    assert c.test.p_value == pytest.approx(exact_p, abs=0.005)


def test_the_report_hides_an_exact_comparison_when_the_count_is_below_the_default_threshold(
        tenant) -> None:  # type: ignore[no-untyped-def]
    campaign, arms = campaign_with_arms(tenant.organisation, {"c": "comparator", "v": "variant"})
    cell(campaign, arms["c"], exposures=1_000, help_click=30)
    cell(campaign, arms["v"], exposures=1_000, help_click=9)
    c = campaign_report(campaign=campaign, with_population=False).comparisons[0]
    assert not c.shown and c.odds_ratio is None and c.rate_ratio is None


def test_the_reports_mantel_haenszel_by_country_matches_statsmodels(rethink) -> None:  # type: ignore[no-untyped-def]
    report = campaign_report(campaign=rethink, with_population=False)
    view = next(s for s in report.stratified if s.dimension == "country")
    per_country = {}
    for country in ("GB", "IE"):
        v = (sum(spread(RETHINK["help_click"], 56)[i] for i in range(56) if i % 2 == (
            country == "IE")), sum(spread(DISPLAYS, 56)[i] for i in range(56) if i % 2 == (
                country == "IE")))
        per_country[country] = np.array([[v[0], v[1] - v[0]], [12 * 28, 100_000 * 28 - 12 * 28]])
    expected = StratifiedTable([per_country["GB"], per_country["IE"]])
    assert view.shown
    assert view.result.odds_ratio.value == pytest.approx(expected.oddsratio_pooled, rel=1e-9)
    low, high = expected.oddsratio_pooled_confint()
    assert view.result.odds_ratio.lower == pytest.approx(low, rel=1e-9)
    assert view.result.odds_ratio.upper == pytest.approx(high, rel=1e-9)


def test_the_srm_check_passes_balanced_arms_and_flags_a_lost_share(tenant) -> None:  # type: ignore[no-untyped-def]
    campaign, arms = campaign_with_arms(tenant.organisation, {"c": "comparator", "v": "variant"})
    cell(campaign, arms["c"], day=date(2026, 1, 1), exposures=10_000)
    cell(campaign, arms["v"], day=date(2026, 1, 1), exposures=10_050)
    cell(campaign, arms["c"], day=date(2026, 1, 2), exposures=10_000)
    cell(campaign, arms["v"], day=date(2026, 1, 2), exposures=8_000)  # a partner dropped some
    report = campaign_report(campaign=campaign, with_population=False)
    assert report.srm.verdict == "warn"
    assert report.srm.flagged_days == (date(2026, 1, 2),)
    observed = [20_000, 18_050]
    assert report.srm.p_value == pytest.approx(chi2.sf(
        sum((o - 19_025) ** 2 / 19_025 for o in observed), 1), rel=1e-9)


def test_srm_uses_the_planned_weights(tenant) -> None:  # type: ignore[no-untyped-def]
    campaign, arms = campaign_with_arms(tenant.organisation, {"c": "comparator", "v": "variant"})
    arms["v"].weight = 3
    arms["v"].save()
    cell(campaign, arms["c"], exposures=10_000)
    cell(campaign, arms["v"], exposures=30_100)
    report = campaign_report(campaign=campaign, with_population=False)
    assert report.srm.verdict == "ok"
    assert report.srm.expected_shares == {"c": 0.25, "v": 0.75}


def test_progress_is_measured_against_the_planned_sample(prichard) -> None:  # type: ignore[no-untyped-def]
    report = campaign_report(campaign=prichard, with_population=False)
    required = prichard.evaluation_plan.required_sample_per_arm
    assert report.progress.required_per_arm == required
    assert report.progress.fraction == pytest.approx(65 / required)  # the smallest arm
    assert report.progress.complete is (required <= 65)


def test_progress_leaves_the_holdout_out_of_the_per_arm_target(tenant) -> None:  # type: ignore[no-untyped-def]
    campaign, arms = campaign_with_arms(tenant.organisation, {
        "c": "comparator", "v": "variant", "h": "holdout"})
    plan_create(campaign=campaign, actor=Actor.system(), hypothesis="Warnings deter.",
                primary_outcome="help_click", comparator_kind="neutral_control",
                comparator_rationale="The status quo.", unit_of_analysis="session",
                baseline_rate=0.27, minimum_detectable_effect=0.15, mde_is_relative=False)
    required = campaign.evaluation_plan.required_sample_per_arm
    cell(campaign, arms["c"], exposures=required, help_click=required // 4)
    cell(campaign, arms["v"], exposures=required, help_click=required // 3)
    cell(campaign, arms["h"], exposures=required // 10, help_click=required // 40)
    report = campaign_report(campaign=campaign, with_population=False)
    assert report.progress.fraction == pytest.approx(1.0)
    assert report.progress.complete is True
    assert "h" not in report.progress.fractions  # the plan does not compare it: no target


def test_progress_with_a_small_holdout_measures_each_arm_against_its_own_target(tenant) -> None:  # type: ignore[no-untyped-def]
    # 1:9 holdout: the planner sizes the holdout at n and each variant at 9n. With 9n
    # variant and n/2 holdout exposures the plan is half done, not complete.
    from decimal import Decimal

    campaign, arms = campaign_with_arms(tenant.organisation, {"h": "holdout", "v": "variant"})
    arms["v"].weight = Decimal(9)
    arms["v"].save(update_fields=["weight"])
    plan_create(campaign=campaign, actor=Actor.system(), hypothesis="Warnings deter.",
                primary_outcome="help_click", comparator_kind="holdout",
                comparator_rationale="No message.", unit_of_analysis="session",
                baseline_rate=0.27, minimum_detectable_effect=0.15, mde_is_relative=False)
    required = campaign.evaluation_plan.required_sample_per_arm
    cell(campaign, arms["h"], exposures=required // 2, help_click=required // 8)
    cell(campaign, arms["v"], exposures=9 * required, help_click=3 * required)
    progress = campaign_report(campaign=campaign, with_population=False).progress
    assert progress.targets["h"] == required
    assert progress.targets["v"] == pytest.approx(9 * required, abs=1)
    assert progress.fractions["v"] == pytest.approx(1.0, abs=1e-3)
    assert progress.fraction == pytest.approx((required // 2) / required)
    assert progress.complete is False


def test_a_day_unit_widens_rate_ratio_intervals_for_overdispersed_days(tenant) -> None:  # type: ignore[no-untyped-def]
    campaign, arms = campaign_with_arms(tenant.organisation, {"c": "comparator", "v": "variant"})
    counts = [20, 80, 15, 95, 30, 70, 25, 90]  # far more day-to-day spread than Poisson
    for i, k in enumerate(counts):
        cell(campaign, arms["c"], day=date(2026, 1, 1 + i), exposures=100_000, help_click=k)
        cell(campaign, arms["v"], day=date(2026, 1, 1 + i), exposures=100_000,
             help_click=k + 10)
    plain = campaign_report(campaign=campaign, with_population=False).comparisons[0]
    plan_create(campaign=campaign, actor=Actor.system(), hypothesis="h",
                primary_outcome="help_click", comparator_kind="neutral_control",
                comparator_rationale="r", unit_of_analysis="day", baseline_rate=0.0005,
                minimum_detectable_effect=0.2, analysis_method="quasi_poisson_days")
    widened = campaign_report(campaign=campaign, with_population=False).comparisons[0]
    assert "quasi_poisson" in widened.rate_ratio.method
    assert widened.rate_ratio.value == pytest.approx(plain.rate_ratio.value)
    assert widened.rate_ratio.lower < plain.rate_ratio.lower
    assert widened.rate_ratio.upper > plain.rate_ratio.upper
    assert math.log(widened.rate_ratio.upper) > math.log(plain.rate_ratio.upper)

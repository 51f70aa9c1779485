"""Rare events: the measured size and coverage of the small-count methods (seeded
simulation, no hard-coded results), and known answers of the mid-p formulas.

Figures (printed with -s; quoted in evaluation/README.md) come from 20,000 draws per point.
"""

from __future__ import annotations

import math
from functools import cache

import numpy as np
import pytest
from scipy.stats import fisher_exact

from evaluation.stats import EXACT_THRESHOLD, clopper_pearson_interval, rate_ratio, wilson_interval
from evaluation.stats.rare import (
    fisher_mid_p,
    mid_p_binomial_test,
    mid_p_interval,
    mid_p_poisson_limits,
    mid_p_rate_ratio,
    small_count_interval,
)

DRAWS = 20_000
DISPLAYS = 2_800_000  # reThink: 490 help clicks in 2.8 million displays


def coverage(interval, n: int, p: float, rng) -> float:  # type: ignore[no-untyped-def]
    """Share of binomial(n, p) draws whose interval holds p (each distinct count once)."""
    draws = rng.binomial(n, p, DRAWS)
    values, times = np.unique(draws, return_counts=True)
    hit = [interval(int(k), n) for k in values]
    return float(sum(t for (lo, hi), t in zip(hit, times, strict=True) if lo <= p <= hi)
                 / DRAWS)


def bounds(method):  # type: ignore[no-untyped-def]
    @cache
    def run(k: int, n: int) -> tuple[float, float]:
        e = method(k, n)
        return e.lower, e.upper
    return run


def test_mid_p_known_answers() -> None:
    # no events: 0.5 * exp(-m) = alpha / 2 and 0.5 * (1 - p)^n = alpha / 2
    assert mid_p_poisson_limits(0) == (0.0, pytest.approx(math.log(20), rel=1e-9))
    assert mid_p_interval(0, 100).upper == pytest.approx(1 - 0.05 ** (1 / 100), rel=1e-9)
    # mid-p sits inside the exact (Clopper-Pearson) interval, and p-values below Fisher's
    mid, exact = mid_p_interval(3, 40), clopper_pearson_interval(3, 40)
    assert exact.lower < mid.lower < mid.upper < exact.upper
    table = [[2, 38], [9, 31]]
    assert fisher_mid_p(table).p_value < fisher_exact(table)[1]
    # the binomial mid-p of 3 of 12 at 1/2: P(X<=2)+P(X>=10) + (P(X=3)+P(X=9))/2
    expected = (1 + 12 + 66) * 2 / 4096 + (220 * 2) / 4096 / 2
    assert mid_p_binomial_test(3, 12, 0.5) == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("mu", [0.5, 1.0, 1.5])
def test_wilson_under_covers_below_about_one_expected_event_and_the_switch_does_not(mu) -> None:
    rng = np.random.default_rng(14)
    p = mu / DISPLAYS
    wilson = coverage(bounds(wilson_interval), DISPLAYS, p, rng)
    chosen = coverage(bounds(small_count_interval), DISPLAYS, p, rng)
    print(f"mu={mu}: wilson {wilson:.3f}, report's interval {chosen:.3f}")
    assert wilson < 0.94  # why the switch exists
    assert chosen >= 0.95 - 0.005  # Clopper-Pearson below 10 events: never under nominal


def test_mid_p_coverage_is_near_nominal_over_small_expected_counts() -> None:
    rng = np.random.default_rng(15)
    mid = bounds(mid_p_interval)
    covered = [coverage(mid, DISPLAYS, mu / DISPLAYS, rng) for mu in (0.5, 1, 2, 3, 5, 8)]
    print("mid-p coverage", [round(c, 3) for c in covered])
    assert 0.94 <= float(np.mean(covered)) <= 0.97
    assert min(covered) >= 0.90


def test_the_rethink_help_click_rate_has_near_nominal_coverage() -> None:
    rng = np.random.default_rng(16)
    p = 490 / DISPLAYS
    covered = coverage(bounds(small_count_interval), DISPLAYS, p, rng)  # Wilson here
    print(f"reThink 490/2.8M: {covered:.3f}")
    assert 0.94 <= covered <= 0.96


def rejection_rate(test, mu: float, rng) -> float:  # type: ignore[no-untyped-def]
    """Share of null draws (equal rates, equal exposure) rejected at 0.05."""
    k1 = rng.poisson(mu, DRAWS)
    k2 = rng.poisson(mu, DRAWS)
    pairs, times = np.unique(np.stack([k1, k2], axis=1), axis=0, return_counts=True)
    rejected = sum(t for (a, b), t in zip(pairs, times, strict=True)
                   if test(int(a), int(b)) < 0.05)
    return rejected / DRAWS


@pytest.mark.parametrize("mu", [2.0, 4.0, 7.0])
def test_the_size_of_the_mid_p_rate_ratio_test_is_near_nominal_and_the_exact_one_below(mu) -> None:
    rng = np.random.default_rng(17)
    mid = rejection_rate(lambda a, b: mid_p_rate_ratio(a, 1e5, b, 1e5)[1].p_value, mu, rng)
    exact = rejection_rate(lambda a, b: rate_ratio(a, 1e5, b, 1e5)[1].p_value, mu, rng)
    print(f"mu={mu} per arm: size mid-p {mid:.4f}, exact conditional {exact:.4f}")
    assert exact <= 0.05 + 0.004
    assert exact <= mid <= 0.065


def test_the_size_of_mid_p_fisher_on_small_arms() -> None:
    rng = np.random.default_rng(18)
    n, p = 40, 0.08
    a, c = rng.binomial(n, p, DRAWS), rng.binomial(n, p, DRAWS)
    pairs, times = np.unique(np.stack([a, c], axis=1), axis=0, return_counts=True)
    mid = sum(t for (x, y), t in zip(pairs, times, strict=True)
              if fisher_mid_p([[int(x), n - int(x)], [int(y), n - int(y)]]).p_value < 0.05)
    fisher = sum(t for (x, y), t in zip(pairs, times, strict=True)
                 if fisher_exact([[int(x), n - int(x)], [int(y), n - int(y)]])[1] < 0.05)
    print(f"2 x 40 at 8%: size mid-p {mid / DRAWS:.4f}, Fisher {fisher / DRAWS:.4f}")
    assert fisher / DRAWS <= mid / DRAWS <= 0.065


def test_small_count_interval_is_wilson_from_the_threshold() -> None:
    assert small_count_interval(EXACT_THRESHOLD, 1000).method == "wilson"
    assert small_count_interval(EXACT_THRESHOLD - 1, 1000).method == "clopper_pearson"
    assert small_count_interval(3, 1000, mid_p=True).method == "mid_p"


@pytest.mark.django_db
@pytest.mark.parametrize("method, expected", [
    ("exact_mid_p", ("mid_p", "fisher_mid_p", "exact_conditional_mid_p", "mid_p_poisson")),
    ("score_exact_fallback", ("clopper_pearson", "boschloo_exact",
                              "exact_conditional_binomial", "garwood_exact")),
])
def test_the_report_uses_mid_p_where_the_plan_says_so(tenant, method, expected) -> None:  # type: ignore[no-untyped-def]
    from core.disclosure import DisclosurePolicy
    from evaluation.reports import campaign_report
    from evaluation.services import plan_create
    from organisations.services import Actor
    from tests.evaluation.factories import campaign_with_arms, cell

    campaign, arms = campaign_with_arms(tenant.organisation, {"c": "comparator", "v": "variant"})
    plan_create(campaign=campaign, actor=Actor.system(), hypothesis="Warnings deter.",
                primary_outcome="help_click", comparator_kind="neutral_control",
                comparator_rationale="The status quo.", unit_of_analysis="session",
                baseline_rate=0.05, minimum_detectable_effect=0.5, mde_is_relative=True,
                analysis_method=method)
    cell(campaign, arms["c"], exposures=80, help_click=9)
    cell(campaign, arms["v"], exposures=80, help_click=2)
    report = campaign_report(campaign=campaign, policy=DisclosurePolicy(enabled=False),
                             with_population=False)
    c = report.comparisons[0]
    rate = next(a for a in report.arms if a.name == "v").rates["help_click"]
    assert (c.variant_proportion.method, c.test.method, c.rate_test.method, rate.method) \
        == expected

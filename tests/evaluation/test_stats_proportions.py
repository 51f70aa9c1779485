"""Proportions: single-arm intervals, comparisons and the choice of test."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st
from statsmodels.stats.proportion import confint_proportions_2indep, proportion_confint

from evaluation.stats import (
    BOSCHLOO_MAX_TOTAL,
    clopper_pearson_interval,
    compare_proportions,
    risk_difference,
    risk_ratio,
    wilson_interval,
)
from evaluation.stats.proportions import choose_test


@pytest.mark.parametrize(("events", "trials"), [(45, 100), (0, 50), (3, 2_000), (50, 50)])
def test_wilson_interval_matches_statsmodels(events: int, trials: int) -> None:
    low, high = proportion_confint(events, trials, method="wilson")
    result = wilson_interval(events, trials)
    assert (result.lower, result.upper) == pytest.approx((low, high), abs=1e-12)


@pytest.mark.parametrize(("events", "trials"), [(45, 100), (1, 50), (3, 2_000), (49, 50)])
def test_clopper_pearson_interval_matches_statsmodels(events: int, trials: int) -> None:
    low, high = proportion_confint(events, trials, method="beta")
    result = clopper_pearson_interval(events, trials)
    assert (result.lower, result.upper) == pytest.approx((low, high), rel=1e-9)


def test_clopper_pearson_upper_limit_at_zero_events_is_the_rule_of_three_exactly() -> None:
    # With no events the upper limit solves (1 - p)^n = 0.025.
    result = clopper_pearson_interval(0, 1_000)
    assert result.lower == 0
    assert result.upper == pytest.approx(1 - 0.025 ** (1 / 1_000), rel=1e-9)


def test_an_arm_with_no_trials_has_the_whole_unit_interval() -> None:
    result = wilson_interval(0, 0)
    assert math.isnan(result.proportion)
    assert (result.lower, result.upper) == (0.0, 1.0)


def test_it_rejects_more_events_than_trials() -> None:
    with pytest.raises(ValueError, match="cannot exceed"):
        wilson_interval(11, 10)


@pytest.mark.parametrize(("a", "n1", "c", "n2"), [(45, 100, 27, 100), (0, 500, 4, 480),
                                                  (68, 2_800_000, 40, 2_800_000)])
def test_newcombe_risk_difference_matches_statsmodels(a: int, n1: int, c: int, n2: int) -> None:
    low, high = confint_proportions_2indep(a, n1, c, n2, method="newcomb", compare="diff")
    result = risk_difference(a, n1, c, n2)
    assert (result.lower, result.upper) == pytest.approx((low, high), abs=1e-12)


def test_risk_ratio_has_an_infinite_upper_limit_when_the_comparator_has_no_events() -> None:
    result = risk_ratio(5, 100, 0, 100)
    assert math.isinf(result.value)
    assert math.isinf(result.upper)
    assert result.lower > 1


def test_risk_ratio_is_zero_with_a_finite_upper_limit_when_the_variant_has_no_events() -> None:
    result = risk_ratio(0, 100, 5, 100)
    assert result.value == 0
    assert result.lower == 0
    assert 0 < result.upper < 1


def test_odds_ratio_for_a_zero_cell_uses_the_exact_conditional_interval() -> None:
    result = compare_proportions(0, 200, 6, 200).odds_ratio
    assert result.method == "exact_conditional"
    assert result.value == 0
    assert result.lower == 0


def test_small_arms_use_boschloo_and_large_arms_use_fisher() -> None:
    small = compare_proportions(3, 60, 9, 60).test
    large = compare_proportions(3, 600, 9, 600).test
    assert small.method == "boschloo_exact"
    assert large.method == "fisher_exact"
    assert 120 <= BOSCHLOO_MAX_TOTAL < 1_200


def test_few_non_events_also_switch_to_an_exact_test() -> None:
    assert compare_proportions(995, 1_000, 980, 1_000).test.method == "fisher_exact"


def test_an_expected_count_below_five_switches_to_an_exact_test_even_with_ten_events() -> None:
    method, reason = choose_test([[10, 10], [10, 100_000]])
    assert method == "fisher_exact"
    assert "expected" in reason


def test_no_events_in_either_arm_gives_p_value_one_and_says_why() -> None:
    result = compare_proportions(0, 1_000, 0, 1_000)
    assert result.test.p_value == 1.0
    assert result.test.method == "none"
    assert math.isnan(result.odds_ratio.value)


@given(
    st.integers(1, 400), st.integers(1, 400), st.integers(0, 400), st.integers(0, 400)
)
def test_every_interval_contains_its_point_estimate(n1: int, n2: int, x1: int, x2: int) -> None:
    x1, x2 = min(x1, n1), min(x2, n2)
    for interval in (wilson_interval(x1, n1), clopper_pearson_interval(x1, n1)):
        assert interval.lower <= interval.proportion <= interval.upper
    rd = risk_difference(x1, n1, x2, n2)
    assert -1 <= rd.lower <= rd.value <= rd.upper <= 1


def test_the_result_reports_variant_first() -> None:
    result = compare_proportions(45, 100, 27, 100)
    assert result.variant.events == 45
    assert result.risk_difference.value == pytest.approx(0.18)
    assert result.risk_ratio.value == pytest.approx(45 / 27)

"""Poisson rates, rate ratios and rate differences."""

from __future__ import annotations

import math

import pytest
from scipy.stats import beta, binomtest
from statsmodels.stats.rates import confint_poisson_2indep

from evaluation.stats import compare_rates, poisson_rate, rate_difference, rate_ratio


def test_zero_events_give_a_zero_lower_limit_and_the_exact_upper_limit() -> None:
    # Garwood upper limit for k = 0 is -log(0.025) = 3.689 expected events.
    rate = poisson_rate(0, 1_000_000)
    assert rate.lower == 0
    assert rate.upper == pytest.approx(-math.log(0.025) / 10, rel=1e-9)


def test_exact_rate_ratio_maps_the_clopper_pearson_interval_for_the_variant_share() -> None:
    ratio, test = rate_ratio(3, 2e6, 7, 1e6)
    low, high = beta.ppf(0.025, 3, 8), beta.ppf(0.975, 4, 7)
    scale = 1e6 / 2e6
    assert ratio.value == pytest.approx(3 / 2e6 / (7 / 1e6))
    assert ratio.lower == pytest.approx(low / (1 - low) * scale, rel=1e-9)
    assert ratio.upper == pytest.approx(high / (1 - high) * scale, rel=1e-9)
    assert test.p_value == pytest.approx(binomtest(3, 10, 2 / 3).pvalue)


def test_exact_rate_ratio_has_an_infinite_upper_limit_without_comparator_events() -> None:
    ratio, _ = rate_ratio(4, 1e6, 0, 1e6)
    assert math.isinf(ratio.upper)
    assert ratio.lower > 0


def test_no_events_at_all_give_p_value_one() -> None:
    ratio, test = rate_ratio(0, 1e6, 0, 1e6)
    assert test.p_value == 1.0
    assert (ratio.lower, ratio.upper) == (0.0, math.inf)


def test_wald_log_rate_ratio_matches_statsmodels() -> None:
    ratio, _ = rate_ratio(68, 2.8e6, 40, 2.8e6)
    low, high = confint_poisson_2indep(68, 2.8e6, 40, 2.8e6, method="wald-log")
    assert (ratio.lower, ratio.upper) == pytest.approx((low, high), rel=1e-9)


@pytest.mark.parametrize(("k1", "k2"), [(3, 7), (0, 5), (68, 40)])
def test_rate_difference_matches_statsmodels_mover_with_exact_rates(k1: int, k2: int) -> None:
    result = rate_difference(k1, 1e6, k2, 1.5e6, per=1)
    low, high = confint_poisson_2indep(
        k1, 1e6, k2, 1.5e6, method="mover", compare="diff", method_mover="exact-c"
    )
    assert (result.lower, result.upper) == pytest.approx((low, high), rel=1e-9)


def test_compare_rates_reports_rates_per_100000() -> None:
    result = compare_rates(68, 2.8e6, 40, 2.8e6)
    assert result.variant.rate == pytest.approx(2.4286, abs=1e-4)
    assert result.rate_difference.value == pytest.approx(1.0)
    assert result.test.p_value < 0.05


def test_it_rejects_a_non_positive_exposure() -> None:
    with pytest.raises(ValueError, match="exposure"):
        poisson_rate(3, 0)

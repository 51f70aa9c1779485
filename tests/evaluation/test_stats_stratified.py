"""Mantel-Haenszel pooling across strata and the Breslow-Day homogeneity test."""

from __future__ import annotations

import math

import numpy as np
import pytest
from statsmodels.stats.contingency_tables import StratifiedTable

from evaluation.stats import mantel_haenszel, stratum_table

Z95 = 1.959963984540054
STRATA = [stratum_table(30, 200, 15, 210), stratum_table(12, 90, 8, 100),
          stratum_table(55, 400, 30, 380)]


def test_pooled_odds_ratio_matches_the_mantel_haenszel_formula_by_hand() -> None:
    numerator = sum(a * d / (a + b + c + d) for (a, b), (c, d) in STRATA)
    denominator = sum(b * c / (a + b + c + d) for (a, b), (c, d) in STRATA)
    assert mantel_haenszel(STRATA).odds_ratio.value == pytest.approx(numerator / denominator)


def test_pooled_risk_ratio_matches_the_mantel_haenszel_formula_by_hand() -> None:
    numerator = sum(a * (c + d) / (a + b + c + d) for (a, b), (c, d) in STRATA)
    denominator = sum(c * (a + b) / (a + b + c + d) for (a, b), (c, d) in STRATA)
    assert mantel_haenszel(STRATA).risk_ratio.value == pytest.approx(numerator / denominator)


def test_one_stratum_gives_the_katz_risk_ratio_interval() -> None:
    # With one stratum the Greenland-Robins variance reduces to Katz's 1/a - 1/n1 + 1/c - 1/n0.
    (a, b), (c, d) = table = stratum_table(30, 200, 15, 210)
    rr = (a / (a + b)) / (c / (c + d))
    se = math.sqrt(1 / a - 1 / (a + b) + 1 / c - 1 / (c + d))
    result = mantel_haenszel([table]).risk_ratio
    assert result.value == pytest.approx(rr)
    assert result.lower == pytest.approx(rr * math.exp(-Z95 * se))
    assert result.upper == pytest.approx(rr * math.exp(Z95 * se))


def test_breslow_day_matches_statsmodels_when_the_pooled_odds_ratio_is_not_one() -> None:
    expected = StratifiedTable(np.dstack(STRATA).astype(float)).test_equal_odds(adjust=False)
    result = mantel_haenszel(STRATA).homogeneity
    assert result.statistic == pytest.approx(expected.statistic, rel=1e-9)
    assert result.p_value == pytest.approx(expected.pvalue, rel=1e-9)


def test_similar_strata_pass_the_homogeneity_test() -> None:
    assert mantel_haenszel(STRATA).homogeneity.p_value > 0.2


def test_opposite_effects_fail_the_homogeneity_test() -> None:
    opposite = [stratum_table(60, 200, 20, 200), stratum_table(20, 200, 60, 200)]
    result = mantel_haenszel(opposite)
    assert result.homogeneity.p_value < 0.001
    assert result.odds_ratio.contains(1.0)


def test_strata_with_an_empty_arm_are_dropped_and_counted() -> None:
    result = mantel_haenszel([*STRATA, stratum_table(0, 0, 4, 50)])
    assert (result.strata_used, result.strata_dropped) == (3, 1)


def test_zero_event_strata_are_kept_without_correction() -> None:
    result = mantel_haenszel([*STRATA, stratum_table(0, 50, 0, 60)])
    assert result.strata_used == 4
    assert math.isfinite(result.odds_ratio.value)


def test_a_table_that_is_not_two_by_two_is_refused() -> None:
    with pytest.raises(ValueError, match="2x2"):
        mantel_haenszel([[[1, 2, 3], [4, 5, 6]]])

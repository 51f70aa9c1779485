"""Mantel-Haenszel pooled effects across strata (for example country or channel).

Each stratum is a 2x2 table ``[[variant_events, variant_non_events],
[comparator_events, comparator_non_events]]``. ``stratum_table`` builds one from counts.

* Pooled odds ratio: Mantel-Haenszel estimate with the Robins-Breslow-Greenland interval,
  via ``statsmodels.stats.contingency_tables.StratifiedTable``.
* Pooled risk ratio: Mantel-Haenszel estimate (statsmodels) with the Greenland-Robins
  (1985) variance of its logarithm, computed here because statsmodels gives no interval.
* Breslow-Day test of homogeneous odds ratios across strata (without Tarone's
  adjustment). A small p-value means the effect differs between strata, and the pooled
  figure should be reported alongside the per-stratum ones rather than instead of them.
* Cochran-Mantel-Haenszel test of a common odds ratio of 1.

Strata with an empty arm carry no information and are dropped before pooling. Zero cells
are kept: the Mantel-Haenszel estimators handle them without correction.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.stats import chi2
from statsmodels.stats.contingency_tables import StratifiedTable

from ._common import DEFAULT_CONFIDENCE, Estimate, SignificanceTest, check_events, z_value

Table = Sequence[Sequence[int]]


@dataclass(frozen=True)
class StratifiedResult:
    strata_used: int
    strata_dropped: int
    odds_ratio: Estimate
    risk_ratio: Estimate
    homogeneity: SignificanceTest
    association: SignificanceTest


def stratum_table(
    variant_events: int, variant_trials: int, comparator_events: int, comparator_trials: int
) -> list[list[int]]:
    """One stratum's 2x2 table from per-arm counts."""
    check_events(variant_events, variant_trials)
    check_events(comparator_events, comparator_trials)
    return [
        [variant_events, variant_trials - variant_events],
        [comparator_events, comparator_trials - comparator_events],
    ]


def mantel_haenszel(
    tables: Sequence[Table], *, confidence: float = DEFAULT_CONFIDENCE
) -> StratifiedResult:
    """Pooled odds ratio and risk ratio with intervals, Breslow-Day and CMH tests."""
    arrays = [_as_array(t) for t in tables]
    used = [t for t in arrays if t[0].sum() > 0 and t[1].sum() > 0]
    if not used:
        raise ValueError("no stratum has trials in both arms")
    stacked = np.dstack(used).astype(float)
    with warnings.catch_warnings():
        # Single-stratum or zero-cell tables make statsmodels warn on the way to nan/inf.
        warnings.simplefilter("ignore", RuntimeWarning)
        table = StratifiedTable(stacked)
        result = StratifiedResult(
            strata_used=len(used),
            strata_dropped=len(arrays) - len(used),
            odds_ratio=_pooled_odds_ratio(table, confidence),
            risk_ratio=_pooled_risk_ratio(stacked, confidence),
            homogeneity=_breslow_day(table, len(used)),
            association=_cmh(table),
        )
    return result


def _as_array(table: Table) -> np.ndarray:
    array = np.asarray(table, dtype=np.int64)
    if array.shape != (2, 2) or (array < 0).any():
        raise ValueError(f"each stratum must be a 2x2 table of non-negative counts: {table}")
    return array


def _pooled_odds_ratio(table: StratifiedTable, confidence: float) -> Estimate:
    lower, upper = table.oddsratio_pooled_confint(alpha=1 - confidence)
    return Estimate(
        float(table.oddsratio_pooled), float(lower), float(upper),
        confidence, "mantel_haenszel_rbg",
    )


def _pooled_risk_ratio(stacked: np.ndarray, confidence: float) -> Estimate:
    a, b, c, d = stacked[0, 0], stacked[0, 1], stacked[1, 0], stacked[1, 1]
    n1, n0 = a + b, c + d
    n = n1 + n0
    r = float(np.sum(a * n0 / n))
    s = float(np.sum(c * n1 / n))
    method = "mantel_haenszel_greenland_robins"
    if r == 0 or s == 0:
        value = 0.0 if r == 0 and s > 0 else (math.inf if s == 0 and r > 0 else math.nan)
        return Estimate(value, 0.0, math.inf, confidence, method)
    variance = float(np.sum((n1 * n0 * (a + c) - a * c * n) / n**2)) / (r * s)
    half = z_value(confidence) * math.sqrt(variance)
    value = r / s
    return Estimate(value, value * math.exp(-half), value * math.exp(half), confidence, method)


def _breslow_day(table: StratifiedTable, strata: int) -> SignificanceTest:
    """Breslow-Day statistic, computed here: statsmodels returns nan when the pooled OR is 1."""
    if strata < 2:
        return SignificanceTest("breslow_day", "needs two or more strata", None, 1.0)
    pooled = float(table.oddsratio_pooled)
    statistic = 0.0
    for k in range(table.table.shape[2]):
        (a, b), (c, d) = table.table[:, :, k]
        expected, variance = _breslow_day_moments(a + b, c + d, a + c, pooled)
        if variance > 0:
            statistic += (a - expected) ** 2 / variance
    p = float(chi2.sf(statistic, strata - 1))
    return SignificanceTest(
        "breslow_day", "homogeneity of odds ratios across strata", statistic, p
    )


def _breslow_day_moments(n1: float, n0: float, m1: float, pooled: float) -> tuple[float, float]:
    """Expected variant events and their variance in one stratum if its OR were ``pooled``.

    Solves a (n0 - m1 + a) = pooled (n1 - a)(m1 - a) for a within the feasible range;
    the quadratic degenerates to a linear equation when the pooled OR is exactly 1.
    """
    low, high = max(0.0, m1 - n0), min(n1, m1)
    quad = 1 - pooled
    lin = n0 - m1 + pooled * (n1 + m1)
    const = -pooled * n1 * m1
    if abs(quad) < 1e-12:
        expected = -const / lin
    else:
        root = math.sqrt(lin * lin - 4 * quad * const)
        candidates = ((-lin + root) / (2 * quad), (-lin - root) / (2 * quad))
        expected = next(x for x in candidates if low - 1e-9 <= x <= high + 1e-9)
    cells = (expected, n1 - expected, m1 - expected, n0 - m1 + expected)
    if min(cells) <= 0:
        return expected, 0.0
    return expected, 1 / sum(1 / x for x in cells)


def _cmh(table: StratifiedTable) -> SignificanceTest:
    result = table.test_null_odds(correction=False)
    return SignificanceTest(
        "cochran_mantel_haenszel", "common odds ratio equals 1",
        float(result.statistic), float(result.pvalue),
    )

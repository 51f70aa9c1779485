"""Sample-ratio mismatch (SRM): did the arms receive the exposures the plan allocated?

A chi-square goodness-of-fit test of observed exposure counts per arm against the planned
allocation weights. A mismatch means assignment or logging is broken (a partner dropping a
variant, a bot filter hitting one arm), and every comparison in the plan is suspect until
it is explained.

The verdict is ``warn`` when p < ``SRM_THRESHOLD`` = 0.001. The threshold is strict on
purpose (as in GrowthBook and most experimentation platforms): SRM checks are repeated on
every report and every day, so a lenient threshold would raise false alarms. For scale:
a 50/50 plan with 10,000 vs 10,400 exposures gives p = 0.005 (not flagged at 0.001), and
10,000 vs 10,600 gives p = 0.00003 (flagged).

The per-day check runs the same test on each day's counts and on the pooled total; a day
that flags points to when the problem started. With many days some flags happen by chance,
so judge the pooled verdict first.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from scipy.stats import chisquare

SRM_THRESHOLD = 0.001

Verdict = Literal["ok", "warn", "insufficient_data"]


@dataclass(frozen=True)
class SrmResult:
    observed: tuple[int, ...]
    expected: tuple[float, ...]
    statistic: float
    degrees_of_freedom: int
    p_value: float
    threshold: float
    verdict: Verdict


@dataclass(frozen=True)
class DailySrmResult:
    overall: SrmResult
    days: tuple[SrmResult, ...]
    flagged_days: tuple[int, ...]


def sample_ratio_mismatch(
    observed: Sequence[int], weights: Sequence[float], *, threshold: float = SRM_THRESHOLD
) -> SrmResult:
    """Chi-square goodness of fit of exposure counts per arm against allocation weights."""
    counts, shares = _validated(observed, weights)
    total = sum(counts)
    expected = tuple(total * share for share in shares)
    df = len(counts) - 1
    if total == 0:
        return SrmResult(counts, expected, 0.0, df, 1.0, threshold, "insufficient_data")
    statistic, p = chisquare(counts, f_exp=expected)
    verdict: Verdict = "warn" if p < threshold else "ok"
    return SrmResult(counts, expected, float(statistic), df, float(p), threshold, verdict)


def sample_ratio_mismatch_by_day(
    daily_counts: Sequence[Sequence[int]],
    weights: Sequence[float],
    *,
    threshold: float = SRM_THRESHOLD,
) -> DailySrmResult:
    """SRM per day (each entry is one day's counts per arm) and on the pooled counts."""
    days = tuple(sample_ratio_mismatch(day, weights, threshold=threshold) for day in daily_counts)
    arms = len(weights)
    pooled = [sum(int(day[i]) for day in daily_counts) for i in range(arms)]
    overall = sample_ratio_mismatch(pooled, weights, threshold=threshold)
    flagged = tuple(i for i, day in enumerate(days) if day.verdict == "warn")
    return DailySrmResult(overall, days, flagged)


def _validated(
    observed: Sequence[int], weights: Sequence[float]
) -> tuple[tuple[int, ...], tuple[float, ...]]:
    if len(observed) != len(weights) or len(weights) < 2:
        raise ValueError("need one count per arm and one weight per arm, for two or more arms")
    if any(w <= 0 for w in weights):
        raise ValueError("allocation weights must be positive")
    if any(int(n) != n or n < 0 for n in observed):
        raise ValueError("observed counts must be non-negative integers")
    total_weight = float(sum(weights))
    return tuple(int(n) for n in observed), tuple(w / total_weight for w in weights)

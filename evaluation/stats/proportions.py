"""Proportions: one arm, and a variant arm compared with its comparator arm.

Inputs are counts only: ``events`` out of ``trials`` (exposures or unique subjects) per arm.

Method choices
--------------
* Single arm: Wilson score interval (good coverage even at rates of a few per million) and
  the Clopper-Pearson exact interval (conservative, used where a guarantee is wanted).
* Risk difference (variant minus comparator): Newcombe's hybrid score interval, built from
  the two Wilson intervals (Newcombe 1998, method 10). It never leaves [-1, 1] and behaves at
  zero events, unlike the Wald interval.
* Risk ratio: Koopman's score interval (inverting the score test, no variance correction),
  via statsmodels. Chosen over Katz's log interval because Katz needs an ad hoc 0.5
  correction at zero events and undercovers when events are few; Koopman handles zeros and
  gives an infinite upper limit when the comparator has no events.
* Odds ratio: Woolf's log interval when every cell has at least ``EXACT_THRESHOLD``
  counts; otherwise the exact conditional interval (scipy ``odds_ratio(kind="conditional")``),
  which is slow for large cells and is therefore used only when it is needed.
* p-value: Pearson's chi-square (the pooled two-proportion score test, no continuity
  correction) when counts allow. An exact test is used instead when any arm has fewer than
  ``EXACT_THRESHOLD`` events (or non-events), or when any expected cell count is below
  ``MIN_EXPECTED`` (Cochran's rule). The exact test is Boschloo's unconditional test when the
  two arms together have at most ``BOSCHLOO_MAX_TOTAL`` trials (more powerful than Fisher, but
  its cost grows with n1 * n2), otherwise Fisher's exact test. The result records which
  test ran and why.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

from scipy.stats import beta, boschloo_exact, chi2_contingency, fisher_exact
from scipy.stats.contingency import odds_ratio as scipy_odds_ratio
from statsmodels.stats.proportion import confint_proportions_2indep

from ._common import (
    DEFAULT_CONFIDENCE,
    Estimate,
    SignificanceTest,
    check_confidence,
    check_events,
    z_value,
)

EXACT_THRESHOLD = 10
MIN_EXPECTED = 5.0
BOSCHLOO_MAX_TOTAL = 200


@dataclass(frozen=True)
class ProportionEstimate:
    """One arm's proportion ``events / trials`` with its interval."""

    events: int
    trials: int
    proportion: float
    lower: float
    upper: float
    confidence: float
    method: str


@dataclass(frozen=True)
class ProportionComparison:
    """A variant arm compared with its comparator arm (variant first in every measure)."""

    variant: ProportionEstimate
    comparator: ProportionEstimate
    risk_difference: Estimate
    risk_ratio: Estimate
    odds_ratio: Estimate
    test: SignificanceTest


def wilson_interval(
    events: int, trials: int, *, confidence: float = DEFAULT_CONFIDENCE
) -> ProportionEstimate:
    """Wilson score interval for a single proportion."""
    check_events(events, trials)
    if trials == 0:
        return _empty_arm(confidence, "wilson")
    z = z_value(confidence)
    p = events / trials
    denominator = 1 + z * z / trials
    centre = (p + z * z / (2 * trials)) / denominator
    half = z * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials)) / denominator
    lower = 0.0 if events == 0 else max(0.0, centre - half)
    upper = 1.0 if events == trials else min(1.0, centre + half)
    return ProportionEstimate(events, trials, p, lower, upper, confidence, "wilson")


def clopper_pearson_interval(
    events: int, trials: int, *, confidence: float = DEFAULT_CONFIDENCE
) -> ProportionEstimate:
    """Clopper-Pearson exact interval from beta quantiles."""
    check_events(events, trials)
    if trials == 0:
        return _empty_arm(confidence, "clopper_pearson")
    tail = (1 - confidence) / 2
    lower = 0.0 if events == 0 else float(beta.ppf(tail, events, trials - events + 1))
    upper = 1.0 if events == trials else float(beta.ppf(1 - tail, events + 1, trials - events))
    p = events / trials
    return ProportionEstimate(events, trials, p, lower, upper, confidence, "clopper_pearson")


def _empty_arm(confidence: float, method: str) -> ProportionEstimate:
    # An arm with no trials says nothing: the interval is the whole unit interval.
    check_confidence(confidence)
    return ProportionEstimate(0, 0, math.nan, 0.0, 1.0, confidence, method)


def risk_difference(
    variant_events: int,
    variant_trials: int,
    comparator_events: int,
    comparator_trials: int,
    *,
    confidence: float = DEFAULT_CONFIDENCE,
) -> Estimate:
    """Newcombe hybrid score interval for p_variant - p_comparator."""
    v = wilson_interval(variant_events, variant_trials, confidence=confidence)
    c = wilson_interval(comparator_events, comparator_trials, confidence=confidence)
    diff = v.proportion - c.proportion
    lower = diff - math.hypot(v.proportion - v.lower, c.upper - c.proportion)
    upper = diff + math.hypot(v.upper - v.proportion, c.proportion - c.lower)
    return Estimate(diff, lower, upper, confidence, "newcombe_hybrid_score")


def risk_ratio(
    variant_events: int,
    variant_trials: int,
    comparator_events: int,
    comparator_trials: int,
    *,
    confidence: float = DEFAULT_CONFIDENCE,
) -> Estimate:
    """Koopman score interval for p_variant / p_comparator."""
    check_events(variant_events, variant_trials)
    check_events(comparator_events, comparator_trials)
    value = _safe_ratio(
        variant_events * comparator_trials, comparator_events * variant_trials
    )
    if variant_events + comparator_events == 0 or min(variant_trials, comparator_trials) == 0:
        return Estimate(value, 0.0, math.inf, confidence, "koopman_score")
    with warnings.catch_warnings():
        # statsmodels divides by zero on the way to an infinite limit; the result is right.
        warnings.simplefilter("ignore", RuntimeWarning)
        lower, upper = confint_proportions_2indep(
            variant_events, variant_trials, comparator_events, comparator_trials,
            method="score", compare="ratio", alpha=1 - confidence, correction=False,
        )
    lower = 0.0 if variant_events == 0 else float(lower)
    upper = math.inf if comparator_events == 0 else float(upper)
    return Estimate(value, lower, upper, confidence, "koopman_score")


def odds_ratio(
    variant_events: int,
    variant_trials: int,
    comparator_events: int,
    comparator_trials: int,
    *,
    confidence: float = DEFAULT_CONFIDENCE,
) -> Estimate:
    """Odds ratio: Woolf log interval, or exact conditional interval for small cells."""
    table = two_by_two(variant_events, variant_trials, comparator_events, comparator_trials)
    (a, b), (c, d) = table
    if min(a + b, c + d) == 0 or min(a + c, b + d) == 0:
        # An empty arm, or no events (or no non-events) at all: the odds ratio is undefined.
        return Estimate(math.nan, 0.0, math.inf, confidence, "undefined")
    if min(a, b, c, d) >= EXACT_THRESHOLD:
        return woolf_odds_ratio(a, b, c, d, confidence=confidence)
    result = scipy_odds_ratio(table, kind="conditional")
    interval = result.confidence_interval(confidence_level=confidence)
    return Estimate(
        float(result.statistic), float(interval.low), float(interval.high),
        confidence, "exact_conditional",
    )


def woolf_odds_ratio(
    a: int, b: int, c: int, d: int, *, confidence: float = DEFAULT_CONFIDENCE
) -> Estimate:
    """Woolf (log) interval for the odds ratio (a*d)/(b*c) of the table [[a, b], [c, d]].

    A zero cell makes the log undefined, so Haldane's correction (add 0.5 to every cell)
    is applied in that case only, and the method name says so.
    """
    method = "woolf_log"
    if min(a, b, c, d) == 0:
        a, b, c, d = (x + 0.5 for x in (a, b, c, d))
        method = "woolf_log_haldane"
    log_or = math.log(a * d / (b * c))
    se = math.sqrt(1 / a + 1 / b + 1 / c + 1 / d)
    z = z_value(confidence)
    return Estimate(
        math.exp(log_or), math.exp(log_or - z * se), math.exp(log_or + z * se),
        confidence, method,
    )


def two_by_two(
    variant_events: int, variant_trials: int, comparator_events: int, comparator_trials: int
) -> list[list[int]]:
    """The 2x2 table [[events, non-events] for variant, [events, non-events] for comparator]."""
    check_events(variant_events, variant_trials)
    check_events(comparator_events, comparator_trials)
    return [
        [variant_events, variant_trials - variant_events],
        [comparator_events, comparator_trials - comparator_events],
    ]


def choose_test(table: list[list[int]]) -> tuple[str, str]:
    """Pick the significance test for a 2x2 table and say why (see the module docstring)."""
    (a, b), (c, d) = table
    small = min(a, b, c, d)
    if small < EXACT_THRESHOLD:
        reason = f"an arm has {small} events or non-events (< {EXACT_THRESHOLD})"
        return _exact_method(a + b + c + d), reason
    if _min_expected(table) < MIN_EXPECTED:
        reason = f"an expected cell count is below {MIN_EXPECTED:g}"
        return _exact_method(a + b + c + d), reason
    return "pearson_chi2", f"every arm has at least {EXACT_THRESHOLD} events and non-events"


def _exact_method(total: int) -> str:
    return "boschloo_exact" if total <= BOSCHLOO_MAX_TOTAL else "fisher_exact"


def _min_expected(table: list[list[int]]) -> float:
    (a, b), (c, d) = table
    n = a + b + c + d
    rows, cols = (a + b, c + d), (a + c, b + d)
    return min(r * k / n for r in rows for k in cols)


def two_proportion_test(table: list[list[int]]) -> SignificanceTest:
    """Two-sided test of equal proportions, choosing score or exact as ``choose_test`` says."""
    (a, b), (c, d) = table
    if min(a + b, c + d) == 0 or min(a + c, b + d) == 0:
        return SignificanceTest("none", "no variation: an arm is empty or all cells agree",
                                None, 1.0)
    method, reason = choose_test(table)
    if method == "pearson_chi2":
        statistic, p, _, _ = chi2_contingency(table, correction=False)
        return SignificanceTest(method, reason, float(statistic), float(p))
    if method == "boschloo_exact":
        result = boschloo_exact(table, alternative="two-sided")
        return SignificanceTest(method, reason, float(result.statistic), float(result.pvalue))
    statistic, p = fisher_exact(table, alternative="two-sided")
    return SignificanceTest(method, reason, float(statistic), float(p))


def compare_proportions(
    variant_events: int,
    variant_trials: int,
    comparator_events: int,
    comparator_trials: int,
    *,
    confidence: float = DEFAULT_CONFIDENCE,
) -> ProportionComparison:
    """Every proportion measure for a variant vs its comparator, from counts only."""
    args = (variant_events, variant_trials, comparator_events, comparator_trials)
    table = two_by_two(*args)
    return ProportionComparison(
        variant=wilson_interval(variant_events, variant_trials, confidence=confidence),
        comparator=wilson_interval(comparator_events, comparator_trials, confidence=confidence),
        risk_difference=risk_difference(*args, confidence=confidence),
        risk_ratio=risk_ratio(*args, confidence=confidence),
        odds_ratio=odds_ratio(*args, confidence=confidence),
        test=two_proportion_test(table),
    )


def _safe_ratio(numerator: float, denominator: float) -> float:
    if denominator == 0:
        return math.nan if numerator == 0 else math.inf
    return numerator / denominator

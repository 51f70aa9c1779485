"""Poisson rates: events per unit of exposure (displays, sessions or person-days).

Rates are reported per ``PER`` = 100,000 exposures by default, because the outcomes this
system measures are rare (the reThink chatbot saw about 24 helpline contacts per million
displays).

Method choices
--------------
* Single rate: Garwood's exact Poisson interval from chi-square quantiles
  (lower = chi2(alpha/2, 2k) / 2, upper = chi2(1 - alpha/2, 2k + 2) / 2), scaled by exposure.
* Rate ratio (variant / comparator): when either arm has fewer than ``EXACT_THRESHOLD``
  events, the exact conditional method. Given k = k1 + k2 events, k1 is binomial with
  probability pi = E1 * RR / (E1 * RR + E2); the Clopper-Pearson interval for pi maps to an
  interval for RR, and the two-sided binomial test of pi = E1 / (E1 + E2) gives the p-value.
  Otherwise the Wald interval on the log scale (se = sqrt(1/k1 + 1/k2)) with a z-test.
* Rate difference: the MOVER interval (Li, Tang & Wong 2014) that recovers variance from
  the two Garwood limits, the Poisson analogue of Newcombe's hybrid interval. It is used at
  all counts because it stays sensible with zero events, unlike the Wald difference.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from scipy.stats import binomtest, chi2, norm

from ._common import (
    DEFAULT_CONFIDENCE,
    Estimate,
    SignificanceTest,
    check_count,
    check_positive,
    z_value,
)
from .proportions import EXACT_THRESHOLD, clopper_pearson_interval

PER = 100_000


@dataclass(frozen=True)
class RateEstimate:
    """Events per ``per`` units of exposure, with Garwood's exact Poisson interval."""

    events: int
    exposure: float
    per: float
    rate: float
    lower: float
    upper: float
    confidence: float
    method: str


@dataclass(frozen=True)
class RateComparison:
    """A variant's rate compared with its comparator's (variant first in every measure)."""

    variant: RateEstimate
    comparator: RateEstimate
    rate_ratio: Estimate
    rate_difference: Estimate
    test: SignificanceTest


def garwood_limits(events: int, *, confidence: float = DEFAULT_CONFIDENCE) -> tuple[float, float]:
    """Exact Poisson limits for the expected count given ``events`` observed."""
    check_count("events", events)
    tail = (1 - confidence) / 2
    lower = 0.0 if events == 0 else float(chi2.ppf(tail, 2 * events)) / 2
    upper = float(chi2.ppf(1 - tail, 2 * events + 2)) / 2
    return lower, upper


def poisson_rate(
    events: int, exposure: float, *, per: float = PER, confidence: float = DEFAULT_CONFIDENCE
) -> RateEstimate:
    """Rate per ``per`` exposures with the Garwood exact interval."""
    check_positive("exposure", exposure)
    lower, upper = garwood_limits(events, confidence=confidence)
    scale = per / exposure
    return RateEstimate(
        events, exposure, per, events * scale, lower * scale, upper * scale,
        confidence, "garwood_exact",
    )


def rate_ratio(
    variant_events: int,
    variant_exposure: float,
    comparator_events: int,
    comparator_exposure: float,
    *,
    confidence: float = DEFAULT_CONFIDENCE,
) -> tuple[Estimate, SignificanceTest]:
    """Rate ratio with interval and two-sided p-value; exact when events are few."""
    for name, value in (("variant_exposure", variant_exposure),
                        ("comparator_exposure", comparator_exposure)):
        check_positive(name, value)
    check_count("variant_events", variant_events)
    check_count("comparator_events", comparator_events)
    if min(variant_events, comparator_events) < EXACT_THRESHOLD:
        return _exact_rate_ratio(
            variant_events, variant_exposure, comparator_events, comparator_exposure, confidence
        )
    return _wald_log_rate_ratio(
        variant_events, variant_exposure, comparator_events, comparator_exposure, confidence
    )


def _exact_rate_ratio(
    k1: int, e1: float, k2: int, e2: float, confidence: float
) -> tuple[Estimate, SignificanceTest]:
    reason = f"an arm has fewer than {EXACT_THRESHOLD} events"
    value = _ratio(k1 / e1, k2 / e2)
    if k1 + k2 == 0:
        estimate = Estimate(value, 0.0, math.inf, confidence, "exact_conditional_binomial")
        return estimate, SignificanceTest("exact_conditional_binomial", reason, None, 1.0)
    pi = clopper_pearson_interval(k1, k1 + k2, confidence=confidence)
    odds_scale = e2 / e1  # RR = pi / (1 - pi) * E2 / E1
    lower = pi.lower / (1 - pi.lower) * odds_scale
    upper = math.inf if pi.upper >= 1 else pi.upper / (1 - pi.upper) * odds_scale
    p = binomtest(k1, k1 + k2, e1 / (e1 + e2)).pvalue
    estimate = Estimate(value, lower, upper, confidence, "exact_conditional_binomial")
    return estimate, SignificanceTest("exact_conditional_binomial", reason, float(k1), float(p))


def _wald_log_rate_ratio(
    k1: int, e1: float, k2: int, e2: float, confidence: float
) -> tuple[Estimate, SignificanceTest]:
    log_rr = math.log((k1 / e1) / (k2 / e2))
    se = math.sqrt(1 / k1 + 1 / k2)
    z = z_value(confidence)
    estimate = Estimate(
        math.exp(log_rr), math.exp(log_rr - z * se), math.exp(log_rr + z * se),
        confidence, "wald_log",
    )
    statistic = log_rr / se
    p = 2 * float(norm.sf(abs(statistic)))
    reason = f"every arm has at least {EXACT_THRESHOLD} events"
    return estimate, SignificanceTest("wald_log", reason, statistic, p)


def rate_difference(
    variant_events: int,
    variant_exposure: float,
    comparator_events: int,
    comparator_exposure: float,
    *,
    per: float = PER,
    confidence: float = DEFAULT_CONFIDENCE,
) -> Estimate:
    """MOVER (Garwood-based) interval for rate_variant - rate_comparator, per ``per``."""
    v = poisson_rate(variant_events, variant_exposure, per=per, confidence=confidence)
    c = poisson_rate(comparator_events, comparator_exposure, per=per, confidence=confidence)
    diff = v.rate - c.rate
    lower = diff - math.hypot(v.rate - v.lower, c.upper - c.rate)
    upper = diff + math.hypot(v.upper - v.rate, c.rate - c.lower)
    return Estimate(diff, lower, upper, confidence, "mover_garwood")


def compare_rates(
    variant_events: int,
    variant_exposure: float,
    comparator_events: int,
    comparator_exposure: float,
    *,
    per: float = PER,
    confidence: float = DEFAULT_CONFIDENCE,
) -> RateComparison:
    """Every rate measure for a variant vs its comparator, from counts and exposures."""
    args = (variant_events, variant_exposure, comparator_events, comparator_exposure)
    ratio, test = rate_ratio(*args, confidence=confidence)
    return RateComparison(
        variant=poisson_rate(variant_events, variant_exposure, per=per, confidence=confidence),
        comparator=poisson_rate(
            comparator_events, comparator_exposure, per=per, confidence=confidence
        ),
        rate_ratio=ratio,
        rate_difference=rate_difference(*args, per=per, confidence=confidence),
        test=test,
    )


def _ratio(numerator: float, denominator: float) -> float:
    if denominator == 0:
        return math.nan if numerator == 0 else math.inf
    return numerator / denominator

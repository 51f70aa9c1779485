"""Rare events: mid-p intervals and tests, and the exact switch for single proportions.

Outcomes here are rare (reThink: 490 help clicks in 2.8 million displays) and arms are often
small, so the large-sample methods are replaced where they break:

* **Single proportions** (each arm's share in a comparison): Wilson's score interval is good
  from about ten events, but below that it under-covers (95% nominal, about 0.91-0.93 at one
  to two expected events in a large arm: tests/evaluation/test_stats_rare.py measures it).
  ``small_count_interval`` uses Wilson when events and non-events are both at least
  ``EXACT_THRESHOLD`` and otherwise an exact interval: Clopper-Pearson (never under-covers,
  conservative) by default, or the mid-p interval when the plan says ``exact_mid_p``.
* **Mid-p** (Lancaster 1961; Berry and Armitage 1995): the exact tail with half the
  probability of the observed value. Its intervals and tests are not guaranteed to keep the
  nominal level at every parameter value, but keep it on average and are far less
  conservative than Clopper-Pearson, Garwood or Fisher; the measured size and coverage are in
  the evaluation README. Offered for plans that choose it (``AnalysisMethod.EXACT_MID_P``):
  a single proportion, a Poisson count, the exact conditional rate ratio (binomial mid-p on
  the share of events in the variant arm) and Fisher's test (mid-p of the hypergeometric,
  two-sided by the probability of tables no more likely than the one observed).
"""

from __future__ import annotations

import math

from scipy.optimize import brentq
from scipy.stats import binom, hypergeom, poisson

from ._common import (
    DEFAULT_CONFIDENCE,
    Estimate,
    SignificanceTest,
    check_confidence,
    check_count,
    check_events,
)
from .proportions import (
    EXACT_THRESHOLD,
    ProportionEstimate,
    clopper_pearson_interval,
    wilson_interval,
)

_RELATIVE = 1e-9  # ties in "no more likely than the observed table"


def mid_p_interval(events: int, trials: int, *, confidence: float = DEFAULT_CONFIDENCE
                   ) -> ProportionEstimate:
    """Mid-p interval for a binomial proportion."""
    check_events(events, trials)
    check_confidence(confidence)
    if trials == 0:
        return ProportionEstimate(0, 0, math.nan, 0.0, 1.0, confidence, "mid_p")
    tail = (1 - confidence) / 2
    k, n = events, trials
    lower = 0.0 if k == 0 else brentq(
        lambda p: binom.sf(k, n, p) + 0.5 * binom.pmf(k, n, p) - tail, 1e-300, k / n)
    upper = 1.0 if k == n else brentq(
        lambda p: binom.cdf(k - 1, n, p) + 0.5 * binom.pmf(k, n, p) - tail, k / n, 1.0)
    return ProportionEstimate(k, n, k / n, float(lower), float(upper), confidence, "mid_p")


def mid_p_poisson_limits(events: int, *, confidence: float = DEFAULT_CONFIDENCE
                         ) -> tuple[float, float]:
    """Mid-p limits for a Poisson mean given ``events`` observed (0: upper = -ln(alpha))."""
    check_count("events", events)
    check_confidence(confidence)
    tail = (1 - confidence) / 2
    k = events
    lower = 0.0 if k == 0 else brentq(
        lambda m: poisson.sf(k, m) + 0.5 * poisson.pmf(k, m) - tail, 1e-300, float(k))
    top = k + 20 * math.sqrt(k + 1) + 20
    upper = brentq(lambda m: poisson.cdf(k - 1, m) + 0.5 * poisson.pmf(k, m) - tail,
                   max(float(k), 1e-12), top)
    return float(lower), float(upper)


def small_count_interval(events: int, trials: int, *, mid_p: bool = False,
                         confidence: float = DEFAULT_CONFIDENCE) -> ProportionEstimate:
    """Wilson from ``EXACT_THRESHOLD`` events and non-events; below, an exact interval
    (Clopper-Pearson, or mid-p when the plan chose it)."""
    if min(events, trials - events) >= EXACT_THRESHOLD:
        return wilson_interval(events, trials, confidence=confidence)
    if mid_p:
        return mid_p_interval(events, trials, confidence=confidence)
    return clopper_pearson_interval(events, trials, confidence=confidence)


def mid_p_binomial_test(events: int, trials: int, p0: float) -> float:
    """Two-sided mid-p: outcomes less likely than the observed one, plus half of those as
    likely (the observed one included)."""
    check_events(events, trials)
    if trials == 0:
        return 1.0
    observed = binom.pmf(events, trials, p0)
    probabilities = binom.pmf(range(trials + 1), trials, p0)
    less = probabilities[probabilities < observed * (1 - _RELATIVE)].sum()
    tied = probabilities[abs(probabilities - observed) <= observed * _RELATIVE].sum()
    return float(min(1.0, less + 0.5 * tied))


def fisher_mid_p(table: list[list[int]]) -> SignificanceTest:
    """Fisher's exact test, two-sided, with the mid-p correction."""
    (a, b), (c, d) = table
    rows, column = a + b, a + c
    total = a + b + c + d
    dist = hypergeom(total, column, rows)
    low, high = max(0, rows + column - total), min(rows, column)
    probabilities = dist.pmf(range(low, high + 1))
    observed = dist.pmf(a)
    less = probabilities[probabilities < observed * (1 - _RELATIVE)].sum()
    tied = probabilities[abs(probabilities - observed) <= observed * _RELATIVE].sum()
    odds = (a * d) / (b * c) if b * c else math.inf
    return SignificanceTest("fisher_mid_p", "an arm has few events: mid-p exact test (plan)",
                            float(odds), float(min(1.0, less + 0.5 * tied)))


def mid_p_rate_ratio(k1: int, e1: float, k2: int, e2: float, *,
                     confidence: float = DEFAULT_CONFIDENCE
                     ) -> tuple[Estimate, SignificanceTest]:
    """Exact conditional rate ratio with mid-p: given k1 + k2 events, k1 is binomial with
    share pi = e1 RR / (e1 RR + e2); the mid-p interval of pi maps to RR."""
    reason = f"an arm has fewer than {EXACT_THRESHOLD} events: mid-p (plan)"
    value = (k1 / e1) / (k2 / e2) if k2 else (math.nan if k1 == 0 else math.inf)
    method = "exact_conditional_mid_p"
    if k1 + k2 == 0:
        return (Estimate(value, 0.0, math.inf, confidence, method),
                SignificanceTest(method, reason, None, 1.0))
    pi = mid_p_interval(k1, k1 + k2, confidence=confidence)
    scale = e2 / e1
    lower = pi.lower / (1 - pi.lower) * scale
    upper = math.inf if pi.upper >= 1 else pi.upper / (1 - pi.upper) * scale
    p = mid_p_binomial_test(k1, k1 + k2, e1 / (e1 + e2))
    return (Estimate(value, lower, upper, confidence, method),
            SignificanceTest(method, reason, float(k1), p))

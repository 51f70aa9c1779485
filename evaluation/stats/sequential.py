"""Always-valid (anytime) intervals for a difference in proportions.

When an evaluation plan declares sequential analysis, people look at results while data
arrive and stop when they like. Fixed-sample intervals then cover far less often than
claimed. A confidence sequence covers the true difference at *every* look simultaneously
with probability at least 1 - alpha, so peeking is allowed.

Method: the asymptotic normal-mixture confidence sequence (Robbins' normal mixture, as in
Howard et al. 2021 and Waudby-Smith et al. 2021, and as GrowthBook implements it). With N
total trials so far and sigma^2 the per-trial variance of the difference estimate
(``N * Var(p_variant - p_comparator)``), the interval is

    difference +/- sigma * sqrt( 2 (N rho^2 + 1) / (N^2 rho^2) * log( sqrt(N rho^2 + 1) / alpha ) )

Tuning parameter: ``tuning_n`` is the total sample size at which the sequence is tightest,
through rho = sqrt( (-2 log alpha + log(-2 log alpha + 1)) / tuning_n ). Set it to the
planned total sample; the default 5,000 follows GrowthBook, but outreach campaigns with
millions of exposures should pass their own. A wrong choice costs width, never validity.

The variance uses Agresti-Caffo adjusted proportions (x + 1) / (n + 2), so an arm with zero
events still yields a non-zero width. The method is asymptotic: with fewer than
``EXACT_THRESHOLD`` events in an arm the note says the interval may be too narrow.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from ._common import check_events, check_positive
from .proportions import EXACT_THRESHOLD

DEFAULT_TUNING_N = 5_000


@dataclass(frozen=True)
class SequentialInterval:
    difference: float
    lower: float
    upper: float
    alpha: float
    tuning_n: float
    rho: float
    total_trials: int
    method: str
    note: str


def mixture_rho(alpha: float, tuning_n: float) -> float:
    """The mixture parameter that makes the sequence tightest at ``tuning_n`` trials."""
    check_positive("tuning_n", tuning_n)
    log_term = -2 * math.log(alpha)
    return math.sqrt((log_term + math.log(log_term + 1)) / tuning_n)


def mixture_halfwidth(sigma2: float, n: float, rho: float, alpha: float) -> float:
    """Half-width of the normal-mixture confidence sequence after ``n`` trials."""
    spread = n * rho * rho + 1
    return math.sqrt(sigma2) * math.sqrt(
        2 * spread / (n * n * rho * rho) * math.log(math.sqrt(spread) / alpha)
    )


def sequential_difference_interval(
    variant_events: int,
    variant_trials: int,
    comparator_events: int,
    comparator_trials: int,
    *,
    alpha: float = 0.05,
    tuning_n: float = DEFAULT_TUNING_N,
) -> SequentialInterval:
    """Always-valid interval for p_variant - p_comparator at the current look."""
    check_events(variant_events, variant_trials)
    check_events(comparator_events, comparator_trials)
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be between 0 and 1, got {alpha}")
    if min(variant_trials, comparator_trials) == 0:
        raise ValueError("both arms need at least one trial")
    n = variant_trials + comparator_trials
    diff = variant_events / variant_trials - comparator_events / comparator_trials
    variance = _adjusted_variance(variant_events, variant_trials) + _adjusted_variance(
        comparator_events, comparator_trials
    )
    rho = mixture_rho(alpha, tuning_n)
    half = mixture_halfwidth(variance * n, n, rho, alpha)
    return SequentialInterval(
        diff, max(-1.0, diff - half), min(1.0, diff + half), alpha, tuning_n, rho, n,
        "normal_mixture_confidence_sequence",
        _note(min(variant_events, comparator_events)),
    )


def _adjusted_variance(events: int, trials: int) -> float:
    p = (events + 1) / (trials + 2)
    return p * (1 - p) / trials


def _note(fewest_events: int) -> str:
    if fewest_events < EXACT_THRESHOLD:
        return (
            f"An arm has fewer than {EXACT_THRESHOLD} events: this asymptotic interval may be "
            "too narrow; rely on the exact fixed-horizon analysis at the planned end."
        )
    return "Valid at every look (peeking allowed)."

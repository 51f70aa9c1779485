"""Power and required sample size for comparing two proportions.

Uses statsmodels' ``NormalIndPower`` with Cohen's effect size h
(``proportion_effectsize``, the arcsine-square-root transform), which stabilises the
variance of small proportions better than the plain difference does.

Multiple comparisons and allocation
-----------------------------------
The report compares every variant with the one comparator and adjusts the family of
p-values with Holm's step-down method (``multiplicity.holm``). A sample planned at the
nominal alpha therefore has less power than promised: with 3 variants about 65% instead of
80%. The planner sizes each comparison at ``alpha / m`` (m = number of variants), which is
Bonferroni and also Holm's *first* step. Holm rejects every hypothesis that Bonferroni
rejects, so each variant's power under Holm is at least the power computed at ``alpha / m``:
a conservative choice, exact when only one variant has a real effect, and within a few
points of Holm's power when all of them do (the simulation in
tests/evaluation/test_stats_planning.py measures it). An exact Holm calculation would need the
unknown effects of every other variant, which a plan does not have.

``ratio`` is variant trials per comparator trial, from the arms' allocation weights: a
small holdout (comparator weight 1, variants 9) has ``ratio`` = 9, so the comparator arm needs
fewer trials than with equal arms would suggest and each variant needs ``ratio`` times as many.

Read the note on every result: at rates of a few per 100,000 the required samples run
into millions per arm, and the normal approximation behind the calculation is only as
good as the expected number of events; aim for at least ``EXACT_THRESHOLD`` expected events
per arm, or the analysis will fall back to exact tests with less power than planned.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

from statsmodels.stats.power import NormalIndPower
from statsmodels.stats.proportion import proportion_effectsize

from .proportions import EXACT_THRESHOLD

Alternative = Literal["two-sided", "larger", "smaller"]
Adjustment = Literal["holm", "none"]


@dataclass(frozen=True)
class SampleSizeResult:
    """Required trials per arm; ``ratio`` is variant trials per comparator trial."""

    baseline: float
    target: float
    effect_size_h: float
    alpha: float
    power: float
    ratio: float
    comparator_per_arm: int
    variant_per_arm: int
    total: int
    expected_comparator_events: float
    note: str
    comparisons: int = 1
    adjustment: str = "none"
    per_comparison_alpha: float | None = None  # the alpha each comparison is sized at


@dataclass(frozen=True)
class SampleProgress:
    comparator_fraction: float
    variant_fraction: float
    fraction: float  # the lagging arm decides when the plan is complete
    complete: bool


def required_sample_size(
    baseline: float,
    *,
    minimum_detectable_effect: float,
    relative: bool = False,
    alpha: float = 0.05,
    power: float = 0.8,
    ratio: float = 1.0,
    alternative: Alternative = "two-sided",
    comparisons: int = 1,
    adjustment: Adjustment = "holm",
) -> SampleSizeResult:
    """Trials per arm to detect ``baseline`` -> ``target`` with the given power.

    ``minimum_detectable_effect`` is absolute (0.0001 = +0.01 percentage points) unless
    ``relative`` is true (0.2 = a 20% relative increase). Negative values plan for a drop.
    ``comparisons`` is the number of variants compared with the comparator; with
    ``adjustment="holm"`` each is sized at ``alpha / comparisons`` (see the module docstring).
    """
    target = _target(baseline, minimum_detectable_effect, relative)
    each_alpha = per_comparison_alpha(alpha, comparisons=comparisons, adjustment=adjustment)
    if not ratio > 0 or math.isinf(ratio):
        raise ValueError(f"ratio must be a positive finite number, got {ratio}")
    h = abs(float(proportion_effectsize(target, baseline)))
    comparator = NormalIndPower().solve_power(
        effect_size=h, nobs1=None, alpha=each_alpha, power=power, ratio=ratio,
        alternative=alternative,
    )
    n_comparator = math.ceil(float(comparator))
    n_variant = math.ceil(float(comparator) * ratio)
    expected_events = baseline * n_comparator
    return SampleSizeResult(
        baseline, target, h, alpha, power, ratio, n_comparator, n_variant,
        n_comparator + n_variant, expected_events,
        _note(expected_events, comparisons, adjustment, each_alpha),
        comparisons, adjustment if comparisons > 1 else "none", each_alpha,
    )


def per_comparison_alpha(alpha: float, *, comparisons: int = 1,
                         adjustment: Adjustment = "holm") -> float:
    """The alpha one comparison is sized at: ``alpha / m`` for Holm (its first step)."""
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be between 0 and 1, got {alpha}")
    if comparisons < 1 or int(comparisons) != comparisons:
        raise ValueError(f"comparisons must be a positive integer, got {comparisons}")
    if adjustment not in ("holm", "none"):
        raise ValueError(f"unknown adjustment {adjustment!r}; use 'holm' or 'none'")
    return alpha / comparisons if adjustment == "holm" else alpha


def sample_progress(
    *, comparator_observed: int, variant_observed: int, required: SampleSizeResult
) -> SampleProgress:
    """Progress towards the required sample: observed / required, per arm and overall."""
    comparator = comparator_observed / required.comparator_per_arm
    variant = variant_observed / required.variant_per_arm
    fraction = min(comparator, variant)
    return SampleProgress(comparator, variant, fraction, fraction >= 1)


def _target(baseline: float, effect: float, relative: bool) -> float:
    if not 0 < baseline < 1:
        raise ValueError(f"baseline must be a proportion strictly between 0 and 1: {baseline}")
    if effect == 0:
        raise ValueError("the minimum detectable effect must be non-zero")
    target = baseline * (1 + effect) if relative else baseline + effect
    if not 0 < target < 1:
        raise ValueError(f"baseline plus effect must stay strictly between 0 and 1: {target}")
    return target


def _note(expected_events: float, comparisons: int, adjustment: str,
          each_alpha: float) -> str:
    note = (
        "Normal approximation with Cohen's h (arcsine transform); sample sizes are trials "
        "(people, the unit of randomisation) per arm."
    )
    if comparisons > 1 and adjustment == "holm":
        note += (
            f" {comparisons} variants share the comparator and the report adjusts them by "
            f"Holm: each comparison is sized at alpha / {comparisons} = {each_alpha:.4g}, "
            "so each variant keeps at least the planned power."
        )
    if expected_events < EXACT_THRESHOLD:
        note += (
            f" Only {expected_events:.1f} comparator events are expected: the analysis will "
            "use exact tests and the real power will be lower than planned."
        )
    return note

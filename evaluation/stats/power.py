"""Power and required sample size for comparing two proportions.

Uses statsmodels' ``NormalIndPower`` with Cohen's effect size h
(``proportion_effectsize``, the arcsine-square-root transform), which stabilises the
variance of small proportions better than the plain difference does.

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
) -> SampleSizeResult:
    """Trials per arm to detect ``baseline`` -> ``target`` with the given power.

    ``minimum_detectable_effect`` is absolute (0.0001 = +0.01 percentage points) unless
    ``relative`` is true (0.2 = a 20% relative increase). Negative values plan for a drop.
    """
    target = _target(baseline, minimum_detectable_effect, relative)
    h = abs(float(proportion_effectsize(target, baseline)))
    comparator = NormalIndPower().solve_power(
        effect_size=h, nobs1=None, alpha=alpha, power=power, ratio=ratio,
        alternative=alternative,
    )
    n_comparator = math.ceil(float(comparator))
    n_variant = math.ceil(float(comparator) * ratio)
    expected_events = baseline * n_comparator
    return SampleSizeResult(
        baseline, target, h, alpha, power, ratio, n_comparator, n_variant,
        n_comparator + n_variant, expected_events, _note(expected_events),
    )


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


def _note(expected_events: float) -> str:
    note = (
        "Normal approximation with Cohen's h (arcsine transform); sample sizes are trials "
        "(exposures or subjects) per arm."
    )
    if expected_events < EXACT_THRESHOLD:
        note += (
            f" Only {expected_events:.1f} comparator events are expected: the analysis will "
            "use exact tests and the real power will be lower than planned."
        )
    return note

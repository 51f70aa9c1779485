"""Shared result types and argument checks for the evaluation statistics.

Every public function in this package works on summary counts (events, exposures,
subjects) and returns frozen dataclasses, so results can be cached, compared in tests and
passed to the disclosure layer without being mutated on the way.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from scipy.stats import norm

DEFAULT_CONFIDENCE = 0.95


@dataclass(frozen=True)
class Estimate:
    """A point estimate with a two-sided confidence interval and the method that made it."""

    value: float
    lower: float
    upper: float
    confidence: float
    method: str

    def contains(self, x: float) -> bool:
        return self.lower <= x <= self.upper


@dataclass(frozen=True)
class SignificanceTest:
    """A hypothesis test: which method ran, why it was chosen, and its outcome."""

    method: str
    reason: str
    statistic: float | None
    p_value: float


def z_value(confidence: float) -> float:
    """Two-sided standard normal quantile for a confidence level such as 0.95."""
    check_confidence(confidence)
    return float(norm.ppf(1 - (1 - confidence) / 2))


def check_confidence(confidence: float) -> None:
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be between 0 and 1, got {confidence}")


def check_count(name: str, value: int) -> None:
    if value < 0 or int(value) != value:
        raise ValueError(f"{name} must be a non-negative integer, got {value}")


def check_events(events: int, trials: int) -> None:
    """Events must be a count no larger than the number of trials they came from."""
    check_count("events", events)
    check_count("trials", trials)
    if events > trials:
        raise ValueError(f"events ({events}) cannot exceed trials ({trials})")


def check_positive(name: str, value: float) -> None:
    if not value > 0 or math.isinf(value):
        raise ValueError(f"{name} must be a positive finite number, got {value}")

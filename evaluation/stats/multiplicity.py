"""Multiple comparisons: several variants each compared with one comparator.

Two adjustments, both via ``statsmodels.stats.multitest.multipletests``:

* ``holm``: Holm's step-down method, controlling the family-wise error rate (the chance of
  any false claim). Use it for confirmatory claims such as "variant B beats the control".
* ``fdr_bh``: Benjamini-Hochberg, controlling the false discovery rate (the expected share
  of false claims among the claims made). Use it for exploratory screens over many
  variants or strata.

Adjust within one family: all variants vs the comparator for one outcome in one plan.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from statsmodels.stats.multitest import multipletests

AdjustmentMethod = Literal["holm", "fdr_bh"]


@dataclass(frozen=True)
class AdjustedPValue:
    label: str
    p_value: float
    adjusted_p_value: float
    reject: bool


@dataclass(frozen=True)
class AdjustedFamily:
    """Adjusted p-values for one family of comparisons, in the order given."""

    method: AdjustmentMethod
    alpha: float
    comparisons: tuple[AdjustedPValue, ...]

    def by_label(self) -> dict[str, AdjustedPValue]:
        return {c.label: c for c in self.comparisons}


def adjust_p_values(
    p_values: Mapping[str, float] | Sequence[float],
    *,
    method: AdjustmentMethod = "holm",
    alpha: float = 0.05,
) -> AdjustedFamily:
    """Adjust a family of p-values (labelled by variant, or in a list) by Holm or BH."""
    if method not in ("holm", "fdr_bh"):
        raise ValueError(f"unknown adjustment method {method!r}; use 'holm' or 'fdr_bh'")
    labels, raw = _labelled(p_values)
    if not raw:
        return AdjustedFamily(method, alpha, ())
    if method == "holm":
        # Same figures as multipletests(method="holm"), which runs a full gc.collect() on
        # every call (hundreds of milliseconds in a web process): computed here instead.
        reject, adjusted = _holm(raw, alpha)
    else:
        reject, adjusted, _, _ = multipletests(raw, alpha=alpha, method=method)
    comparisons = tuple(
        AdjustedPValue(label, p, float(adj), bool(rej))
        for label, p, adj, rej in zip(labels, raw, adjusted, reject, strict=True)
    )
    return AdjustedFamily(method, alpha, comparisons)


def _holm(raw: list[float], alpha: float) -> tuple[list[bool], list[float]]:
    """Holm's step-down: sorted p(i) * (n - i), made monotone, capped at 1."""
    n = len(raw)
    order = sorted(range(n), key=lambda i: raw[i])
    adjusted = [0.0] * n
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, raw[i] * (n - rank)))
        adjusted[i] = running
    # Step-down rejection stops at the first non-rejection; monotone adjusted p-values make
    # that the same as "adjusted p <= alpha".
    return [p <= alpha for p in adjusted], adjusted


def holm(p_values: Mapping[str, float] | Sequence[float], *, alpha: float = 0.05) -> AdjustedFamily:
    return adjust_p_values(p_values, method="holm", alpha=alpha)


def benjamini_hochberg(
    p_values: Mapping[str, float] | Sequence[float], *, alpha: float = 0.05
) -> AdjustedFamily:
    return adjust_p_values(p_values, method="fdr_bh", alpha=alpha)


def _labelled(p_values: Mapping[str, float] | Sequence[float]) -> tuple[list[str], list[float]]:
    if isinstance(p_values, Mapping):
        labels = [str(k) for k in p_values]
        raw = [float(v) for v in p_values.values()]
    else:
        raw = [float(v) for v in p_values]
        labels = [str(i) for i in range(len(raw))]
    for p in raw:
        if not 0 <= p <= 1:
            raise ValueError(f"p-values must lie in [0, 1], got {p}")
    return labels, raw

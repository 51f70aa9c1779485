"""Interrupted time series: did daily counts change when the campaign ran?

Segmented Poisson regression on daily counts (helpline contacts, help-page visits)::

    log E[y_t] = log(exposure_t) + b0 + b1 * t + b2 * on_t + b3 * time_since_launch_t

* ``t`` is the day index (0, 1, ...), the secular trend.
* ``on_t`` is 1 on days the campaign ran. Campaigns often run in flights (on, off, on);
  b2 is then the average log rate ratio of campaign days against the trend, and
  ``exp(b2)`` is the rate ratio of the intervention. For a single launch it is the level
  change at launch.
* ``time_since_launch_t`` is max(0, t - first campaign day): b3 is the change in slope
  after launch (log scale per day). Pass ``slope_change=False`` to drop it, which suits
  short alternating flights where a slope change is not identifiable.

Standard errors are heteroskedasticity-robust (``HC0`` by default) so a mis-specified
variance does not make intervals too narrow; pass ``cov_type="HAC"`` with ``maxlags`` to
also allow for autocorrelation between days. Overdispersion is measured by the Pearson
chi-square over residual degrees of freedom of the Poisson fit; with ``family="auto"`` a
negative binomial GLM (alpha estimated by maximum likelihood) replaces the Poisson model
when that ratio exceeds ``OVERDISPERSION_THRESHOLD`` = 1.5.

``counterfactual`` is the fitted series with the campaign terms set to zero: what the
model expects without the campaign. It is for plotting next to ``fitted``.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import statsmodels.api as sm

from ._common import DEFAULT_CONFIDENCE, Estimate, z_value

OVERDISPERSION_THRESHOLD = 1.5

Family = Literal["poisson", "negative_binomial", "auto"]


@dataclass(frozen=True)
class ItsResult:
    family: str
    dispersion: float
    nb_alpha: float | None
    level_change: Estimate  # log scale, b2
    rate_ratio: Estimate  # exp(b2)
    slope_change: Estimate | None  # log scale per day, b3
    slope_ratio: Estimate | None  # exp(b3), multiplicative change per day
    baseline_trend: Estimate  # log scale per day, b1
    fitted: tuple[float, ...]
    counterfactual: tuple[float, ...]
    days: int
    note: str


def interrupted_time_series(
    counts: Sequence[int],
    campaign_on: Sequence[bool | int],
    *,
    exposure: Sequence[float] | None = None,
    family: Family = "auto",
    slope_change: bool = True,
    cov_type: str = "HC0",
    maxlags: int = 7,
    confidence: float = DEFAULT_CONFIDENCE,
) -> ItsResult:
    """Segmented Poisson (or negative binomial) regression of daily counts on campaign days."""
    y, on = _validated(counts, campaign_on)
    design, names = _design(on, slope_change)
    offset = _offset(exposure, len(y))
    dispersion = _poisson_dispersion(y, design, offset)
    chosen = _choose_family(family, dispersion)
    glm_family, nb_alpha = _glm_family(chosen, y, design, offset)
    fit = _fit(y, design, offset, glm_family, cov_type, maxlags)
    return _result(fit, design, names, offset, chosen, dispersion, nb_alpha, confidence)


def _validated(
    counts: Sequence[int], campaign_on: Sequence[bool | int]
) -> tuple[np.ndarray, np.ndarray]:
    y = np.asarray(counts, dtype=float)
    on = np.asarray(campaign_on, dtype=float)
    if y.shape != on.shape or y.ndim != 1:
        raise ValueError("counts and campaign_on must be equal-length 1-D sequences")
    if (y < 0).any() or not np.all(y == np.round(y)):
        raise ValueError("counts must be non-negative integers")
    if not on.any() or on.all():
        raise ValueError("the series needs days both with and without the campaign")
    if on[0]:
        raise ValueError("the series needs pre-campaign days to estimate the baseline")
    return y, on


def _design(on: np.ndarray, slope_change: bool) -> tuple[np.ndarray, list[str]]:
    t = np.arange(on.size, dtype=float)
    columns, names = [np.ones_like(t), t, on], ["const", "time", "campaign"]
    if slope_change:
        launch = float(np.argmax(on))
        columns.append(np.maximum(0.0, t - launch))
        names.append("time_since_launch")
    return np.column_stack(columns), names


def _offset(exposure: Sequence[float] | None, days: int) -> np.ndarray:
    if exposure is None:
        return np.zeros(days)
    values = np.asarray(exposure, dtype=float)
    if values.shape != (days,) or (values <= 0).any():
        raise ValueError("exposure must be positive, one value per day")
    return np.log(values)


def _poisson_dispersion(y: np.ndarray, design: np.ndarray, offset: np.ndarray) -> float:
    fit = sm.GLM(y, design, family=sm.families.Poisson(), offset=offset).fit()
    return float(fit.pearson_chi2 / fit.df_resid)


def _choose_family(family: Family, dispersion: float) -> str:
    if family == "auto":
        return "negative_binomial" if dispersion > OVERDISPERSION_THRESHOLD else "poisson"
    if family not in ("poisson", "negative_binomial"):
        raise ValueError(f"unknown family {family!r}")
    return family


def _glm_family(
    chosen: str, y: np.ndarray, design: np.ndarray, offset: np.ndarray
) -> tuple[sm.families.Family, float | None]:
    if chosen == "poisson":
        return sm.families.Poisson(), None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # convergence chatter from the auxiliary fit
        nb = sm.NegativeBinomial(y, design, offset=offset).fit(disp=0, maxiter=200)
    alpha = float(nb.params[-1])
    return sm.families.NegativeBinomial(alpha=alpha), alpha


def _fit(y, design, offset, glm_family, cov_type: str, maxlags: int):
    model = sm.GLM(y, design, family=glm_family, offset=offset)
    if cov_type == "HAC":
        return model.fit(cov_type="HAC", cov_kwds={"maxlags": maxlags})
    return model.fit(cov_type=cov_type)


def _result(fit, design, names, offset, chosen, dispersion, nb_alpha, confidence) -> ItsResult:
    z = z_value(confidence)
    coefficient = {name: _coefficient(fit, i, z, confidence) for i, name in enumerate(names)}
    level = coefficient["campaign"]
    slope = coefficient.get("time_since_launch")
    counterfactual_design = design.copy()
    counterfactual_design[:, 2:] = 0.0
    return ItsResult(
        family=chosen,
        dispersion=dispersion,
        nb_alpha=nb_alpha,
        level_change=level,
        rate_ratio=_exponentiated(level),
        slope_change=slope,
        slope_ratio=_exponentiated(slope) if slope else None,
        baseline_trend=coefficient["time"],
        fitted=tuple(float(v) for v in fit.predict(design, offset=offset)),
        counterfactual=tuple(float(v) for v in fit.predict(counterfactual_design, offset=offset)),
        days=design.shape[0],
        note=_note(chosen, dispersion),
    )


def _coefficient(fit, index: int, z: float, confidence: float) -> Estimate:
    value, se = float(fit.params[index]), float(fit.bse[index])
    return Estimate(value, value - z * se, value + z * se, confidence, "glm_log_link_robust")


def _exponentiated(estimate: Estimate) -> Estimate:
    return Estimate(
        math.exp(estimate.value), math.exp(estimate.lower), math.exp(estimate.upper),
        estimate.confidence, estimate.method,
    )


def _note(chosen: str, dispersion: float) -> str:
    note = f"Poisson dispersion (Pearson chi2 / df) = {dispersion:.2f}; fitted {chosen}."
    if chosen == "poisson" and dispersion > OVERDISPERSION_THRESHOLD:
        note += " Counts are overdispersed: consider family='negative_binomial'."
    return note

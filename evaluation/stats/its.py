"""Interrupted time series: did daily counts change when the campaign ran?

Segmented log-linear regression on daily counts (helpline contacts, help-page visits)::

    log E[y_t] = log(exposure_t) + b0 + b1 * t + sum_d w_d * [weekday(t) = d]
                 + b2 * on_t + b3 * time_since_launch_t

* ``t`` is the day index (0, 1, ...), the secular trend.
* ``w_d`` are six day-of-week terms (day 0 of the series is the reference weekday):
  helplines answer fewer calls at weekends, and a campaign that starts on a Monday would
  otherwise be credited with the weekday rise. ``weekdays=False`` drops them.
* ``on_t`` is 1 on days the campaign ran. Campaigns often run in flights (on, off, on);
  b2 is then the average log rate ratio of campaign days against the trend, and
  ``exp(b2)`` is the rate ratio of the intervention. For a single launch it is the level
  change at launch.
* ``time_since_launch_t`` is max(0, t - first campaign day): b3 is the change in slope
  after launch (log scale per day). Pass ``slope_change=False`` to drop it, which suits
  short alternating flights where a slope change is not identifiable.

Autocorrelation (the default, ``cov_type="ar1"``)
-------------------------------------------------
Daily counts are not independent: a busy week is followed by a busy week. Treating days as
independent makes intervals far too narrow (a simulation with AR(1) latent noise,
rho = 0.7, covered the truth about 75% of the time with HC0 errors). The model is Zeger's
(1988) latent-process regression for counts: the mean is multiplied by a latent
stationary process with autocorrelation rho^|s-t|, so

    Cov(y_s, y_t) = phi0 * mu_t * [s = t] + tau2 * mu_s * mu_t * rho^|s-t|.

The mean parameters are estimated by the Poisson (or negative binomial) likelihood, which
stays consistent under this covariance. phi0, tau2 and rho are estimated by moments: the
sample autocovariances of the Pearson residuals at lags 0..L (L = min(28, days // 4)) are
matched, by non-negative least squares profiled over rho, to their *expected* values under
the model after the regression fit (the fit removes part of the slow variation, so raw
residual autocorrelations understate it; the expectation uses the fit's projection). The
coefficient covariance is the sandwich built from that covariance, and intervals use a t
quantile with ``effective_days - parameters`` degrees of freedom, where effective_days is
the number of days divided by the variance inflation the fitted autocorrelation implies.
tests/evaluation/test_stats_sequential_and_its.py measures the coverage of the campaign
term by simulation (AR(1) latent noise, rho = 0.7, weekday effects).

``cov_type="HC0"`` (independent days, heteroskedasticity-robust) and ``cov_type="HAC"``
(Newey-West with ``maxlags``) remain for comparison; neither is recommended for daily
series shorter than a year.

Family: overdispersion is measured by the Pearson chi-square over residual degrees of
freedom of the Poisson fit; with ``family="auto"`` a negative binomial GLM replaces the
Poisson model when that ratio exceeds ``OVERDISPERSION_THRESHOLD`` = 1.5. Its alpha is the
method-of-moments estimate from the Poisson fit (sum((y - mu)^2 - mu) / mu^2 over the residual
degrees of freedom), which is fast and, with the sandwich above, all the interval needs.

Enough baseline: the weekday terms and the autocorrelation are estimated mostly from days
without the campaign, so the series needs at least ``MIN_PRE_DAYS`` days before the first
campaign day and at least ``MIN_OFF_DAYS`` days without the campaign in all.

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
from scipy.optimize import minimize_scalar, nnls
from scipy.signal import lfilter
from scipy.stats import t as student_t

from ._common import DEFAULT_CONFIDENCE, Estimate, check_confidence, z_value

OVERDISPERSION_THRESHOLD = 1.5
MIN_PRE_DAYS = 14  # two of each weekday before launch
MIN_OFF_DAYS = 28  # four weeks without the campaign, to estimate weekdays and autocorrelation
MAX_LAG = 28
MAX_RHO = 0.98

Family = Literal["poisson", "negative_binomial", "auto"]
CovType = Literal["ar1", "HC0", "HAC"]


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
    cov_type: str = "ar1"
    rho: float | None = None  # latent day-to-day autocorrelation (ar1 only)
    effective_days: float | None = None  # days / variance inflation (ar1 only)
    weekdays: bool = True


def interrupted_time_series(
    counts: Sequence[int],
    campaign_on: Sequence[bool | int],
    *,
    exposure: Sequence[float] | None = None,
    family: Family = "auto",
    slope_change: bool = True,
    weekdays: bool = True,
    cov_type: CovType = "ar1",
    maxlags: int = 7,
    confidence: float = DEFAULT_CONFIDENCE,
) -> ItsResult:
    """Segmented Poisson (or negative binomial) regression of daily counts on campaign days."""
    check_confidence(confidence)
    y, on = _validated(counts, campaign_on)
    design, names = _design(on, slope_change, weekdays)
    offset = _offset(exposure, len(y))
    poisson = sm.GLM(y, design, family=sm.families.Poisson(), offset=offset).fit()
    dispersion = float(poisson.pearson_chi2 / poisson.df_resid)
    chosen = _choose_family(family, dispersion)
    nb_alpha = _nb_alpha(y, poisson.mu, poisson.df_resid) if chosen != "poisson" else None
    fit = poisson if nb_alpha is None else sm.GLM(
        y, design, family=sm.families.NegativeBinomial(alpha=nb_alpha), offset=offset).fit()
    if cov_type == "ar1":
        covariance, rho, effective = _latent_ar1_covariance(y, design, fit.mu, nb_alpha)
        df = max(effective - design.shape[1], 2.0)
        quantile = float(student_t.ppf(1 - (1 - confidence) / 2, df))
    else:
        fit = _refit_robust(y, design, offset, fit.model.family, cov_type, maxlags)
        covariance, rho, effective = np.asarray(fit.cov_params()), None, None
        quantile = z_value(confidence)
    return _result(fit, design, names, offset, chosen, dispersion, nb_alpha, covariance,
                   quantile, confidence, cov_type, rho, effective, weekdays)


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
    pre, off = int(np.argmax(on)), int((on == 0).sum())
    if pre < MIN_PRE_DAYS or off < MIN_OFF_DAYS:
        raise ValueError(
            f"the series has {pre} pre-campaign days and {off} days without the campaign; "
            f"estimating the weekday terms and the day-to-day autocorrelation needs at least "
            f"{MIN_PRE_DAYS} days before the first campaign day and {MIN_OFF_DAYS} without it")
    return y, on


def _design(on: np.ndarray, slope_change: bool, weekdays: bool) -> tuple[np.ndarray, list[str]]:
    t = np.arange(on.size, dtype=float)
    columns, names = [np.ones_like(t), t], ["const", "time"]
    if weekdays:
        for day in range(1, 7):
            columns.append((t % 7 == day).astype(float))
            names.append(f"weekday_{day}")
    columns.append(on)
    names.append("campaign")
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


def _choose_family(family: Family, dispersion: float) -> str:
    if family == "auto":
        return "negative_binomial" if dispersion > OVERDISPERSION_THRESHOLD else "poisson"
    if family not in ("poisson", "negative_binomial"):
        raise ValueError(f"unknown family {family!r}")
    return family


def _nb_alpha(y: np.ndarray, mu: np.ndarray, df_resid: float) -> float:
    """Method-of-moments NB2 alpha: Var = mu + alpha mu^2 (a small floor keeps it valid)."""
    alpha = float(np.sum(((y - mu) ** 2 - mu) / mu**2) / df_resid)
    return max(alpha, 1e-8)


def _refit_robust(y, design, offset, glm_family, cov_type: str, maxlags: int):  # type: ignore[no-untyped-def]
    model = sm.GLM(y, design, family=glm_family, offset=offset)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if cov_type == "HAC":
            return model.fit(cov_type="HAC", cov_kwds={"maxlags": maxlags})
        if cov_type == "HC0":
            return model.fit(cov_type="HC0")
    raise ValueError(f"unknown cov_type {cov_type!r}; use 'ar1', 'HC0' or 'HAC'")


# --- the latent AR(1) covariance (see the module docstring) ----------------------------------


def _ar1_times(matrix: np.ndarray, rho: float) -> np.ndarray:
    """K @ matrix with K[s, t] = rho^|s-t|, in O(n^2) by a forward and a backward filter."""
    forward = lfilter([1.0], [1.0, -rho], matrix, axis=0)
    backward = lfilter([1.0], [1.0, -rho], matrix[::-1], axis=0)[::-1]
    return forward + backward - matrix


def _low_rank_lag_sums(left: np.ndarray, right: np.ndarray, lags: int) -> np.ndarray:
    """Lag sums of left @ right.T (both n x k) without forming the n x n product."""
    n = left.shape[0]
    return np.array([np.sum(left[: n - h] * right[h:]) / n for h in range(lags + 1)])


def _latent_ar1_covariance(y: np.ndarray, design: np.ndarray, mu: np.ndarray,
                           nb_alpha: float | None) -> tuple[np.ndarray, float, float]:
    """Sandwich covariance of the coefficients under Zeger's latent AR(1) model."""
    n = y.size
    weight = 1.0 / (1.0 + (nb_alpha or 0.0) * mu)  # score weight: 1 for Poisson
    root = np.sqrt(mu)
    bread = np.linalg.inv(design.T @ (design * (weight * mu)[:, None]))
    # Pearson residuals r = D^-1 (y - mu_hat) ~= (I - U V') D^-1 (y - mu), D = diag(sqrt mu),
    # U = D X and V = A D X B^-1: the fit's projection, of rank k.
    u = design * root[:, None]
    v = (design * (weight * root)[:, None]) @ bread
    residuals = (y - mu) / root
    lags = min(MAX_LAG, n // 4)
    sample = np.array([residuals[: n - h] @ residuals[h:] / n for h in range(lags + 1)])
    # E[sample] = phi0 * white + tau2 * latent(rho), white from (I - UV')(I - UV')'.
    white = (np.eye(lags + 1)[0] - _low_rank_lag_sums(u, v, lags)
             - _low_rank_lag_sums(v, u, lags) + _low_rank_lag_sums(u @ (v.T @ v), u, lags))
    root_products = np.array([root[: n - h] @ root[h:] / n for h in range(lags + 1)])
    dv = v * root[:, None]

    def latent(rho: float) -> np.ndarray:
        # (I - UV') D K D (I - UV')', expanded so that every term is n x k.
        z = _ar1_times(dv, rho)
        dz = z * root[:, None]
        return (root_products * rho ** np.arange(lags + 1) - _low_rank_lag_sums(u, dz, lags)
                - _low_rank_lag_sums(dz, u, lags) + _low_rank_lag_sums(u @ (dv.T @ z), u, lags))

    def misfit(rho: float) -> float:
        return float(nnls(np.column_stack([white, latent(rho)]), sample)[1])

    rho = float(minimize_scalar(misfit, bounds=(0.0, MAX_RHO), method="bounded",
                                options={"xatol": 1e-3}).x)
    (phi0, tau2), _ = nnls(np.column_stack([white, latent(rho)]), sample)
    scored = design * weight[:, None]
    xd, xm = scored * root[:, None], scored * mu[:, None]
    meat = phi0 * xd.T @ xd + tau2 * xm.T @ _ar1_times(xm, rho)
    covariance = bread @ meat @ bread
    mean_mu = float(np.mean(mu))
    independent = phi0 + tau2 * mean_mu
    inflation = (phi0 + tau2 * mean_mu * (1 + rho) / (1 - rho)) / independent \
        if independent > 0 else 1.0
    return covariance, rho, n / max(inflation, 1.0)


# --- the result ------------------------------------------------------------------------------


def _result(fit, design, names, offset, chosen, dispersion, nb_alpha, covariance,  # type: ignore[no-untyped-def]
            quantile, confidence, cov_type, rho, effective, weekdays) -> ItsResult:
    params = np.asarray(fit.params)
    ses = np.sqrt(np.diag(covariance))
    method = f"glm_log_link_{cov_type.lower()}"
    coefficient = {name: _coefficient(params[i], ses[i], quantile, confidence, method)
                   for i, name in enumerate(names)}
    level = coefficient["campaign"]
    slope = coefficient.get("time_since_launch")
    campaign_columns = [i for i, name in enumerate(names)
                        if name in ("campaign", "time_since_launch")]
    counterfactual_design = design.copy()
    counterfactual_design[:, campaign_columns] = 0.0
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
        note=_note(chosen, dispersion, cov_type, rho, effective, weekdays, design.shape[0]),
        cov_type=cov_type,
        rho=rho,
        effective_days=effective,
        weekdays=weekdays,
    )


def _coefficient(value: float, se: float, quantile: float, confidence: float,
                 method: str) -> Estimate:
    value, se = float(value), float(se)
    return Estimate(value, value - quantile * se, value + quantile * se, confidence, method)


def _exponentiated(estimate: Estimate) -> Estimate:
    return Estimate(
        math.exp(estimate.value), math.exp(estimate.lower), math.exp(estimate.upper),
        estimate.confidence, estimate.method,
    )


def _note(chosen: str, dispersion: float, cov_type: str, rho: float | None,
          effective: float | None, weekdays: bool, days: int) -> str:
    note = f"Poisson dispersion (Pearson chi2 / df) = {dispersion:.2f}; fitted {chosen}."
    if weekdays:
        note += " Day-of-week terms included."
    if cov_type == "ar1" and rho is not None and effective is not None:
        note += (f" Day-to-day autocorrelation (latent AR(1), Zeger 1988): rho = {rho:.2f}; "
                 f"the {days} days carry the information of about {effective:.0f} "
                 "independent days, and the intervals say so.")
    else:
        note += f" Errors: {cov_type} (days treated as independent beyond that)."
    if chosen == "poisson" and dispersion > OVERDISPERSION_THRESHOLD:
        note += " Counts are overdispersed: consider family='negative_binomial'."
    return note

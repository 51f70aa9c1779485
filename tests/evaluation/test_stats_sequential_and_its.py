"""Always-valid sequential intervals and interrupted time series."""

from __future__ import annotations

import ast
import pathlib

import numpy as np
import pytest

from evaluation.stats import (
    interrupted_time_series,
    risk_difference,
    sequential_difference_interval,
)
from evaluation.stats.sequential import mixture_halfwidth, mixture_rho

ROOT = pathlib.Path(__file__).resolve().parents[2]


def test_a_confidence_sequence_is_wider_than_the_fixed_horizon_interval() -> None:
    fixed = risk_difference(450, 1_000, 400, 1_000)
    sequential = sequential_difference_interval(450, 1_000, 400, 1_000)
    assert sequential.lower < fixed.lower
    assert sequential.upper > fixed.upper


def test_the_sequence_is_tightest_relative_to_root_n_near_the_tuning_sample_size() -> None:
    rho = mixture_rho(0.05, 5_000)
    scaled = {n: mixture_halfwidth(1.0, n, rho, 0.05) * np.sqrt(n) for n in (500, 5_000, 50_000)}
    assert scaled[5_000] < scaled[500]
    assert scaled[5_000] < scaled[50_000]


def test_zero_events_in_both_arms_still_give_a_non_zero_width_and_a_warning() -> None:
    result = sequential_difference_interval(0, 5_000, 0, 5_000)
    assert result.lower < 0 < result.upper
    assert "too narrow" in result.note


def test_peeking_at_the_confidence_sequence_keeps_coverage() -> None:
    # 200 experiments with no true difference, looked at every 250 trials per arm up to
    # 5,000: the sequence should exclude 0 at any look in at most about 5% of them.
    rng = np.random.default_rng(7)
    looks = range(250, 5_001, 250)
    misses = 0
    for _ in range(200):
        a = np.cumsum(rng.random(5_000) < 0.2)
        b = np.cumsum(rng.random(5_000) < 0.2)
        misses += any(
            not (s.lower <= 0 <= s.upper)
            for s in (sequential_difference_interval(int(a[n - 1]), n, int(b[n - 1]), n,
                                                     tuning_n=5_000) for n in looks)
        )
    assert misses / 200 <= 0.08


def simulated_series(seed: int, *, overdispersed: bool = False) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    days = np.arange(150)
    on = (days >= 75).astype(int)
    mean = 30 * np.exp(0.001 * days) * np.where(on == 1, 1.5, 1.0)
    if overdispersed:
        mean = mean * rng.gamma(shape=5, scale=1 / 5, size=days.size)
    return rng.poisson(mean), on


def test_its_picks_negative_binomial_for_overdispersed_counts_and_still_covers_truth() -> None:
    counts, on = simulated_series(11, overdispersed=True)
    result = interrupted_time_series(counts, on, family="auto")
    assert result.family == "negative_binomial"
    assert result.dispersion > 1.5
    assert result.rate_ratio.contains(1.5)


def test_its_keeps_poisson_for_equidispersed_counts() -> None:
    counts, on = simulated_series(12)
    assert interrupted_time_series(counts, on).family == "poisson"


def test_its_counterfactual_equals_the_fit_before_launch_and_differs_after() -> None:
    counts, on = simulated_series(13)
    result = interrupted_time_series(counts, on)
    assert result.fitted[:75] == pytest.approx(result.counterfactual[:75])
    assert np.mean(result.fitted[75:]) > np.mean(result.counterfactual[75:])
    assert len(result.fitted) == result.days == 150


def test_its_handles_flights_and_an_exposure_offset() -> None:
    rng = np.random.default_rng(14)
    days = np.arange(140)
    on = ((days // 14) % 2 == 1).astype(int)  # two weeks off, two weeks on
    exposure = rng.uniform(8_000, 12_000, size=days.size)
    counts = rng.poisson(exposure * 1e-3 * np.where(on == 1, 1.3, 1.0))
    result = interrupted_time_series(counts, on, exposure=exposure, slope_change=False)
    assert result.slope_change is None
    assert result.rate_ratio.contains(1.3)


def test_its_with_autocorrelation_robust_errors_runs() -> None:
    counts, on = simulated_series(15)
    result = interrupted_time_series(counts, on, cov_type="HAC", maxlags=7)
    assert result.rate_ratio.lower < result.rate_ratio.value < result.rate_ratio.upper


WEEKDAY_EFFECTS = np.log([1.0, 1.1, 1.15, 1.1, 1.05, 0.75, 0.65])  # quieter weekends


def autocorrelated_series(rng: np.random.Generator, days: int = 182, *, rho: float = 0.7,
                          sigma: float = 0.15, base: float = 30.0,
                          rate_ratio: float = 1.3) -> tuple[np.ndarray, np.ndarray]:
    """Daily helpline-like counts: weekday effects, a slight trend, a latent AR(1) process
    on the log scale (rho, marginal sd sigma) and a level change at mid-series."""
    t = np.arange(days)
    latent = np.empty(days)
    latent[0] = rng.normal(0, sigma)
    shocks = rng.normal(0, sigma * np.sqrt(1 - rho**2), days)
    for i in range(1, days):
        latent[i] = rho * latent[i - 1] + shocks[i]
    on = (t >= days // 2).astype(int)
    mean = base * np.exp(0.001 * t + WEEKDAY_EFFECTS[t % 7] + np.log(rate_ratio) * on + latent)
    return rng.poisson(mean), on


def _coverage(replicates: int, seed: int, **options) -> float:  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(seed)
    hits = 0
    for _ in range(replicates):
        counts, on = autocorrelated_series(rng)
        result = interrupted_time_series(counts, on, slope_change=False, **options)
        hits += result.rate_ratio.contains(1.3)
    return hits / replicates


def test_its_95_percent_intervals_cover_under_ar1_latent_noise_and_weekday_effects() -> None:
    # 26 weeks (13 before, 13 during), as the report fits it (no slope change). 1,000
    # replicates put the Monte Carlo standard error near 0.007; seeds 1-3 gave 0.948,
    # 0.941 and 0.947 while the method was tuned, so the band holds without luck.
    assert 0.93 <= _coverage(1_000, seed=1) <= 0.97


def test_its_with_independent_day_errors_would_under_cover_the_same_series() -> None:
    # What the report did before (HC0, no weekday terms): well below 95% (0.855 here).
    assert _coverage(200, seed=2, cov_type="HC0", weekdays=False) < 0.9


def test_its_reports_the_autocorrelation_and_the_effective_number_of_days() -> None:
    counts, on = autocorrelated_series(np.random.default_rng(5))
    result = interrupted_time_series(counts, on, slope_change=False)
    assert result.cov_type == "ar1" and result.weekdays
    assert 0.3 < result.rho < 0.95
    assert result.effective_days < result.days
    assert "autocorrelation" in result.note and "Day-of-week" in result.note


def test_its_refuses_a_series_too_short_to_estimate_weekdays_and_autocorrelation() -> None:
    counts, on = autocorrelated_series(np.random.default_rng(6), days=20)
    with pytest.raises(ValueError, match="at least 14 days before the first campaign day"):
        interrupted_time_series(counts, on)


def test_its_needs_days_before_the_campaign() -> None:
    with pytest.raises(ValueError, match="pre-campaign"):
        interrupted_time_series([5, 6, 7, 8], [1, 1, 0, 0])


@pytest.mark.parametrize(
    "path",
    [*sorted((ROOT / "evaluation" / "stats").glob("*.py")),
     *sorted((ROOT / "core" / "disclosure").glob("*.py"))],
    ids=lambda p: p.name,
)
def test_the_statistics_and_disclosure_modules_do_not_import_django(path: pathlib.Path) -> None:
    tree = ast.parse(path.read_text())
    imported = [
        alias.name for node in ast.walk(tree) if isinstance(node, ast.Import)
        for alias in node.names
    ] + [node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)]
    assert not [name for name in imported if name.split(".")[0] == "django"]

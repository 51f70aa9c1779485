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


def test_its_needs_days_before_the_campaign() -> None:
    with pytest.raises(ValueError, match="pre-campaign"):
        interrupted_time_series([5, 6, 7, 8], [1, 1, 0, 0])


@pytest.mark.parametrize(
    "path",
    [*sorted((ROOT / "evaluation" / "stats").glob("*.py")), ROOT / "core" / "disclosure.py"],
    ids=lambda p: p.name,
)
def test_the_statistics_and_disclosure_modules_do_not_import_django(path: pathlib.Path) -> None:
    tree = ast.parse(path.read_text())
    imported = [
        alias.name for node in ast.walk(tree) if isinstance(node, ast.Import)
        for alias in node.names
    ] + [node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)]
    assert not [name for name in imported if name.split(".")[0] == "django"]

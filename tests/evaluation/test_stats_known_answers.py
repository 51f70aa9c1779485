"""Known answers: published field figures, reproduced and checked against independent sums."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.stats import beta, binom, chi2, chi2_contingency, fisher_exact, gamma, norm
from statsmodels.stats.contingency_tables import Table2x2

from evaluation.stats import (
    EXACT_THRESHOLD,
    clopper_pearson_interval,
    compare_proportions,
    interrupted_time_series,
    odds_ratio,
    poisson_rate,
    rate_ratio,
    sample_ratio_mismatch,
    woolf_odds_ratio,
)

Z95 = 1.959963984540054

# reThink chatbot on Pornhub UK (University of Tasmania evaluation, 2024).
DISPLAYS = 2_800_000
FUNNEL = {"info_requests": 1_656, "click_throughs": 490, "contacts": 68}
PUBLISHED_RATES = {"info_requests": 59.14, "click_throughs": 17.5, "contacts": 2.43}

# Prichard et al. 2022 honeypot (Sexual Abuse, n = 419). The abstract gives the arm sizes,
# 100 / 74 / 65 / 81 / 99, that 27% gave up with no warning, and the odds ratios of the two
# strongest framings against no warning: 2.64 (95% CI 1.42-4.90, police can trace IP
# addresses) and 2.99 (1.65-5.41, this may be illegal). It gives no per-arm counts, so they
# are reconstructed: the control is the arm of 100 (27 of 100 = 27%), and searching every
# (arm size, events) pair for a Woolf odds ratio and interval equal to the published ones
# at two decimals finds exactly one answer each: 40 of 81 (49.4%) for IP tracing and 52 of
# 99 (52.5%) for illegality; no other arm size or count rounds to the published figures.
# The two harm-framing arms (74 and 65) have no published odds ratio; their counts (28 of 74
# = 37.8% and 27 of 65 = 41.5%) are placeholders inside the published 38-52% range and
# enter no known-answer check.
CONTROL = (27, 100)
PUBLISHED = {"ip_tracing": ((40, 81), (2.64, 1.42, 4.90)),
             "illegality": ((52, 99), (2.99, 1.65, 5.41))}
WARNINGS = {"harm_a": (28, 74), "harm_b": (27, 65),
            **{name: counts for name, (counts, _) in PUBLISHED.items()}}


def woolf_by_hand(a: int, b: int, c: int, d: int) -> tuple[float, float, float]:
    log_or = math.log(a * d / (b * c))
    se = math.sqrt(1 / a + 1 / b + 1 / c + 1 / d)
    return math.exp(log_or), math.exp(log_or - Z95 * se), math.exp(log_or + Z95 * se)


@pytest.mark.parametrize("stage", list(FUNNEL))
def test_rethink_funnel_rates_per_100000_match_the_published_figures(stage: str) -> None:
    rate = poisson_rate(FUNNEL[stage], DISPLAYS)
    assert round(rate.rate, 2) == PUBLISHED_RATES[stage]


def test_rethink_contacts_are_about_24_per_million_displays() -> None:
    assert poisson_rate(68, DISPLAYS, per=1_000_000).rate == pytest.approx(24.29, abs=0.01)


@pytest.mark.parametrize("stage", list(FUNNEL))
def test_rethink_garwood_interval_matches_chi_square_and_gamma_quantiles(stage: str) -> None:
    k = FUNNEL[stage]
    rate = poisson_rate(k, DISPLAYS)
    scale = 100_000 / DISPLAYS
    # Garwood from chi-square quantiles, and the same limits via gamma quantiles.
    assert rate.lower == pytest.approx(chi2.ppf(0.025, 2 * k) / 2 * scale, rel=1e-12)
    assert rate.upper == pytest.approx(chi2.ppf(0.975, 2 * k + 2) / 2 * scale, rel=1e-12)
    assert rate.lower == pytest.approx(gamma.ppf(0.025, k) * scale, rel=1e-9)
    assert rate.upper == pytest.approx(gamma.ppf(0.975, k + 1) * scale, rel=1e-9)


def test_rethink_contact_interval_matches_hand_derived_values() -> None:
    # chi2.ppf(0.025, 136) / 2 = 52.8047 and chi2.ppf(0.975, 138) / 2 = 86.2062 expected
    # contacts; divided by 28 (2.8M displays in units of 100,000).
    rate = poisson_rate(68, DISPLAYS)
    assert rate.lower == pytest.approx(52.8047 / 28, abs=1e-4)
    assert rate.upper == pytest.approx(86.2062 / 28, abs=1e-4)


@pytest.mark.parametrize("stage", list(FUNNEL))
def test_rethink_clopper_pearson_matches_beta_quantiles_and_binomial_tails(stage: str) -> None:
    k = FUNNEL[stage]
    interval = clopper_pearson_interval(k, DISPLAYS)
    assert interval.lower == pytest.approx(beta.ppf(0.025, k, DISPLAYS - k + 1), rel=1e-12)
    assert interval.upper == pytest.approx(beta.ppf(0.975, k + 1, DISPLAYS - k), rel=1e-12)
    # The defining property: each limit puts exactly 2.5% in the far binomial tail.
    assert binom.sf(k - 1, DISPLAYS, interval.lower) == pytest.approx(0.025, rel=1e-6)
    assert binom.cdf(k, DISPLAYS, interval.upper) == pytest.approx(0.025, rel=1e-6)


def test_rethink_exact_binomial_and_poisson_intervals_agree_at_this_scale() -> None:
    cp = clopper_pearson_interval(68, DISPLAYS)
    garwood = poisson_rate(68, DISPLAYS, per=1)
    assert cp.lower == pytest.approx(garwood.lower, rel=1e-3)
    assert cp.upper == pytest.approx(garwood.upper, rel=1e-3)


@pytest.mark.parametrize("arm", list(WARNINGS))
def test_prichard_odds_ratios_match_woolf_by_hand_and_statsmodels(arm: str) -> None:
    events, trials = WARNINGS[arm]
    a, b = events, trials - events
    c, d = CONTROL[0], CONTROL[1] - CONTROL[0]
    result = odds_ratio(events, trials, *CONTROL)
    assert result.method == "woolf_log"
    expected = woolf_by_hand(a, b, c, d)
    assert (result.value, result.lower, result.upper) == pytest.approx(expected, rel=1e-9)
    second_opinion = Table2x2(np.array([[a, b], [c, d]]))
    assert result.value == pytest.approx(second_opinion.oddsratio, rel=1e-12)
    low, high = second_opinion.oddsratio_confint(alpha=0.05)
    assert (result.lower, result.upper) == pytest.approx((low, high), rel=1e-9)


@pytest.mark.parametrize("arm", list(PUBLISHED))
def test_prichard_published_odds_ratios_reproduce_to_two_decimals(arm: str) -> None:
    (events, trials), published = PUBLISHED[arm]
    result = odds_ratio(events, trials, *CONTROL)
    assert (round(result.value, 2), round(result.lower, 2), round(result.upper, 2)) == published


def test_prichard_reconstruction_is_the_only_one_that_rounds_to_the_published_figures() -> None:
    sizes = (74, 65, 81, 99)
    found = {}
    for n in sizes:
        for k in range(1, n):
            result = woolf_by_hand(k, n - k, CONTROL[0], CONTROL[1] - CONTROL[0])
            rounded = tuple(round(x, 2) for x in result)
            for arm, (_, published) in PUBLISHED.items():
                if rounded == published:
                    found.setdefault(arm, []).append((k, n))
    assert found == {arm: [counts] for arm, (counts, _) in PUBLISHED.items()}


def test_prichard_control_gave_up_at_the_published_27_percent() -> None:
    assert CONTROL[0] / CONTROL[1] == 0.27


def test_prichard_arms_sum_to_the_published_sample_size() -> None:
    assert sorted([CONTROL[1], *(t for _, t in WARNINGS.values())]) == [65, 74, 81, 99, 100]
    assert CONTROL[1] + sum(trials for _, trials in WARNINGS.values()) == 419


def test_large_counts_give_fisher_and_chi_square_p_values_that_agree() -> None:
    table = [[500, 9_500], [560, 9_440]]
    _, fisher_p = fisher_exact(table)
    result = compare_proportions(500, 10_000, 560, 10_000)
    assert result.test.method == "pearson_chi2"
    assert result.test.p_value == pytest.approx(fisher_p, abs=0.005)
    assert result.test.p_value == pytest.approx(
        chi2_contingency(table, correction=False)[1], rel=1e-12
    )


def test_large_counts_give_exact_and_woolf_odds_ratio_intervals_that_agree() -> None:
    woolf = woolf_odds_ratio(500, 9_500, 560, 9_440)
    from scipy.stats.contingency import odds_ratio as scipy_odds_ratio

    exact = scipy_odds_ratio([[500, 9_500], [560, 9_440]]).confidence_interval()
    assert woolf.lower == pytest.approx(exact.low, rel=0.01)
    assert woolf.upper == pytest.approx(exact.high, rel=0.01)


def test_large_counts_give_garwood_and_wald_log_intervals_that_agree() -> None:
    rate = poisson_rate(1_656, DISPLAYS)
    spread = math.exp(Z95 / math.sqrt(1_656))
    assert rate.lower == pytest.approx(rate.rate / spread, rel=0.005)
    assert rate.upper == pytest.approx(rate.rate * spread, rel=0.005)


def test_large_counts_give_exact_and_wald_log_rate_ratios_that_agree() -> None:
    wald, _ = rate_ratio(490, DISPLAYS, 400, DISPLAYS)
    # The exact conditional interval by hand: Clopper-Pearson on 490 of 890, mapped to RR.
    low = beta.ppf(0.025, 490, 401)
    high = beta.ppf(0.975, 491, 400)
    assert wald.method == "wald_log"
    assert wald.lower == pytest.approx(low / (1 - low), rel=0.01)
    assert wald.upper == pytest.approx(high / (1 - high), rel=0.01)


def test_proportion_test_is_exact_one_event_below_the_threshold() -> None:
    below = compare_proportions(EXACT_THRESHOLD - 1, 1_000, 30, 1_000)
    assert below.test.method == "fisher_exact"
    assert f"< {EXACT_THRESHOLD}" in below.test.reason
    assert below.odds_ratio.method == "exact_conditional"


def test_proportion_test_is_chi_square_at_the_threshold() -> None:
    at = compare_proportions(EXACT_THRESHOLD, 1_000, 30, 1_000)
    assert at.test.method == "pearson_chi2"
    assert at.odds_ratio.method == "woolf_log"


def test_rate_ratio_is_exact_one_event_below_the_threshold_and_wald_at_it() -> None:
    below, below_test = rate_ratio(EXACT_THRESHOLD - 1, 1e6, 30, 1e6)
    at, at_test = rate_ratio(EXACT_THRESHOLD, 1e6, 30, 1e6)
    assert below.method == below_test.method == "exact_conditional_binomial"
    assert at.method == at_test.method == "wald_log"


def test_srm_flags_10000_vs_10400_at_the_1_percent_level() -> None:
    # Chi-square = 2 * 200^2 / 10200 = 7.84, p = 0.0051: flagged at 0.01 ...
    result = sample_ratio_mismatch([10_000, 10_400], [0.5, 0.5], threshold=0.01)
    assert result.verdict == "warn"
    assert result.statistic == pytest.approx(2 * 200**2 / 10_200)
    assert result.p_value == pytest.approx(2 * norm.sf(math.sqrt(2 * 200**2 / 10_200)))


def test_srm_default_threshold_of_0_001_needs_a_larger_imbalance_than_10400() -> None:
    # ... but not at the default 0.001; 10,000 vs 10,600 (p = 0.00003) is flagged there.
    assert sample_ratio_mismatch([10_000, 10_400], [1, 1]).verdict == "ok"
    assert sample_ratio_mismatch([10_000, 10_600], [1, 1]).verdict == "warn"


@pytest.mark.parametrize("threshold", [0.001, 0.01])
def test_srm_does_not_flag_10000_vs_10050(threshold: float) -> None:
    result = sample_ratio_mismatch([10_000, 10_050], [0.5, 0.5], threshold=threshold)
    assert result.verdict == "ok"


def test_its_recovers_a_known_30_percent_level_drop_from_simulated_daily_counts() -> None:
    rng = np.random.default_rng(20240601)
    days = np.arange(120)
    on = (days >= 60).astype(int)
    expected = 40 * np.exp(0.002 * days) * np.where(on == 1, 0.7, 1.0)
    counts = rng.poisson(expected)
    result = interrupted_time_series(counts, on, family="poisson")
    assert result.rate_ratio.contains(0.7)
    assert result.rate_ratio.value == pytest.approx(0.7, abs=0.08)
    assert result.slope_change is not None and result.slope_change.contains(0.0)

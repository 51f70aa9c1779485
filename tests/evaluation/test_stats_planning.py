"""Multiple comparisons, sample-ratio mismatch and sample-size planning."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.stats import norm

from evaluation.stats import (
    adjust_p_values,
    benjamini_hochberg,
    holm,
    required_sample_size,
    sample_progress,
    sample_ratio_mismatch,
    sample_ratio_mismatch_by_day,
)

VARIANTS = {"law": 0.01, "police": 0.04, "help": 0.03}


def test_holm_adjusts_by_hand_computed_values() -> None:
    # Sorted 0.01, 0.03, 0.04 -> 3 * 0.01, max(0.03, 2 * 0.03), max(0.06, 1 * 0.04).
    result = holm(VARIANTS).by_label()
    assert result["law"].adjusted_p_value == pytest.approx(0.03)
    assert result["help"].adjusted_p_value == pytest.approx(0.06)
    assert result["police"].adjusted_p_value == pytest.approx(0.06)
    assert [c.reject for c in holm(VARIANTS).comparisons] == [True, False, False]


def test_benjamini_hochberg_adjusts_by_hand_computed_values() -> None:
    # Sorted 0.01, 0.03, 0.04 -> min over later of p * 3 / rank: 0.03, 0.04, 0.04.
    result = benjamini_hochberg(VARIANTS).by_label()
    assert result["law"].adjusted_p_value == pytest.approx(0.03)
    assert result["help"].adjusted_p_value == pytest.approx(0.04)
    assert result["police"].adjusted_p_value == pytest.approx(0.04)
    assert all(c.reject for c in benjamini_hochberg(VARIANTS).comparisons)


def test_unlabelled_p_values_keep_their_order() -> None:
    result = adjust_p_values([0.5, 0.001], method="holm")
    assert [c.label for c in result.comparisons] == ["0", "1"]
    assert result.comparisons[1].adjusted_p_value == pytest.approx(0.002)


def test_an_unknown_adjustment_method_is_refused() -> None:
    with pytest.raises(ValueError, match="holm"):
        adjust_p_values([0.1], method="bonferroni")  # type: ignore[arg-type]


def test_srm_expected_counts_follow_unequal_allocation_weights() -> None:
    result = sample_ratio_mismatch([2_000, 8_000], [20, 80])
    assert result.expected == pytest.approx((2_000, 8_000))
    assert result.verdict == "ok"


def test_srm_with_no_exposures_says_there_is_not_enough_data() -> None:
    assert sample_ratio_mismatch([0, 0], [1, 1]).verdict == "insufficient_data"


def test_srm_needs_one_weight_per_arm() -> None:
    with pytest.raises(ValueError):
        sample_ratio_mismatch([10, 20, 30], [1, 1])


def test_daily_srm_points_at_the_day_the_split_broke() -> None:
    days = [[1_000, 1_010], [990, 1_005], [1_000, 600], [1_002, 998]]
    result = sample_ratio_mismatch_by_day(days, [1, 1])
    assert result.flagged_days == (2,)
    assert result.overall.observed == (3_992, 3_613)
    assert result.overall.verdict == "warn"


def test_required_sample_size_matches_the_cohen_h_formula_by_hand() -> None:
    h = 2 * math.asin(math.sqrt(0.12)) - 2 * math.asin(math.sqrt(0.10))
    # Var(h estimate) = 1/n1 + 1/n2 = 2/n with equal arms, hence the factor 2.
    by_hand = 2 * ((norm.ppf(0.975) + norm.ppf(0.8)) / h) ** 2
    result = required_sample_size(0.10, minimum_detectable_effect=0.02)
    assert result.comparator_per_arm == math.ceil(by_hand)
    assert result.total == 2 * result.comparator_per_arm


def test_a_relative_effect_is_the_same_plan_as_its_absolute_equivalent() -> None:
    relative = required_sample_size(0.10, minimum_detectable_effect=0.2, relative=True)
    absolute = required_sample_size(0.10, minimum_detectable_effect=0.02)
    assert relative.comparator_per_arm == absolute.comparator_per_arm


def test_unequal_allocation_puts_ratio_times_more_trials_in_the_variant_arm() -> None:
    result = required_sample_size(0.10, minimum_detectable_effect=0.02, ratio=2)
    assert result.variant_per_arm == pytest.approx(2 * result.comparator_per_arm, abs=2)


def test_rare_outcomes_need_millions_per_arm_and_the_note_says_so() -> None:
    # reThink's contact rate, 2.43 per 100,000: detecting a 20% rise needs tens of millions.
    result = required_sample_size(2.43e-5, minimum_detectable_effect=0.2, relative=True)
    assert result.comparator_per_arm > 10_000_000
    small = required_sample_size(2.43e-5, minimum_detectable_effect=5.0, relative=True)
    assert "exact tests" in small.note


def test_progress_is_set_by_the_lagging_arm() -> None:
    plan = required_sample_size(0.10, minimum_detectable_effect=0.02)
    progress = sample_progress(
        comparator_observed=plan.comparator_per_arm,
        variant_observed=plan.variant_per_arm // 2,
        required=plan,
    )
    assert progress.comparator_fraction == 1
    assert progress.fraction == pytest.approx(0.5, abs=0.001)
    assert not progress.complete


def test_an_effect_that_leaves_the_unit_interval_is_refused() -> None:
    with pytest.raises(ValueError):
        required_sample_size(0.9, minimum_detectable_effect=0.2)


# --- the planner's promise, by simulation -----------------------------------------------------


def _holm_power(n_comparator: int, n_variant: int, baseline: float, target: float, *,
                variants: int = 3, effective: int | None = None, replicates: int = 20_000,
                alpha: float = 0.05, seed: int = 20260601) -> float:
    """Share of (replicate, variant) pairs Holm declares significant among the ``effective``
    variants that have the planned effect (the others have none): each real variant's
    power, as the report's analysis would find it.

    The report's test at these counts is Pearson's chi-square (the pooled two-proportion
    score test), computed here for all replicates at once. 20,000 replicates put the
    Monte Carlo standard error of the power near 0.003.
    """
    effective = variants if effective is None else effective
    rng = np.random.default_rng(seed)
    control = rng.binomial(n_comparator, baseline, size=(replicates, 1))
    rates = np.array([target] * effective + [baseline] * (variants - effective))
    treated = rng.binomial(n_variant, rates, size=(replicates, variants))
    pooled = (control + treated) / (n_comparator + n_variant)
    se = np.sqrt(pooled * (1 - pooled) * (1 / n_comparator + 1 / n_variant))
    z = (treated / n_variant - control / n_comparator) / se
    p = 2 * norm.sf(np.abs(z))
    # Holm, vectorised: sorted p(i) * (m - i), running maximum, compare with alpha.
    order = np.argsort(p, axis=1)
    ranked = np.take_along_axis(p, order, axis=1) * (variants - np.arange(variants))
    rejected_sorted = np.maximum.accumulate(np.minimum(ranked, 1.0), axis=1) <= alpha
    rejected = np.empty_like(rejected_sorted)
    np.put_along_axis(rejected, order, rejected_sorted, axis=1)
    return float(rejected[:, :effective].mean())


def test_a_three_variant_holm_design_planned_by_the_planner_simulates_at_80_percent_power() -> None:
    plan = required_sample_size(0.10, minimum_detectable_effect=0.2, relative=True,
                                comparisons=3)
    assert plan.per_comparison_alpha == pytest.approx(0.05 / 3)
    args = (plan.comparator_per_arm, plan.variant_per_arm, 0.10, plan.target)
    # The worst case for Holm: one variant works, two do not (Holm is Bonferroni there).
    assert _holm_power(*args, effective=1) >= 0.78
    # Every variant works: Holm's later steps add power, so alpha / 3 is conservative.
    assert 0.78 <= _holm_power(*args) <= 0.90


def test_planning_at_the_nominal_alpha_loses_power_under_holm() -> None:
    # What the planner did before: alpha = 0.05 for each of three Holm-adjusted variants.
    naive = required_sample_size(0.10, minimum_detectable_effect=0.2, relative=True,
                                 comparisons=1)
    args = (naive.comparator_per_arm, naive.variant_per_arm, 0.10, naive.target)
    assert 0.6 < _holm_power(*args, effective=1) < 0.7
    assert _holm_power(*args) < 0.76


def test_a_small_holdout_design_simulates_at_the_planned_power() -> None:
    # 10% holdout, three variants of 30% each: ratio 3 variant trials per holdout trial.
    plan = required_sample_size(0.10, minimum_detectable_effect=0.2, relative=True,
                                comparisons=3, ratio=3)
    assert plan.variant_per_arm == pytest.approx(3 * plan.comparator_per_arm, abs=1)
    equal = required_sample_size(0.10, minimum_detectable_effect=0.2, relative=True,
                                 comparisons=3)
    assert plan.comparator_per_arm < equal.comparator_per_arm
    args = (plan.comparator_per_arm, plan.variant_per_arm, 0.10, plan.target)
    assert _holm_power(*args, effective=1) >= 0.78


def test_one_comparison_is_not_adjusted_and_the_note_explains_holm_sizing() -> None:
    single = required_sample_size(0.10, minimum_detectable_effect=0.02)
    triple = required_sample_size(0.10, minimum_detectable_effect=0.02, comparisons=3)
    assert single.per_comparison_alpha == 0.05 and single.adjustment == "none"
    assert triple.adjustment == "holm" and "alpha / 3" in triple.note
    assert triple.comparator_per_arm > single.comparator_per_arm


@pytest.mark.parametrize("bad", [{"comparisons": 0}, {"comparisons": 1.5}, {"ratio": 0},
                                 {"adjustment": "bonferroni"}])
def test_a_nonsensical_design_is_refused(bad: dict) -> None:
    with pytest.raises(ValueError):
        required_sample_size(0.10, minimum_detectable_effect=0.02, **bad)

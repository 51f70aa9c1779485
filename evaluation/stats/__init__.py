"""Evaluation statistics computed from per-arm summary counts only.

A pure Python package (numpy, scipy, statsmodels; no Django), so it can be tested and
reused without a database. Outcomes in outreach are rare (tens per million exposures), so
every comparison switches from asymptotic to exact methods when counts are small: see
``EXACT_THRESHOLD`` and each module's docstring for the rule it applies.

Modules
-------
proportions   Wilson / Clopper-Pearson, risk difference, risk ratio, odds ratio, p-values
rates         Poisson rates per 100,000, rate ratio, rate difference
multiplicity  Holm and Benjamini-Hochberg adjustments
srm           sample-ratio mismatch checks, pooled and per day
power         required sample size per arm and progress towards it
stratified    Mantel-Haenszel pooled odds/risk ratios, Breslow-Day homogeneity
sequential    always-valid confidence sequences for a difference in proportions
its           interrupted time series (segmented Poisson / negative binomial regression)
rare          mid-p intervals and tests, the exact switch for small counts (import it
              from evaluation.stats.rare)
"""

from ._common import Estimate, SignificanceTest
from .its import ItsResult, interrupted_time_series
from .multiplicity import (
    AdjustedFamily,
    AdjustedPValue,
    adjust_p_values,
    benjamini_hochberg,
    holm,
)
from .power import (
    SampleProgress,
    SampleSizeResult,
    per_comparison_alpha,
    required_sample_size,
    sample_progress,
)
from .proportions import (
    BOSCHLOO_MAX_TOTAL,
    EXACT_THRESHOLD,
    ProportionComparison,
    ProportionEstimate,
    clopper_pearson_interval,
    compare_proportions,
    odds_ratio,
    risk_difference,
    risk_ratio,
    two_proportion_test,
    wilson_interval,
    woolf_odds_ratio,
)
from .rates import (
    PER,
    RateComparison,
    RateEstimate,
    compare_rates,
    poisson_rate,
    rate_difference,
    rate_ratio,
)
from .sequential import SequentialInterval, sequential_difference_interval
from .srm import (
    SRM_THRESHOLD,
    DailySrmResult,
    SrmResult,
    sample_ratio_mismatch,
    sample_ratio_mismatch_by_day,
)
from .stratified import StratifiedResult, mantel_haenszel, stratum_table

__all__ = [
    "BOSCHLOO_MAX_TOTAL",
    "EXACT_THRESHOLD",
    "PER",
    "SRM_THRESHOLD",
    "AdjustedFamily",
    "AdjustedPValue",
    "DailySrmResult",
    "Estimate",
    "ItsResult",
    "ProportionComparison",
    "ProportionEstimate",
    "RateComparison",
    "RateEstimate",
    "SampleProgress",
    "SampleSizeResult",
    "SequentialInterval",
    "SignificanceTest",
    "SrmResult",
    "StratifiedResult",
    "adjust_p_values",
    "benjamini_hochberg",
    "clopper_pearson_interval",
    "compare_proportions",
    "compare_rates",
    "holm",
    "interrupted_time_series",
    "mantel_haenszel",
    "odds_ratio",
    "per_comparison_alpha",
    "poisson_rate",
    "rate_difference",
    "rate_ratio",
    "required_sample_size",
    "risk_difference",
    "risk_ratio",
    "sample_progress",
    "sample_ratio_mismatch",
    "sample_ratio_mismatch_by_day",
    "sequential_difference_interval",
    "stratum_table",
    "two_proportion_test",
    "wilson_interval",
    "woolf_odds_ratio",
]

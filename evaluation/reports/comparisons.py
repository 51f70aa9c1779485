"""Variant-vs-comparator comparisons (proportions, rates, Holm) and stratified results."""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any

from core.disclosure import Published
from evaluation import stats
from evaluation.models import UnitOfAnalysis
from evaluation.reports.context import Counts, ReportContext
from evaluation.reports.views import HIDDEN, CampaignReport, Comparison, StratifiedView
from evaluation.stats import rare


def _compare(ctx: ReportContext, shown: Published, report: CampaignReport) -> None:
    primary = [_comparison(ctx, shown, v, ctx.primary) for v in ctx.variants]
    # Holm over the whole family with every hidden comparison's p-value taken as 1: an
    # adjusted p-value never decreases when another p-value grows, so this is conservative
    # (never rejects more than Holm would) and uses no hidden count.
    family = stats.holm({c.variant: (c.test.p_value if c.shown and c.test else 1.0)
                         for c in primary}, alpha=ctx.plan.alpha if ctx.plan else 0.05)
    adjusted = family.by_label()
    report.comparisons = [_with_adjustment(c, adjusted.get(c.variant)) for c in primary]
    for kind in ctx.compared[1:]:
        report.secondary_comparisons += [
            _comparison(ctx, shown, v, kind, rates_only=True) for v in ctx.variants]


def _with_adjustment(c: Comparison, adjusted: stats.AdjustedPValue | None) -> Comparison:
    if not c.shown or adjusted is None:
        return c
    return replace(c, adjusted_p_value=adjusted.adjusted_p_value, significant=adjusted.reject)


def _comparison(ctx: ReportContext, shown: Published, variant, kind: str, *,  # type: ignore[no-untyped-def]
                rates_only: bool = False) -> Comparison:
    comparator = ctx.comparator
    head = {"outcome": kind, "variant": variant.name, "comparator": comparator.name,
            "basis": ctx.basis}
    v_exp, c_exp = ctx.count(variant.pk, "exposures"), ctx.count(comparator.pk, "exposures")
    if min(v_exp, c_exp, ctx.trials(variant.pk), ctx.trials(comparator.pk)) == 0:
        return Comparison(**head, shown=False, note="an arm has no exposures yet")
    if not shown.shown(("comparison", kind, variant.pk)):
        return Comparison(**head, shown=False, note=HIDDEN)
    v_k, c_k = ctx.count(variant.pk, kind), ctx.count(comparator.pk, kind)
    rates = stats.compare_rates(v_k, v_exp, c_k, c_exp)
    rate_ratio, rate_test = rates.rate_ratio, rates.test
    if ctx.mid_p and rate_test.method == "exact_conditional_binomial":
        rate_ratio, rate_test = rare.mid_p_rate_ratio(v_k, v_exp, c_k, c_exp)
    if ctx.unit == UnitOfAnalysis.DAY:
        rate_ratio = _quasi_poisson(rate_ratio, ctx.counts, (variant.pk, comparator.pk), kind)
    result: dict[str, Any] = {"rate_ratio": rate_ratio, "rate_difference": rates.rate_difference,
                              "rate_test": rate_test}
    note = ""
    if not rates_only:
        p = _proportions(ctx, variant, kind)
        if p is None:
            note = (f"proportions not computed: an arm has more {kind} outcomes than "
                    f"{ctx.basis} (one can have several); per-person totals are needed. "
                    "Rate comparisons (events per exposure) are shown.")
        else:
            result.update(variant_proportion=p.variant, comparator_proportion=p.comparator,
                          risk_difference=p.risk_difference, risk_ratio=p.risk_ratio,
                          odds_ratio=p.odds_ratio, test=p.test)
            plan = ctx.plan
            if plan is not None and plan.sequential:
                result["sequential"] = stats.sequential_difference_interval(
                    p.variant.events, p.variant.trials, p.comparator.events,
                    p.comparator.trials, alpha=plan.alpha,
                    tuning_n=max(2 * (plan.required_sample_per_arm or 2500), 1))
    return Comparison(**head, shown=True, note=note, **result)


def _proportions(ctx: ReportContext, variant, kind: str):  # type: ignore[no-untyped-def]
    """Per person where the totals exist (ReportContext.basis); None when an arm has more
    events than trials (never capped)."""
    pairs = ctx.proportion_counts((variant.pk, ctx.comparator.pk), kind)
    if pairs is None:
        return None
    (v_k, v_n), (c_k, c_n) = pairs
    result = stats.compare_proportions(v_k, v_n, c_k, c_n)
    # Each arm's own interval: Wilson under-covers below ~10 events, so exact there
    # (Clopper-Pearson, or mid-p when the plan chose it); the test likewise (mid-p Fisher).
    test = result.test
    if ctx.mid_p and test.method in ("fisher_exact", "boschloo_exact"):
        test = rare.fisher_mid_p([[v_k, v_n - v_k], [c_k, c_n - c_k]])
    return replace(result, test=test,
                   variant=rare.small_count_interval(v_k, v_n, mid_p=ctx.mid_p),
                   comparator=rare.small_count_interval(c_k, c_n, mid_p=ctx.mid_p))


def _quasi_poisson(estimate: stats.Estimate, counts: Counts, arm_ids: tuple[int, int],
                   kind: str) -> stats.Estimate:
    """Widen a Wald/exact rate-ratio interval by sqrt(dispersion) across days (>= 1)."""
    chi2, days = 0.0, 0
    for arm_id in arm_ids:
        daily = [(c.get(kind, 0), c.get("exposures", 0))
                 for (a, _), c in counts.by_arm_day.items() if a == arm_id and c.get("exposures")]
        total_k = sum(k for k, _ in daily)
        total_e = sum(e for _, e in daily)
        for k, e in daily:
            expected = total_k * e / total_e if total_e else 0
            if expected > 0:
                chi2 += (k - expected) ** 2 / expected
                days += 1
    df = days - len(arm_ids)
    phi = max(1.0, chi2 / df) if df > 0 else 1.0
    if estimate.value <= 0 or math.isinf(estimate.upper) or estimate.lower <= 0:
        return stats.Estimate(estimate.value, estimate.lower, estimate.upper,
                              estimate.confidence, f"{estimate.method}+quasi_poisson")
    scale = math.sqrt(phi)
    log_v = math.log(estimate.value)
    lower = math.exp(log_v - (log_v - math.log(estimate.lower)) * scale)
    upper = math.exp(log_v + (math.log(estimate.upper) - log_v) * scale)
    return stats.Estimate(estimate.value, lower, upper, estimate.confidence,
                          f"{estimate.method}+quasi_poisson(phi={phi:.2f})")


def _stratified(ctx: ReportContext, shown: Published) -> list[StratifiedView]:
    views = []
    primary, comparator = ctx.primary, ctx.comparator
    for dimension, source, levels in ctx.breakdowns()[1:]:
        for variant in ctx.variants:
            if not shown.shown(("stratified", dimension, variant.pk)):
                views.append(StratifiedView(dimension, variant.name, False, None, HIDDEN))
                continue
            tables = []
            for level in levels:
                v, c = source.get((variant.pk, level), {}), source.get((comparator.pk, level), {})
                counts = (v.get(primary, 0), v.get("exposures", 0),
                          c.get(primary, 0), c.get("exposures", 0))
                if counts[0] > counts[1] or counts[2] > counts[3]:
                    break  # more outcomes than exposures: no proportion (never capped)
                tables.append(stats.stratum_table(*counts))
            if len(tables) < len(levels):
                views.append(StratifiedView(
                    dimension, variant.name, False, None,
                    f"not computed: a {dimension} has more {primary} outcomes than exposures "
                    "(the strata keep no per-person counts)"))
                continue
            try:
                result = stats.mantel_haenszel(tables)
            except ValueError as error:
                views.append(StratifiedView(dimension, variant.name, False, None, str(error)))
                continue
            views.append(StratifiedView(dimension, variant.name, True, result))
    return views

"""Sample-ratio mismatch and progress towards the planned sample."""

from __future__ import annotations

import math
from dataclasses import replace

from core.disclosure import Published
from evaluation import stats
from evaluation.reports.context import ReportContext
from evaluation.reports.views import ProgressView, SrmView
from evaluation.services import plan_design


def _srm(ctx: ReportContext, shown: Published) -> SrmView | None:
    arms = ctx.arms
    if len(arms) < 2:
        return None
    weights = [float(a.weight) or 1.0 for a in arms]
    shares = {a.name: w / sum(weights) for a, w in zip(arms, weights, strict=True)}
    days = next(levels for d, _, levels in ctx.breakdowns() if d == "day")
    daily = [[ctx.counts.by_arm_day.get((a.pk, d), {}).get("exposures", 0) for a in arms]
             for d in days]
    rotated = getattr(ctx.campaign, "design", "") == "time_rotated"
    result = stats.sample_ratio_mismatch_by_day(
        daily or [[ctx.count(a.pk, "exposures") for a in arms]], weights)
    checked = [i for i, d in enumerate(days) if shown.shown(("srm_day", d))]
    flagged = () if rotated else tuple(days[i] for i in result.flagged_days if i in checked)
    note = ("Chi-square goodness of fit against the planned weights; warn at "
            f"p < {stats.SRM_THRESHOLD}.")
    if rotated:
        note += " Time-rotated design: one arm per day, so only the pooled check applies."
    if len(checked) < len(days) and not rotated:
        note += (f" {len(days) - len(checked)} day(s) not checked in public: a count of "
                 "that day is suppressed.")
    if not shown.shown(("srm",)):
        # The verdict is a function of the hidden counts too: no verdict, no statistic.
        return SrmView("hidden", None, None, shares, (), len(checked),
                       note + " Verdict hidden: an arm's exposures are suppressed.")
    overall = result.overall
    return SrmView(overall.verdict, overall.p_value, overall.statistic, shares, flagged,
                   len(checked), note)


def progress_targets(ctx: ReportContext) -> dict[int, int]:
    """Trials each compared arm needs, as the planner sized them: the comparator
    ``required_sample_per_arm`` and each variant that times the plan's allocation ratio
    (smallest variant weight / comparator weight, ``evaluation.services.plan_design``). With
    a 1:9 holdout the variants need nine times the holdout's number; measuring every arm
    against the comparator's number would call the plan complete while the holdout is far
    short. Arms the plan does not compare (a second holdout) have no target."""
    required = ctx.plan.required_sample_per_arm
    _, ratio = plan_design(ctx.plan)
    targets = {ctx.comparator.pk: required} if ctx.comparator is not None else {}
    for variant in ctx.variants:
        targets[variant.pk] = math.ceil(required * ratio)
    return targets


def _progress(ctx: ReportContext, shown: Published) -> ProgressView | None:
    """Progress against the planned size of each compared arm, in the report's basis (people
    where the totals exist), per arm only where the arm's count is shown (the table treats
    that count as known exactly: the ratio gives it back). The lagging arm decides."""
    plan = ctx.plan
    if plan is None or not plan.required_sample_per_arm:
        return None
    targets = progress_targets(ctx)
    fractions: dict[str, float | None] = {}
    for arm in ctx.arms:
        if arm.pk in targets:
            fractions[arm.name] = (ctx.trials(arm.pk) / targets[arm.pk]
                                   if shown.shown(("progress", arm.pk)) else None)
    named = {arm.name: targets[arm.pk] for arm in ctx.arms if arm.pk in targets}
    view = ProgressView(plan.required_sample_per_arm, ctx.basis, fractions, None, None, named)
    if not fractions or any(f is None for f in fractions.values()):
        return view
    fraction = min(f for f in fractions.values() if f is not None)
    return replace(view, fraction=fraction, complete=fraction >= 1)

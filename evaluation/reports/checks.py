"""Sample-ratio mismatch and progress towards the planned sample."""

from __future__ import annotations

from core.disclosure import Published
from evaluation import stats
from evaluation.reports.context import ReportContext
from evaluation.reports.views import ProgressView, SrmView


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


def _progress(ctx: ReportContext, shown: Published) -> ProgressView | None:
    """Progress against the planned size, per arm only where the arm's count is shown (the
    table then treats that count as known exactly: the ratio gives it back)."""
    plan = ctx.plan
    if plan is None or not plan.required_sample_per_arm:
        return None
    basis = ctx.basis
    required = plan.required_sample_per_arm
    fractions: dict[str, float | None] = {}
    for arm in ctx.arms:
        fractions[arm.name] = (ctx.trials(arm.pk) / required
                               if shown.shown(("progress", arm.pk)) else None)
    # The holdout is sized by its own (smaller) weight and shows no message: measuring it
    # against the per-arm target would keep progress low for the whole campaign.
    counted = {arm.name for arm in ctx.arms if arm.kind != "holdout"} or set(fractions)
    published = [f for name, f in fractions.items() if name in counted and f is not None]
    if len(published) < len(counted):
        return ProgressView(required, basis, fractions, None, None)
    fraction = min(published) if published else 0.0
    return ProgressView(required, basis, fractions, fraction, fraction >= 1)

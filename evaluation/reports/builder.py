"""Building the report: the table published once, then each section from what passed."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from typing import Any

from django.db.models import Q
from django.utils import timezone

from core.bounds import stored_range
from core.disclosure import DisclosurePolicy, Published, disclose_count
from evaluation import stats
from evaluation.models import EvaluationPlan, Exposure, Outcome, UnitOfAnalysis
from evaluation.population import campaign_population
from evaluation.reports.checks import _progress, _srm
from evaluation.reports.comparisons import _compare, _stratified
from evaluation.reports.context import PERSON_UNITS, ReportContext, _context
from evaluation.reports.table import _disclosure_table, _measures, funnel_steps
from evaluation.reports.views import (
    HELPLINE_QUEUE,
    ArmRow,
    Breakdown,
    CampaignReport,
    FunnelStage,
    PlanView,
    RateView,
)
from evaluation.services import plan_expected_hash, plan_hash
from evaluation.stats import rare


def campaign_report(*, campaign, policy: DisclosurePolicy | None = None,  # type: ignore[no-untyped-def]
                    with_population: bool = True) -> CampaignReport:
    """Build the disclosed report for one campaign from its rollups.

    Every count and every value computed from counts is declared in one
    ``core.disclosure.Table`` (counts, the sums that link the arms tables and the
    breakdowns, derived values with the counts they use); only what its ``publish()``
    lets through is put into the report."""
    ctx = _context(campaign, policy or DisclosurePolicy())
    shown = _disclosure_table(ctx).publish()
    ctx, shown, queue_notes = _without_a_costly_queue(ctx, shown)
    rows, totals = _arm_rows(ctx, shown)
    report = CampaignReport(
        campaign_id=campaign.pk, campaign_name=campaign.name, generated_at=timezone.now(),
        policy=ctx.policy, plan=_plan_view(ctx.plan), primary_outcome=ctx.primary,
        outcome_kinds=ctx.kinds, comparator=ctx.comparator.name if ctx.comparator else None,
        arms=rows, totals=totals, comparisons=[], secondary_comparisons=[],
        funnel=_funnel(ctx, shown, rows, totals), srm=_srm(ctx, shown), progress=None,
        daily=[], strata=[], stratified=[],
        notes=_notes(ctx.plan, ctx.unit, ctx.basis, ctx.policy)
        + _out_of_range_notes(campaign, ctx.policy) + queue_notes)
    if ctx.comparator is not None:
        _compare(ctx, shown, report)
        report.progress = _progress(ctx, shown)
        report.stratified = _stratified(ctx, shown)
    report.daily = [_breakdown(ctx, shown, "day", m, f"{m} by day")
                    for m in ("exposures", ctx.primary)]
    report.strata = [_breakdown(ctx, shown, d, m, f"{m} by {d}")
                     for d in ("country", "channel") for m in ("exposures", ctx.primary)]
    if with_population:
        report.population = campaign_population(campaign=campaign, policy=ctx.policy)
    return report


def _without_a_costly_queue(ctx: ReportContext, shown: Published
                            ) -> tuple[ReportContext, Published, list[str]]:
    """The helpline queue is shown only when it costs the rest nothing: when protecting its
    small counts would hide a figure that the report without it shows (say a small comparator
    arm's contacts, then their comparisons), it is left out whole, and a note says why."""
    if not ctx.helpline:
        return ctx, shown, []
    plain = replace(ctx, helpline=False,
                    kinds=tuple(k for k in ctx.kinds if k not in HELPLINE_QUEUE
                                or k in ctx.compared))
    before = _disclosure_table(plain).publish()
    lost = [k for k in before.cells if before.shown(k) and not shown.shown(k)] + [
        k for k in before.derived if before.shown(k) and not shown.shown(k)]
    if not lost:
        return ctx, shown, []
    return plain, before, [
        "What became of the helpline contacts (answered, abandoned) is not shown: "
        "protecting their small counts would hide figures of the analysis."]


# --- arms, rates and the funnel ---------------------------------------------------------------


def _arm_rows(ctx: ReportContext, shown: Published) -> tuple[list[ArmRow], ArmRow | None]:
    if not ctx.arms:
        return [], None
    rows = [ArmRow(arm.pk, arm.name, arm.kind, float(arm.weight),
                   shown[("arm", "exposures", arm.pk)], shown[("arm", "subjects", arm.pk)],
                   {k: shown[("arm", k, arm.pk)] for k in ctx.kinds},
                   {k: _rate(shown, ("rate", k, arm.pk), ctx.count(arm.pk, k),
                             ctx.count(arm.pk, "exposures"), ctx.mid_p) for k in ctx.kinds})
            for arm in ctx.arms]
    every = {m: sum(ctx.count(a.pk, m) for a in ctx.arms) for m in _measures(ctx)}
    totals = ArmRow(0, "All arms", "", 0.0, shown[("all", "exposures")],
                    shown[("all", "subjects")], {k: shown[("all", k)] for k in ctx.kinds},
                    {k: _rate(shown, ("rate", k, "all"), every[k], every["exposures"],
                              ctx.mid_p) for k in ctx.kinds})
    return rows, totals


def _rate(shown: Published, key: tuple, events: int, exposures: int, mid_p: bool = False
          ) -> RateView | None:
    """Garwood's exact interval; mid-p below ``EXACT_THRESHOLD`` events when the plan says."""
    if not shown.shown(key) or exposures <= 0:
        return None
    estimate = stats.poisson_rate(events, exposures)
    if mid_p and events < stats.EXACT_THRESHOLD:
        low, high = rare.mid_p_poisson_limits(events)
        scale = estimate.per / exposures
        return RateView(estimate.rate, low * scale, high * scale, "mid_p_poisson")
    return RateView(estimate.rate, estimate.lower, estimate.upper, estimate.method)


def _funnel(ctx: ReportContext, shown: Published, rows: list[ArmRow],
            totals: ArmRow | None) -> dict[str, list[FunnelStage]]:
    """Exposure -> information request -> help click -> helpline contact, per arm; beside the
    contacts, for a campaign that signposts a helpline hosted here, the answered and the
    abandoned (each a share of the contacts)."""
    measures = ("exposures", *ctx.funnel)
    every: dict[str, tuple[ArmRow, tuple, dict[str, int]]] = {}
    for row in rows:
        every[row.name] = (row, (row.arm_id,), {m: ctx.count(row.arm_id, m) for m in measures})
    if totals is not None:
        every[totals.name] = (totals, (), {m: sum(ctx.count(a.pk, m) for a in ctx.arms)
                                           for m in measures})
    funnel = {}
    for name, (row, suffix, exact) in every.items():
        stages = [FunnelStage("exposures", row.exposures, None)]
        for of, kind in funnel_steps(ctx):
            passes = shown.shown(("conversion", kind, *suffix)) and exact.get(of)
            stages.append(FunnelStage(kind, row.outcomes[kind],
                                      exact.get(kind, 0) / exact[of] if passes else None, of))
        funnel[name] = stages
    return funnel


# --- breakdowns and strata ---------------------------------------------------------------------


def _breakdown(ctx: ReportContext, shown: Published, dimension: str, measure: str,
               title: str) -> Breakdown:
    """One measure by day/country/channel (rows) and arm (columns), without row totals."""
    levels = next(levels for d, _, levels in ctx.breakdowns() if d == dimension)
    labels = tuple(_label(level) for level in levels)
    cells = tuple(tuple(shown[("bd", dimension, measure, level, a.pk)] for a in ctx.arms)
                  for level in levels)
    return Breakdown(title, labels, tuple(a.name for a in ctx.arms), cells)


def _label(level: Any) -> str:
    if isinstance(level, date):
        return level.isoformat()
    return level or "(unknown)"


def _notes(plan, unit: str, basis: str, policy: DisclosurePolicy) -> list[str]:  # type: ignore[no-untyped-def]
    notes = [
        f"Counts from 1 to {policy.threshold - 1} are shown as '{policy.small_symbol}', "
        f"others rounded to the nearest {policy.rounding_base}; '[c]' marks a count hidden "
        "so that a small one cannot be worked out from totals. Estimates use exact counts "
        "and are hidden whenever a count they use is hidden."
        if policy.enabled else "Disclosure control is OFF (internal testing only).",
        f"Exact methods (Fisher/Boschloo, exact conditional Poisson) replace score methods "
        f"when an arm has fewer than {stats.EXACT_THRESHOLD} events.",
    ]
    if plan is None:
        notes.append("No evaluation plan was registered: the analysis is exploratory.")
    if basis == "subjects":
        notes.append("Proportions are per person (the pseudonym is the unit of "
                     "randomisation): people with at least one outcome among people exposed "
                     "at least once. Rates are per exposure. A pseudonym key lasts one month: "
                     "a person seen in two months counts twice.")
    elif unit in PERSON_UNITS:
        notes.append("Person totals are not available yet: proportions count exposures and "
                     "treat repeated displays to one person as independent (intervals too "
                     "narrow when people see it several times); an arm with more outcomes "
                     "than exposures has no proportion (events are never capped).")
    if unit == UnitOfAnalysis.CLUSTER:
        notes.append("Unit is a cluster: intervals treat exposures as independent and are "
                     "too narrow when clusters differ; read the stratified results.")
    if unit == UnitOfAnalysis.DAY:
        notes.append("Unit is the day (time-rotated design): rate-ratio intervals are widened "
                     "by the day-to-day overdispersion (quasi-Poisson).")
    notes.append("Stratified (Mantel-Haenszel) results use exposures as denominators (the "
                 "strata keep no per-person counts); a stratum with more outcomes than "
                 "exposures leaves them out.")
    return notes


def _out_of_range_notes(campaign, policy: DisclosurePolicy) -> list[str]:  # type: ignore[no-untyped-def]
    """Stored rows dated outside core.bounds.stored_range: left out of every count."""
    first, last = stored_range()
    outside = Q(occurred_at__lt=first) | Q(occurred_at__gte=last)
    skipped = (Outcome.objects.filter(outside, campaign=campaign).count()
               + Exposure.objects.filter(outside, campaign=campaign).count())
    if not skipped:
        return []
    shown = disclose_count(skipped, policy).display
    return [f"{shown} stored event(s) dated before {first.date()} or in the future are left "
            "out of every count (they were accepted before timestamps were checked)."]


# --- the plan --------------------------------------------------------------------------------


def _plan_view(plan: EvaluationPlan | None) -> PlanView | None:
    if plan is None:
        return None
    current = plan_hash(plan)
    if not plan.is_locked:
        integrity = "not_locked"
    else:
        integrity = "ok" if current == plan_expected_hash(plan) else "changed_without_amendment"
    return PlanView(
        hypothesis=plan.hypothesis, primary_outcome=plan.primary_outcome,
        secondary_outcomes=tuple(plan.secondary_outcomes),
        guardrail_outcomes=tuple(plan.guardrail_outcomes),
        comparator_kind=plan.comparator_kind, comparator_rationale=plan.comparator_rationale,
        unit_of_analysis=plan.unit_of_analysis, alpha=plan.alpha, power=plan.power,
        baseline_rate=plan.baseline_rate,
        minimum_detectable_effect=plan.minimum_detectable_effect,
        mde_is_relative=plan.mde_is_relative,
        required_sample_per_arm=plan.required_sample_per_arm,
        analysis_method=plan.analysis_method, sequential=plan.sequential,
        locked_at=plan.locked_at, locked_hash=plan.locked_hash, current_hash=current,
        integrity=integrity,
        amendments=tuple(
            {"at": a.at, "reason": a.reason, "changes": a.changes, "by": a.actor_label,
             "previous_hash": a.previous_hash, "new_hash": a.new_hash}
            for a in plan.amendments.all()),
    )


def breakdown_rows(breakdown: Breakdown) -> list[list[str]]:
    return [[label, *(c.display for c in row)]
            for label, row in zip(breakdown.row_labels, breakdown.cells, strict=True)]

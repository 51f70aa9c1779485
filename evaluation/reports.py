"""The campaign report: every figure computed from rolled-up counts, every count disclosed.

``campaign_report(campaign=, policy=)`` reads only ``DailyCell`` and ``ArmSubjectTotal`` (and
the plan), runs the statistics in ``evaluation.stats`` on exact counts, then passes every
count it shows through ``core.disclosure``. An estimate (rate, interval, p-value) is
shown only when every count it is built from is shown, so a hidden count cannot be
recovered from it. Renderers (admin page, CSV, JSON, charts) read this object only.

Disclosure: one table for the whole report
------------------------------------------
Every count (arms x measure with "all arms" margins, and the by-day/country/channel
breakdowns, whose columns the reader knows add up to the arm's figure) and every estimate
computed from counts (rates, funnel conversions, comparisons with their tests, intervals and
sequential bounds, Mantel-Haenszel/CMH/Breslow-Day results, SRM verdict and per-day flags) is
declared in one ``core.disclosure.Table`` with the counts it depends on. The table chooses
complementary suppressions against a reader who can do linear programming over everything
published, and an estimate is computed for publication only when all its counts pass; so the
JSON/API, CSV, admin page and charts, which read this object only, cannot show it either.
Holm adjustment treats a hidden comparison's p-value as 1 (conservative). Progress ratios
are declared like any estimate.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from typing import Any

from django.db.models import Q, Sum
from django.utils import timezone

from core.bounds import stored_day_range, stored_range
from core.disclosure import (
    DisclosedCell,
    DisclosurePolicy,
    Published,
    Table,
    disclose_count,
)
from core.vocabulary import OutcomeKind
from evaluation import stats
from evaluation.models import (
    ArmSubjectTotal,
    ComparatorKind,
    DailyCell,
    EvaluationPlan,
    Exposure,
    Outcome,
    UnitOfAnalysis,
)

FUNNEL: tuple[str, ...] = ("info_requested", "help_click", "helpline_contact")
HIDDEN = "hidden: a count it is built from is suppressed by disclosure control"


# --- result types ----------------------------------------------------------------------------


@dataclass(frozen=True)
class RateView:
    rate: float  # per 100,000 exposures
    lower: float
    upper: float
    method: str


@dataclass(frozen=True)
class ArmRow:
    arm_id: int
    name: str
    kind: str
    weight: float
    exposures: DisclosedCell
    subjects: DisclosedCell
    outcomes: dict[str, DisclosedCell]
    rates: dict[str, RateView | None]


@dataclass(frozen=True)
class Comparison:
    outcome: str
    variant: str
    comparator: str
    basis: str  # "exposures" or "subjects"
    shown: bool
    note: str = ""
    variant_proportion: stats.ProportionEstimate | None = None
    comparator_proportion: stats.ProportionEstimate | None = None
    risk_difference: stats.Estimate | None = None
    risk_ratio: stats.Estimate | None = None
    odds_ratio: stats.Estimate | None = None
    test: stats.SignificanceTest | None = None
    adjusted_p_value: float | None = None
    significant: bool | None = None
    rate_ratio: stats.Estimate | None = None
    rate_difference: stats.Estimate | None = None
    rate_test: stats.SignificanceTest | None = None
    sequential: stats.SequentialInterval | None = None


@dataclass(frozen=True)
class FunnelStage:
    label: str
    count: DisclosedCell
    conversion: float | None  # share of the previous stage, when both are shown


@dataclass(frozen=True)
class SrmView:
    verdict: str
    p_value: float | None
    statistic: float | None
    expected_shares: dict[str, float]
    flagged_days: tuple[date, ...]
    days_checked: int
    note: str


@dataclass(frozen=True)
class ProgressView:
    required_per_arm: int
    basis: str
    fractions: dict[str, float | None]
    fraction: float | None
    complete: bool | None


@dataclass(frozen=True)
class Breakdown:
    """A table of one measure by day/stratum (rows) and arm (columns), disclosed."""

    title: str
    row_labels: tuple[str, ...]
    arms: tuple[str, ...]
    cells: tuple[tuple[DisclosedCell, ...], ...]


@dataclass(frozen=True)
class StratifiedView:
    dimension: str
    variant: str
    shown: bool
    result: stats.StratifiedResult | None
    note: str = ""


@dataclass(frozen=True)
class PlanView:
    hypothesis: str
    primary_outcome: str
    secondary_outcomes: tuple[str, ...]
    guardrail_outcomes: tuple[str, ...]
    comparator_kind: str
    comparator_rationale: str
    unit_of_analysis: str
    alpha: float
    power: float
    baseline_rate: float
    minimum_detectable_effect: float
    mde_is_relative: bool
    required_sample_per_arm: int | None
    analysis_method: str
    sequential: bool
    locked_at: datetime | None
    locked_hash: str
    current_hash: str
    integrity: str  # "ok", "not_locked", or "changed_without_amendment"
    amendments: tuple[dict[str, Any], ...]


@dataclass
class CampaignReport:
    campaign_id: int
    campaign_name: str
    generated_at: datetime
    policy: DisclosurePolicy
    plan: PlanView | None
    primary_outcome: str
    outcome_kinds: tuple[str, ...]
    comparator: str | None
    arms: list[ArmRow]
    totals: ArmRow | None
    comparisons: list[Comparison]
    secondary_comparisons: list[Comparison]
    funnel: dict[str, list[FunnelStage]]
    srm: SrmView | None
    progress: ProgressView | None
    daily: list[Breakdown]
    strata: list[Breakdown]
    stratified: list[StratifiedView]
    population: Any = None  # evaluation.population.PopulationView, when computed
    notes: list[str] = field(default_factory=list)


# --- reading the counts ----------------------------------------------------------------------

SUMS = {"exposures": Sum("exposures"), **{k: Sum(k) for k in OutcomeKind.values}}


def _grouped(campaign, *keys: str) -> list[dict[str, Any]]:  # type: ignore[no-untyped-def]
    first, last = stored_day_range()  # a cell dated year 1 BC cannot be read into Python
    rows = DailyCell.objects.filter(campaign=campaign, day__gte=first, day__lte=last) \
        .values(*keys).annotate(**SUMS)
    return [{k: (v or 0) if k in SUMS else v for k, v in row.items()} for row in rows]


@dataclass
class Counts:
    """Exact counts read from the rollups (never leave this module undisclosed)."""

    by_arm: dict[int, dict[str, int]]
    by_arm_day: dict[tuple[int, date], dict[str, int]]
    by_arm_country: dict[tuple[int, str], dict[str, int]]
    by_arm_channel: dict[tuple[int, str], dict[str, int]]
    subjects: dict[int, ArmSubjectTotal]


def read_counts(campaign) -> Counts:  # type: ignore[no-untyped-def]
    def index(rows: list[dict], *keys: str) -> dict:
        return {tuple(r[k] for k in keys) if len(keys) > 1 else r[keys[0]]: r for r in rows}

    return Counts(
        by_arm=index(_grouped(campaign, "arm_id"), "arm_id"),
        by_arm_day=index(_grouped(campaign, "arm_id", "day"), "arm_id", "day"),
        by_arm_country=index(_grouped(campaign, "arm_id", "country"), "arm_id", "country"),
        by_arm_channel=index(_grouped(campaign, "arm_id", "channel"), "arm_id", "channel"),
        subjects={t.arm_id: t for t in ArmSubjectTotal.objects.filter(campaign=campaign)},
    )


# --- the context every step reads ------------------------------------------------------------


@dataclass(frozen=True)
class ReportContext:
    """What one report is built from: read once, passed to every step instead of six
    positional arguments. Its counts are exact: nothing here leaves the module undisclosed."""

    campaign: Any
    policy: DisclosurePolicy
    plan: EvaluationPlan | None
    arms: tuple[Any, ...]
    counts: Counts
    primary: str
    kinds: tuple[str, ...]
    unit: str
    comparator: Any | None

    @property
    def basis(self) -> str:
        """Denominator of proportions: unique subjects for a per-person plan, else exposures."""
        recipient = self.unit == UnitOfAnalysis.RECIPIENT and self.counts.subjects
        return "subjects" if recipient else "exposures"

    @property
    def variants(self) -> list[Any]:
        return [a for a in self.arms if a.kind == "variant"]

    def count(self, arm_id: int, measure: str) -> int:
        if measure == "subjects":
            total = self.counts.subjects.get(arm_id)
            return total.unique_subjects if total else 0
        return self.counts.by_arm.get(arm_id, {}).get(measure, 0)

    def trials(self, arm_id: int) -> int:
        return self.count(arm_id, "subjects" if self.basis == "subjects" else "exposures")

    def events(self, arm_id: int, kind: str) -> int:
        if self.basis == "subjects":
            return int(self.counts.subjects[arm_id].subjects_with_outcome.get(kind, 0))
        return self.count(arm_id, kind)

    def breakdowns(self) -> list[tuple[str, dict, list[Any]]]:
        """(dimension, counts by (arm, level), levels) for day, country and channel."""
        out = []
        for dimension, source in (("day", self.counts.by_arm_day),
                                  ("country", self.counts.by_arm_country),
                                  ("channel", self.counts.by_arm_channel)):
            out.append((dimension, source, sorted({level for (_, level) in source},
                                                  key=lambda v: (v is None, v))))
        return out


def _context(campaign, policy: DisclosurePolicy) -> ReportContext:  # type: ignore[no-untyped-def]
    plan = EvaluationPlan.objects.filter(campaign=campaign).first()
    arms = tuple(campaign.arms.all().order_by("pk"))
    primary = str(plan.primary_outcome if plan else OutcomeKind.HELP_CLICK)
    return ReportContext(
        campaign=campaign, policy=policy, plan=plan, arms=arms, counts=read_counts(campaign),
        primary=primary, kinds=_outcome_kinds(plan, primary),
        unit=plan.unit_of_analysis if plan else UnitOfAnalysis.SESSION,
        comparator=_comparator_arm(list(arms), plan))


# --- the builder -----------------------------------------------------------------------------


def campaign_report(*, campaign, policy: DisclosurePolicy | None = None,  # type: ignore[no-untyped-def]
                    with_population: bool = True) -> CampaignReport:
    """Build the disclosed report for one campaign from its rollups.

    Every count and every value computed from counts is declared in one
    ``core.disclosure.Table`` (counts, the sums that link the arms tables and the
    breakdowns, derived values with the counts they use); only what its ``publish()``
    lets through is put into the report."""
    ctx = _context(campaign, policy or DisclosurePolicy())
    shown = _disclosure_table(ctx).publish()
    rows, totals = _arm_rows(ctx, shown)
    report = CampaignReport(
        campaign_id=campaign.pk, campaign_name=campaign.name, generated_at=timezone.now(),
        policy=ctx.policy, plan=_plan_view(ctx.plan), primary_outcome=ctx.primary,
        outcome_kinds=ctx.kinds, comparator=ctx.comparator.name if ctx.comparator else None,
        arms=rows, totals=totals, comparisons=[], secondary_comparisons=[],
        funnel=_funnel(ctx, shown, rows, totals), srm=_srm(ctx, shown), progress=None,
        daily=[], strata=[], stratified=[],
        notes=_notes(ctx.plan, ctx.unit, ctx.counts, ctx.policy)
        + _out_of_range_notes(campaign, ctx.policy))
    if ctx.comparator is not None:
        _compare(ctx, shown, report)
        report.progress = _progress(ctx, shown)
        report.stratified = _stratified(ctx, shown)
    report.daily = [_breakdown(ctx, shown, "day", m, f"{m} by day")
                    for m in ("exposures", ctx.primary)]
    report.strata = [_breakdown(ctx, shown, d, m, f"{m} by {d}")
                     for d in ("country", "channel") for m in ("exposures", ctx.primary)]
    if with_population:
        from evaluation.population import campaign_population

        report.population = campaign_population(campaign=campaign, policy=ctx.policy)
    return report


# --- the one disclosure table ------------------------------------------------------------------

def _measures(ctx: ReportContext) -> tuple[str, ...]:
    return ("exposures", "subjects", *ctx.kinds)


def _arm_cost(ctx: ReportContext, arm_id: int, measure: str) -> float:
    """What hiding an arm's figure loses: most for the primary outcome of a large arm. An
    "all arms" margin costs 1, so it is hidden before any arm's figure is."""
    weight = 4 if measure == ctx.primary else 2 if measure == "exposures" else 1
    return weight * (ctx.count(arm_id, "exposures") + 1) + ctx.count(arm_id, measure)


def _disclosure_table(ctx: ReportContext) -> Table:
    table = Table(ctx.policy)
    for measure in _measures(ctx):
        for arm in ctx.arms:
            table.count(("arm", measure, arm.pk), ctx.count(arm.pk, measure),
                        cost=_arm_cost(ctx, arm.pk, measure))
        table.total(("all", measure), [("arm", measure, a.pk) for a in ctx.arms], cost=1)
    if ctx.basis == "subjects":  # events of a per-person analysis: people with an outcome
        for arm in ctx.arms:
            for kind in ctx.kinds:
                table.count(("people", kind, arm.pk), ctx.events(arm.pk, kind))
    for dimension, source, levels in ctx.breakdowns():
        for measure in dict.fromkeys(("exposures", ctx.primary)):
            for arm in ctx.arms:
                parts = [table.count(("bd", dimension, measure, level, arm.pk),
                                     source.get((arm.pk, level), {}).get(measure, 0))
                         for level in levels]
                table.sums_to(("arm", measure, arm.pk), parts)
    _declare_derived(ctx, table)
    return table


def _declare_derived(ctx: ReportContext, table: Table) -> None:
    """Every estimate with the counts it is computed from (its value comes later, only for
    those that pass: nothing is computed from a hidden count for publication)."""
    for kind in ctx.kinds:
        for arm in ctx.arms:
            table.derived(("rate", kind, arm.pk), None,
                          depends_on=[("arm", kind, arm.pk), ("arm", "exposures", arm.pk)])
        table.derived(("rate", kind, "all"), None,
                      depends_on=[("all", kind), ("all", "exposures")])
    for arm_key in [*(("arm", a.pk) for a in ctx.arms), ("all",)]:
        stages = ["exposures", *FUNNEL]
        for previous, kind in itertools.pairwise(stages):
            table.derived(("conversion", kind, *arm_key[1:]), None,
                          depends_on=[_key(arm_key, previous), _key(arm_key, kind)])
    trials = "subjects" if ctx.basis == "subjects" else "exposures"
    for arm in ctx.arms:  # progress: an exact ratio gives its count back, declared as such
        table.derived(("progress", arm.pk), None, depends_on=[("arm", trials, arm.pk)])
    if len(ctx.arms) >= 2:
        table.derived(("srm",), None,
                      depends_on=[("arm", "exposures", a.pk) for a in ctx.arms])
        days = next(levels for d, _, levels in ctx.breakdowns() if d == "day")
        for day in days:  # a yes/no flag: needs its day's cells shown, reveals no more
            table.derived(("srm_day", day), None, reveals=False,
                          depends_on=[("bd", "day", "exposures", day, a.pk) for a in ctx.arms])
    if ctx.comparator is None:
        return
    for variant in ctx.variants:
        for kind in ctx.kinds:
            table.derived(("comparison", kind, variant.pk), None,
                          depends_on=_comparison_cells(ctx, variant, kind))
        for dimension, _, levels in ctx.breakdowns()[1:]:
            table.derived(("stratified", dimension, variant.pk), None, depends_on=[
                ("bd", dimension, m, level, a.pk) for m in ("exposures", ctx.primary)
                for level in levels for a in (variant, ctx.comparator)])


def _key(arm_key: tuple, measure: str) -> tuple:
    return ("arm", measure, arm_key[1]) if arm_key[0] == "arm" else ("all", measure)


def _comparison_cells(ctx: ReportContext, variant, kind: str) -> list[tuple]:  # type: ignore[no-untyped-def]
    cells = []
    for arm in (variant, ctx.comparator):
        cells += [("arm", kind, arm.pk), ("arm", "exposures", arm.pk)]
        if ctx.basis == "subjects":
            cells += [("arm", "subjects", arm.pk), ("people", kind, arm.pk)]
        if ctx.unit == UnitOfAnalysis.DAY and kind == ctx.primary:
            # the quasi-Poisson dispersion is computed from the daily counts
            days = next(levels for d, _, levels in ctx.breakdowns() if d == "day")
            cells += [("bd", "day", m, day, arm.pk) for m in ("exposures", kind) for day in days]
    return cells


# --- arms, rates and the funnel ---------------------------------------------------------------


def _arm_rows(ctx: ReportContext, shown: Published) -> tuple[list[ArmRow], ArmRow | None]:
    if not ctx.arms:
        return [], None
    rows = [ArmRow(arm.pk, arm.name, arm.kind, float(arm.weight),
                   shown[("arm", "exposures", arm.pk)], shown[("arm", "subjects", arm.pk)],
                   {k: shown[("arm", k, arm.pk)] for k in ctx.kinds},
                   {k: _rate(shown, ("rate", k, arm.pk), ctx.count(arm.pk, k),
                             ctx.count(arm.pk, "exposures")) for k in ctx.kinds})
            for arm in ctx.arms]
    every = {m: sum(ctx.count(a.pk, m) for a in ctx.arms) for m in _measures(ctx)}
    totals = ArmRow(0, "All arms", "", 0.0, shown[("all", "exposures")],
                    shown[("all", "subjects")], {k: shown[("all", k)] for k in ctx.kinds},
                    {k: _rate(shown, ("rate", k, "all"), every[k], every["exposures"])
                     for k in ctx.kinds})
    return rows, totals


def _rate(shown: Published, key: tuple, events: int, exposures: int) -> RateView | None:
    if not shown.shown(key) or exposures <= 0:
        return None
    estimate = stats.poisson_rate(events, exposures)
    return RateView(estimate.rate, estimate.lower, estimate.upper, estimate.method)


def _funnel(ctx: ReportContext, shown: Published, rows: list[ArmRow],
            totals: ArmRow | None) -> dict[str, list[FunnelStage]]:
    """Exposure -> information request -> help click -> helpline contact, per arm."""
    every: dict[str, tuple[ArmRow, tuple, dict[str, int]]] = {}
    for row in rows:
        every[row.name] = (row, (row.arm_id,),
                           {m: ctx.count(row.arm_id, m) for m in ("exposures", *FUNNEL)})
    if totals is not None:
        every[totals.name] = (totals, (), {m: sum(ctx.count(a.pk, m) for a in ctx.arms)
                                           for m in ("exposures", *FUNNEL)})
    funnel = {}
    for name, (row, suffix, exact) in every.items():
        stages = [FunnelStage("exposures", row.exposures, None)]
        previous = "exposures"
        for kind in FUNNEL:
            passes = shown.shown(("conversion", kind, *suffix)) and exact.get(previous)
            stages.append(FunnelStage(kind, row.outcomes[kind],
                                      exact.get(kind, 0) / exact[previous] if passes else None))
            previous = kind
        funnel[name] = stages
    return funnel


# --- comparisons -----------------------------------------------------------------------------


def _compare(ctx: ReportContext, shown: Published, report: CampaignReport) -> None:
    primary = [_comparison(ctx, shown, v, ctx.primary) for v in ctx.variants]
    # Holm over the whole family with every hidden comparison's p-value taken as 1: an
    # adjusted p-value never decreases when another p-value grows, so this is conservative
    # (never rejects more than Holm would) and uses no hidden count.
    family = stats.holm({c.variant: (c.test.p_value if c.shown and c.test else 1.0)
                         for c in primary}, alpha=ctx.plan.alpha if ctx.plan else 0.05)
    adjusted = family.by_label()
    report.comparisons = [_with_adjustment(c, adjusted.get(c.variant)) for c in primary]
    for kind in ctx.kinds[1:]:
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
    rate_ratio = rates.rate_ratio
    if ctx.unit == UnitOfAnalysis.DAY:
        rate_ratio = _quasi_poisson(rate_ratio, ctx.counts, (variant.pk, comparator.pk), kind)
    result: dict[str, Any] = {"rate_ratio": rate_ratio, "rate_difference": rates.rate_difference,
                              "rate_test": rates.test}
    if not rates_only:
        p = _proportions(ctx, variant, kind)
        result.update(variant_proportion=p.variant, comparator_proportion=p.comparator,
                      risk_difference=p.risk_difference, risk_ratio=p.risk_ratio,
                      odds_ratio=p.odds_ratio, test=p.test)
        plan = ctx.plan
        if plan is not None and plan.sequential:
            result["sequential"] = stats.sequential_difference_interval(
                p.variant.events, p.variant.trials, p.comparator.events, p.comparator.trials,
                alpha=plan.alpha, tuning_n=max(2 * (plan.required_sample_per_arm or 2500), 1))
    return Comparison(**head, shown=True, **result)


def _proportions(ctx: ReportContext, variant, kind: str):  # type: ignore[no-untyped-def]
    # An exposure can be followed by two outcomes of a kind; a proportion counts it once.
    comparator = ctx.comparator
    v_trials, c_trials = ctx.trials(variant.pk), ctx.trials(comparator.pk)
    v_k = min(ctx.events(variant.pk, kind), v_trials)
    c_k = min(ctx.events(comparator.pk, kind), c_trials)
    return stats.compare_proportions(v_k, v_trials, c_k, c_trials)


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


# --- SRM and progress --------------------------------------------------------------------------


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
                tables.append(stats.stratum_table(
                    min(v.get(primary, 0), v.get("exposures", 0)), v.get("exposures", 0),
                    min(c.get(primary, 0), c.get("exposures", 0)), c.get("exposures", 0)))
            try:
                result = stats.mantel_haenszel(tables)
            except ValueError as error:
                views.append(StratifiedView(dimension, variant.name, False, None, str(error)))
                continue
            views.append(StratifiedView(dimension, variant.name, True, result))
    return views


# --- notes -------------------------------------------------------------------------------------


def _outcome_kinds(plan: EvaluationPlan | None, primary: str) -> tuple[str, ...]:
    planned = [primary]
    if plan:
        planned += list(plan.secondary_outcomes) + list(plan.guardrail_outcomes)
    planned += list(FUNNEL)
    return tuple(dict.fromkeys(str(k) for k in planned))


def _comparator_arm(arms: list, plan: EvaluationPlan | None):  # type: ignore[no-untyped-def]
    wanted = ("holdout",) if plan and plan.comparator_kind == ComparatorKind.HOLDOUT else None
    if plan and wanted is None:
        wanted = ("comparator",)
    candidates = [a for a in arms if a.kind in (wanted or ("comparator", "holdout"))]
    return candidates[0] if candidates else None


def _notes(plan, unit: str, counts: Counts, policy: DisclosurePolicy) -> list[str]:  # type: ignore[no-untyped-def]
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
    if unit == UnitOfAnalysis.RECIPIENT and not counts.subjects:
        notes.append("Unique-subject totals are not available yet: proportions use exposures.")
    if unit == UnitOfAnalysis.RECIPIENT:
        notes.append("A pseudonym key lasts one month: a person seen in two months counts "
                     "twice in unique subjects.")
    if unit == UnitOfAnalysis.CLUSTER:
        notes.append("Unit is a cluster: intervals treat exposures as independent and are "
                     "too narrow when clusters differ; read the stratified results.")
    if unit == UnitOfAnalysis.DAY:
        notes.append("Unit is the day (time-rotated design): rate-ratio intervals are widened "
                     "by the day-to-day overdispersion (quasi-Poisson).")
    notes.append("Stratified (Mantel-Haenszel) results use exposures as denominators.")
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
    from evaluation.services import plan_expected_hash, plan_hash

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


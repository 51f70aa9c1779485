"""The campaign report: every figure computed from rolled-up counts, every count disclosed.

``campaign_report(campaign=, policy=)`` reads only ``DailyCell`` and ``ArmSubjectTotal`` (and
the plan), runs the statistics in ``evaluation.stats`` on exact counts, then passes every
count it shows through ``core.disclosure``. An estimate (rate, interval, p-value) is
shown only when every count it is built from is shown, so a hidden count cannot be
recovered from it. Renderers (admin page, CSV, JSON, charts) read this object only.

Disclosure across tables
------------------------
The arms tables (exposures, subjects, outcomes by kind, with "all arms" totals) are disclosed
as tables with ``disclose``. Breakdowns (by day, by country, by channel) are separate tables
whose column totals are the arm totals already published; they are published without row
totals, and an arm's whole column is hidden when its total is hidden in either place, so no
hidden value can be recovered by combining two tables.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from django.db.models import Q, Sum
from django.utils import timezone

from core.bounds import stored_day_range, stored_range
from core.disclosure import (
    CountTable,
    DisclosedCell,
    DisclosurePolicy,
    disclose,
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


# --- the builder -----------------------------------------------------------------------------


def campaign_report(*, campaign, policy: DisclosurePolicy | None = None,  # type: ignore[no-untyped-def]
                    with_population: bool = True) -> CampaignReport:
    """Build the disclosed report for one campaign from its rollups."""
    policy = policy or DisclosurePolicy()
    plan = EvaluationPlan.objects.filter(campaign=campaign).first()
    arms = list(campaign.arms.all().order_by("pk"))
    counts = read_counts(campaign)
    primary = str(plan.primary_outcome if plan else OutcomeKind.HELP_CLICK)
    kinds = _outcome_kinds(plan, primary)
    unit = plan.unit_of_analysis if plan else UnitOfAnalysis.SESSION
    comparator = _comparator_arm(arms, plan)
    notes = _notes(plan, unit, counts, policy) + _out_of_range_notes(campaign, policy)

    rows, totals = _arm_rows(arms, counts, kinds, unit, policy)
    report = CampaignReport(
        campaign_id=campaign.pk, campaign_name=campaign.name, generated_at=timezone.now(),
        policy=policy, plan=_plan_view(plan), primary_outcome=primary, outcome_kinds=kinds,
        comparator=comparator.name if comparator else None, arms=rows, totals=totals,
        comparisons=[], secondary_comparisons=[], funnel=_funnel(rows, totals, counts),
        srm=_srm(arms, rows, counts, campaign), progress=None, daily=[], strata=[],
        stratified=[], notes=notes,
    )
    if comparator is not None:
        _compare(report, arms, comparator, counts, plan, unit)
        report.progress = _progress(report, arms, comparator, counts, plan, unit)
        report.stratified = _stratified(report, arms, comparator, counts, primary)
    report.daily = _daily(report, arms, counts, primary, policy)
    report.strata = _strata(report, arms, counts, primary, policy)
    if with_population:
        from evaluation.population import campaign_population

        report.population = campaign_population(campaign=campaign, policy=policy)
    return report


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


# --- arms, rates and the funnel ---------------------------------------------------------------


def _trials(arm_id: int, counts: Counts, unit: str) -> int:
    if unit == UnitOfAnalysis.RECIPIENT and arm_id in counts.subjects:
        return counts.subjects[arm_id].unique_subjects
    return counts.by_arm.get(arm_id, {}).get("exposures", 0)


def _events(arm_id: int, kind: str, counts: Counts, unit: str) -> int:
    if unit == UnitOfAnalysis.RECIPIENT and arm_id in counts.subjects:
        return int(counts.subjects[arm_id].subjects_with_outcome.get(kind, 0))
    return counts.by_arm.get(arm_id, {}).get(kind, 0)


def _arm_rows(arms: list, counts: Counts, kinds: tuple[str, ...], unit: str,  # type: ignore[no-untyped-def]
              policy: DisclosurePolicy) -> tuple[list[ArmRow], ArmRow | None]:
    if not arms:
        return [], None
    labels = tuple(a.name for a in arms)
    # Rates and intervals beside each arm give its counts away exactly (see core.disclosure).
    exposures = disclose(CountTable(labels, ("exposures",), [
        [counts.by_arm.get(a.pk, {}).get("exposures", 0)] for a in arms]), policy=policy,
        exact_published=True)
    subjects = disclose(CountTable(labels, ("subjects",), [
        [counts.subjects[a.pk].unique_subjects if a.pk in counts.subjects else 0]
        for a in arms]), policy=policy, exact_published=True)
    # One table per outcome kind: kinds are never summed in any output, so only the
    # "all arms" total of each kind can be used to work back to a hidden cell.
    outcomes = {k: disclose(CountTable(labels, (k,), [
        [counts.by_arm.get(a.pk, {}).get(k, 0)] for a in arms]), policy=policy,
        exact_published=True) for k in kinds}
    rows = []
    for i, arm in enumerate(arms):
        exposed = exposures.cells[i][0]
        shown = {k: outcomes[k].cells[i][0] for k in kinds}
        rows.append(ArmRow(
            arm.pk, arm.name, arm.kind, float(arm.weight), exposed, subjects.cells[i][0], shown,
            {k: _rate(counts.by_arm.get(arm.pk, {}).get(k, 0),
                      counts.by_arm.get(arm.pk, {}).get("exposures", 0),
                      shown[k], exposed) for k in kinds}))
    total_exposures = sum(c.get("exposures", 0) for c in counts.by_arm.values())
    totals_shown = {k: outcomes[k].column_totals[0] for k in kinds}
    totals = ArmRow(0, "All arms", "", 0.0, exposures.column_totals[0],
                    subjects.column_totals[0], totals_shown,
                    {k: _rate(sum(c.get(k, 0) for c in counts.by_arm.values()),
                              total_exposures, totals_shown[k], exposures.column_totals[0])
                     for k in kinds})
    return rows, totals


def _rate(events: int, exposures: int, shown_events: DisclosedCell,
          shown_exposures: DisclosedCell) -> RateView | None:
    if shown_events.suppressed or shown_exposures.suppressed or exposures <= 0:
        return None
    estimate = stats.poisson_rate(events, exposures)
    return RateView(estimate.rate, estimate.lower, estimate.upper, estimate.method)


def _funnel(rows: list[ArmRow], totals: ArmRow | None,
            counts: Counts) -> dict[str, list[FunnelStage]]:
    """Exposure -> information request -> help click -> helpline contact, per arm."""
    every = {}
    for row in rows:
        every[row.name] = (row, counts.by_arm.get(row.arm_id, {}))
    if totals is not None:
        summed = {m: sum(c.get(m, 0) for c in counts.by_arm.values())
                  for m in ("exposures", *FUNNEL)}
        every[totals.name] = (totals, summed)
    funnel = {}
    for name, (row, exact) in every.items():
        stages = [FunnelStage("exposures", row.exposures, None)]
        previous = "exposures"
        for kind in FUNNEL:
            both_shown = not (stages[-1].count.suppressed or row.outcomes[kind].suppressed)
            conversion = (exact.get(kind, 0) / exact[previous]
                          if both_shown and exact.get(previous) else None)
            stages.append(FunnelStage(kind, row.outcomes[kind], conversion))
            previous = kind
        funnel[name] = stages
    return funnel


# --- comparisons -----------------------------------------------------------------------------


def _shown(row: ArmRow, kind: str, basis: str) -> bool:
    trials = row.subjects if basis == "subjects" else row.exposures
    return not (row.outcomes[kind].suppressed or trials.suppressed or row.exposures.suppressed)


def _compare(report: CampaignReport, arms: list, comparator, counts: Counts,  # type: ignore[no-untyped-def]
             plan: EvaluationPlan | None, unit: str) -> None:
    rows = {r.arm_id: r for r in report.arms}
    variants = [a for a in arms if a.kind == "variant"]
    basis = "subjects" if unit == UnitOfAnalysis.RECIPIENT and counts.subjects else "exposures"
    primary = [_comparison(a, comparator, report.primary_outcome, counts, rows, plan, unit,
                           basis) for a in variants]
    family = stats.holm({c.variant: c.test.p_value for c in primary if c.test is not None},
                        alpha=plan.alpha if plan else 0.05).by_label()
    report.comparisons = [
        _with_adjustment(c, family.get(c.variant)) for c in primary]
    for kind in report.outcome_kinds[1:]:
        report.secondary_comparisons += [
            _comparison(a, comparator, kind, counts, rows, plan, unit, basis, rates_only=True)
            for a in variants]


def _with_adjustment(c: Comparison, adjusted: stats.AdjustedPValue | None) -> Comparison:
    if not c.shown or adjusted is None:
        return c
    from dataclasses import replace

    return replace(c, adjusted_p_value=adjusted.adjusted_p_value, significant=adjusted.reject)


def _comparison(variant, comparator, kind: str, counts: Counts, rows: dict,  # type: ignore[no-untyped-def]
                plan, unit: str, basis: str, *, rates_only: bool = False) -> Comparison:
    v_row, c_row = rows[variant.pk], rows[comparator.pk]
    head = {"outcome": kind, "variant": variant.name, "comparator": comparator.name,
            "basis": basis}
    v_exp = counts.by_arm.get(variant.pk, {}).get("exposures", 0)
    c_exp = counts.by_arm.get(comparator.pk, {}).get("exposures", 0)
    v_trials, c_trials = _trials(variant.pk, counts, unit), _trials(comparator.pk, counts, unit)
    if min(v_exp, c_exp, v_trials, c_trials) == 0:
        return Comparison(**head, shown=False, note="an arm has no exposures yet")
    if not (_shown(v_row, kind, basis) and _shown(c_row, kind, basis)):
        # Still compute the test so Holm sees the whole family; show nothing of it.
        test = None if rates_only else _proportions(variant, comparator, kind, counts, unit,
                                                    v_trials, c_trials).test
        return Comparison(**head, shown=False, note=HIDDEN, test=test)
    v_k = counts.by_arm[variant.pk].get(kind, 0)
    c_k = counts.by_arm[comparator.pk].get(kind, 0)
    rates = stats.compare_rates(v_k, v_exp, c_k, c_exp)
    rate_ratio = rates.rate_ratio
    if unit == UnitOfAnalysis.DAY:
        rate_ratio = _quasi_poisson(rate_ratio, counts, (variant.pk, comparator.pk), kind)
    result = {"rate_ratio": rate_ratio, "rate_difference": rates.rate_difference,
              "rate_test": rates.test}
    if not rates_only:
        p = _proportions(variant, comparator, kind, counts, unit, v_trials, c_trials)
        result.update(variant_proportion=p.variant, comparator_proportion=p.comparator,
                      risk_difference=p.risk_difference, risk_ratio=p.risk_ratio,
                      odds_ratio=p.odds_ratio, test=p.test)
        if plan is not None and plan.sequential:
            result["sequential"] = stats.sequential_difference_interval(
                p.variant.events, p.variant.trials, p.comparator.events, p.comparator.trials,
                alpha=plan.alpha, tuning_n=max(2 * (plan.required_sample_per_arm or 2500), 1))
    return Comparison(**head, shown=True, **result)


def _proportions(variant, comparator, kind, counts, unit, v_trials, c_trials):  # type: ignore[no-untyped-def]
    # An exposure can be followed by two outcomes of a kind; a proportion counts it once.
    v_k = min(_events(variant.pk, kind, counts, unit), v_trials)
    c_k = min(_events(comparator.pk, kind, counts, unit), c_trials)
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


def _srm(arms: list, rows: list[ArmRow], counts: Counts, campaign) -> SrmView | None:  # type: ignore[no-untyped-def]
    if len(arms) < 2:
        return None
    weights = [float(a.weight) or 1.0 for a in arms]
    total_weight = sum(weights)
    shares = {a.name: w / total_weight for a, w in zip(arms, weights, strict=True)}
    observed = [counts.by_arm.get(a.pk, {}).get("exposures", 0) for a in arms]
    days = sorted({d for (_, d) in counts.by_arm_day})
    daily = [[counts.by_arm_day.get((a.pk, d), {}).get("exposures", 0) for a in arms]
             for d in days]
    rotated = getattr(campaign, "design", "") == "time_rotated"
    result = stats.sample_ratio_mismatch_by_day(daily or [observed], weights)
    flagged = () if rotated else tuple(days[i] for i in result.flagged_days)
    note = ("Chi-square goodness of fit against the planned weights; warn at "
            f"p < {stats.SRM_THRESHOLD}.")
    if rotated:
        note += " Time-rotated design: one arm per day, so only the pooled check applies."
    overall = result.overall
    if any(r.exposures.suppressed for r in rows):
        return SrmView(overall.verdict, None, None, shares, flagged, len(days),
                       note + " Statistics hidden: an arm's exposures are suppressed.")
    return SrmView(overall.verdict, overall.p_value, overall.statistic, shares, flagged,
                   len(days), note)


def _progress(report: CampaignReport, arms: list, comparator, counts: Counts,  # type: ignore[no-untyped-def]
              plan: EvaluationPlan | None, unit: str) -> ProgressView | None:
    if plan is None or not plan.required_sample_per_arm:
        return None
    basis = report.comparisons[0].basis if report.comparisons else "exposures"
    required = plan.required_sample_per_arm
    fractions: dict[str, float | None] = {}
    for row, arm in zip(report.arms, arms, strict=True):
        cell = row.subjects if basis == "subjects" else row.exposures
        fractions[arm.name] = None if cell.suppressed else _trials(arm.pk, counts, unit) / required
    # The holdout is sized by its own (smaller) weight and shows no message: measuring it
    # against the per-arm target would keep progress low for the whole campaign.
    counted = {arm.name for arm in arms if arm.kind != "holdout"} or set(fractions)
    shown = [f for name, f in fractions.items() if name in counted and f is not None]
    if len(shown) < len(counted):
        return ProgressView(required, basis, fractions, None, None)
    fraction = min(shown) if shown else 0.0
    return ProgressView(required, basis, fractions, fraction, fraction >= 1)


# --- breakdowns and strata ---------------------------------------------------------------------


def _breakdown(title: str, labels: list[str], arms: list, values: list[list[int]],  # type: ignore[no-untyped-def]
               arm_totals: list[DisclosedCell], policy: DisclosurePolicy) -> Breakdown:
    if not labels:
        return Breakdown(title, (), tuple(a.name for a in arms), ())
    table = disclose(CountTable(tuple(labels), tuple(a.name for a in arms), values),
                     policy=policy)
    hide = {j for j, (total, published) in enumerate(
        zip(table.column_totals, arm_totals, strict=True))
        if policy.enabled and (total.suppressed or published.suppressed
                               or total.display != published.display)}
    hidden = DisclosedCell(None, "[c]", True, "complementary")
    cells = tuple(tuple(hidden if j in hide else c for j, c in enumerate(row))
                  for row in table.cells)
    return Breakdown(title, tuple(labels), tuple(a.name for a in arms), cells)


def _daily(report: CampaignReport, arms: list, counts: Counts, primary: str,  # type: ignore[no-untyped-def]
           policy: DisclosurePolicy) -> list[Breakdown]:
    days = sorted({d for (_, d) in counts.by_arm_day})
    labels = [d.isoformat() for d in days]

    def table(measure: str) -> list[list[int]]:
        return [[counts.by_arm_day.get((a.pk, d), {}).get(measure, 0) for a in arms]
                for d in days]

    return [
        _breakdown("exposures by day", labels, arms, table("exposures"),
                   [r.exposures for r in report.arms], policy),
        _breakdown(f"{primary} by day", labels, arms, table(primary),
                   [r.outcomes[primary] for r in report.arms], policy),
    ]


def _strata(report: CampaignReport, arms: list, counts: Counts, primary: str,  # type: ignore[no-untyped-def]
            policy: DisclosurePolicy) -> list[Breakdown]:
    breakdowns = []
    for dimension, source in (("country", counts.by_arm_country),
                              ("channel", counts.by_arm_channel)):
        levels = sorted({level for (_, level) in source})
        labels = [level or "(unknown)" for level in levels]
        for measure, totals in (("exposures", [r.exposures for r in report.arms]),
                                (primary, [r.outcomes[primary] for r in report.arms])):
            values = [[source.get((a.pk, level), {}).get(measure, 0) for a in arms]
                      for level in levels]
            breakdowns.append(_breakdown(f"{measure} by {dimension}", labels, arms, values,
                                         totals, policy))
    return breakdowns


def _stratified(report: CampaignReport, arms: list, comparator, counts: Counts,  # type: ignore[no-untyped-def]
                primary: str) -> list[StratifiedView]:
    rows = {r.arm_id: r for r in report.arms}
    views = []
    for dimension, source in (("country", counts.by_arm_country),
                              ("channel", counts.by_arm_channel)):
        levels = sorted({level for (_, level) in source})
        for variant in (a for a in arms if a.kind == "variant"):
            if not (_shown(rows[variant.pk], primary, "exposures")
                    and _shown(rows[comparator.pk], primary, "exposures")):
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


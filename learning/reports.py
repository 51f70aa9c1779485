"""What the modules achieve: knowledge gain (paired pre/post scores) and the completion funnel.

Knowledge gain: each learner who answered both checks gives one pair (share of items right
before, after; the items are the same). Per module and per audience the report gives the mean
scores, the median change with its distribution-free interval (order statistics of the sign
test, at least 95% coverage), the share who improved with its exact Clopper-Pearson interval,
the exact sign-test p-value and the Wilcoxon signed-rank p-value (scipy; exact for small
samples without ties). The pair counts pass `core.disclosure.Table` as one table (per module,
per audience, overall, with the sums declared) and each row's statistics are derived values of
its count (declared as revealing it exactly), so no hidden count follows from the totals or
the statistics, and the statistics of a hidden count are hidden.

Funnel: enrolled -> started (a lesson done or the first check answered) -> finished the
lessons -> completed, by campaign and arm (learners who came through an invitation), each stage
one disclosed table with each stage's total (stages are never summed); consecutive stages are
declared as overlapping groups, so the people who stopped between two stages (a difference a
reader could take) are protected like a published small count.
"""

from __future__ import annotations

import itertools
import math
from collections import defaultdict
from dataclasses import dataclass, field
from statistics import mean, median

from django.db.models import Count, Q
from scipy import stats as scipy_stats

from core.disclosure import DisclosedCell, DisclosurePolicy, Table
from learning.models import Answer, Audience, Learner, Module, Phase

CONFIDENCE = 0.95
FUNNEL_STAGES = ("enrolled", "started", "lessons_finished", "completed")
STAGE_LABELS = {"enrolled": "Enrolled", "started": "Started",
                "lessons_finished": "Finished the lessons", "completed": "Completed"}


# --- paired statistics (pure) ---------------------------------------------------------------

@dataclass(frozen=True)
class PairedResult:
    n: int
    pre_mean: float
    post_mean: float
    median_change: float
    median_interval: tuple[float, float] | None  # None: too few pairs for 95% coverage
    improved: int
    worsened: int
    improved_share: float | None
    improved_interval: tuple[float, float] | None
    sign_test_p: float | None
    wilcoxon_p: float | None


def _median_interval(changes: list[float]) -> tuple[float, float] | None:
    """Order-statistic interval for the median: [x(k), x(n-k+1)] with P(B < k) <= alpha/2."""
    n = len(changes)
    ordered = sorted(changes)
    alpha_half = (1 - CONFIDENCE) / 2
    k = int(scipy_stats.binom.ppf(alpha_half, n, 0.5))
    while k > 0 and scipy_stats.binom.cdf(k - 1, n, 0.5) > alpha_half:
        k -= 1
    if k < 1:
        return None
    return ordered[k - 1], ordered[n - k]


def paired_change(pairs: list[tuple[float, float]]) -> PairedResult | None:
    """Statistics of (pre, post) scores; None without pairs."""
    if not pairs:
        return None
    changes = [post - pre for pre, post in pairs]
    improved = sum(c > 0 for c in changes)
    worsened = sum(c < 0 for c in changes)
    untied = improved + worsened
    share = interval = sign_p = wilcoxon_p = None
    if untied:
        test = scipy_stats.binomtest(improved, untied, 0.5)
        sign_p = float(test.pvalue)
        share = improved / untied
        ci = test.proportion_ci(confidence_level=CONFIDENCE, method="exact")
        interval = (float(ci.low), float(ci.high))
        nonzero = [c for c in changes if c != 0]
        wilcoxon_p = float(scipy_stats.wilcoxon(nonzero, zero_method="wilcox").pvalue)
    return PairedResult(
        n=len(pairs), pre_mean=mean(p for p, _ in pairs), post_mean=mean(q for _, q in pairs),
        median_change=float(median(changes)), median_interval=_median_interval(changes),
        improved=improved, worsened=worsened, improved_share=share,
        improved_interval=interval, sign_test_p=sign_p, wilcoxon_p=wilcoxon_p)


# --- reading the pairs ------------------------------------------------------------------------

def learner_scores(learners: list[int]) -> dict[int, dict[str, float]]:
    """{learner id: {phase: share correct}} for the given learners."""
    rows = (Answer.objects.filter(learner_id__in=learners).values("learner_id", "phase")
            .annotate(total=Count("id"), right=Count("id", filter=Q(correct=True))))
    scores: dict[int, dict[str, float]] = defaultdict(dict)
    for row in rows:
        scores[row["learner_id"]][row["phase"]] = row["right"] / row["total"]
    return scores


def _pairs_by_module(learners: list[Learner]) -> dict[int, list[tuple[float, float]]]:
    scores = learner_scores([learner.pk for learner in learners])
    pairs: dict[int, list[tuple[float, float]]] = defaultdict(list)
    for learner in learners:
        score = scores.get(learner.pk, {})
        if Phase.PRE in score and Phase.POST in score:
            pairs[learner.module_id].append((score[Phase.PRE], score[Phase.POST]))
    return pairs


# --- the report -------------------------------------------------------------------------------

@dataclass(frozen=True)
class GainRow:
    label: str
    audience: str
    pairs: DisclosedCell
    result: PairedResult | None  # None when the count is hidden or there are no pairs


@dataclass(frozen=True)
class FunnelRow:
    campaign: str
    arm: str
    stages: dict[str, DisclosedCell]


@dataclass
class LearningReport:
    policy: DisclosurePolicy
    by_module: list[GainRow] = field(default_factory=list)
    by_audience: list[GainRow] = field(default_factory=list)
    all_modules: GainRow | None = None
    funnel: list[FunnelRow] = field(default_factory=list)
    funnel_totals: dict[str, DisclosedCell] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def _gain(modules: list[Module], learners: list[Learner],
          policy: DisclosurePolicy) -> tuple[list[GainRow], list[GainRow], GainRow | None]:
    """One disclosure table: pairs per module, their audience totals and the overall total;
    each row's statistics are derived values of its count (they reveal it exactly)."""
    pairs = _pairs_by_module(learners)
    if not modules:
        return [], [], None
    audiences = sorted({m.audience for m in modules})
    joined = {a: [p for m in modules if m.audience == a for p in pairs.get(m.pk, [])]
              for a in audiences}
    table = Table(policy)
    for m in modules:
        table.count(("module", m.pk), len(pairs.get(m.pk, [])))
    for a in audiences:
        table.total(("audience", a), [("module", m.pk) for m in modules if m.audience == a])
    table.total(("all",), [("audience", a) for a in audiences])
    rows: list[tuple[tuple, str, str, list]] = [
        *((("module", m.pk), m.title, m.get_audience_display(), pairs.get(m.pk, []))
          for m in modules),
        *((("audience", a), Audience(a).label, Audience(a).label, joined[a])
          for a in audiences),
        (("all",), "All modules", "", [p for a in audiences for p in joined[a]])]
    for key, _, _, values in rows:
        table.derived(("gain", key), paired_change(values), depends_on=[key])
    published = table.publish()
    made = [GainRow(label=label, audience=audience, pairs=published[key],
                    result=published.value(("gain", key))) for key, label, audience, _ in rows]
    return made[:len(modules)], made[len(modules):-1], made[-1]


def _stage_counts(learners: list[Learner]) -> dict[int, dict[str, bool]]:
    ids = [learner.pk for learner in learners]
    lessons_per_module = dict(Module.objects.filter(learners__in=ids).annotate(
        n=Count("lessons", distinct=True)).values_list("pk", "n"))
    done = dict(Learner.objects.filter(pk__in=ids).annotate(
        n=Count("progress", distinct=True)).values_list("pk", "n"))
    answered_pre = set(Answer.objects.filter(learner_id__in=ids, phase=Phase.PRE)
                       .values_list("learner_id", flat=True))
    return {learner.pk: {
        "enrolled": True,
        "started": done.get(learner.pk, 0) > 0 or learner.pk in answered_pre,
        "lessons_finished": done.get(learner.pk, 0) >= lessons_per_module.get(
            learner.module_id, 0) > 0,
        "completed": learner.completed_at is not None} for learner in learners}


def _funnel(learners: list[Learner], policy: DisclosurePolicy,
            ) -> tuple[list[FunnelRow], dict[str, DisclosedCell]]:
    """Learners at each stage per campaign arm, with each stage's total over the arms (stages
    are nested, never summed into one another)."""
    invited = [learner for learner in learners if learner.campaign_id]
    keys = sorted({(learner.campaign_id, learner.arm_id) for learner in invited},
                  key=lambda k: (k[0], k[1] or 0))
    if not keys:
        return [], {}
    names = {learner.campaign_id: learner.campaign.name for learner in invited}
    arms = {learner.arm_id: learner.arm.name for learner in invited if learner.arm_id}
    flags = _stage_counts(invited)
    table = Table(policy)
    for key in keys:
        for stage in FUNNEL_STAGES:
            table.count((stage, key), sum(1 for learner in invited if flags[learner.pk][stage]
                                          and (learner.campaign_id, learner.arm_id) == key))
    for stage in FUNNEL_STAGES:
        table.total((stage, "all"), [(stage, key) for key in keys])
    # Consecutive stages share people: the difference of two published stages is the
    # number who stopped between them. Declared as overlaps, those never-published
    # differences are protected like any small count (core.disclosure.Table.overlap).
    for key in [*keys, "all"]:
        people = [learner for learner in invited
                  if key == "all" or (learner.campaign_id, learner.arm_id) == key]
        for previous, stage in itertools.pairwise(FUNNEL_STAGES):
            both = sum(1 for learner in people
                       if flags[learner.pk][previous] and flags[learner.pk][stage])
            table.overlap((previous, key), (stage, key), both=both)
    published = table.publish()
    rows = [FunnelRow(campaign=names[c], arm=arms.get(a, "-"),
                      stages={s: published[(s, (c, a))] for s in FUNNEL_STAGES})
            for c, a in keys]
    return rows, {s: published[(s, "all")] for s in FUNNEL_STAGES}


def learning_report(*, modules: list[Module], policy: DisclosurePolicy,
                    campaign_id: int | None = None) -> LearningReport:
    """The disclosed report for `modules` (one organisation's), optionally one campaign's."""
    learners = Learner.objects.filter(module__in=modules).select_related("campaign", "arm")
    if campaign_id is not None:
        learners = learners.filter(campaign_id=campaign_id)
    learners = list(learners)
    report = LearningReport(policy=policy)
    report.by_module, report.by_audience, report.all_modules = _gain(modules, learners, policy)
    report.funnel, report.funnel_totals = _funnel(learners, policy)
    report.notes = [
        f"Counts from 1 to {policy.threshold - 1} are shown as '{policy.small_symbol}', others "
        f"rounded to the nearest {policy.rounding_base}; statistics of a hidden count are "
        "hidden." if policy.enabled else "Disclosure control is OFF (internal testing only).",
        "Knowledge gain pairs each learner's first answers before and after the module "
        "(the same items). Median change: distribution-free 95% interval (sign test); share "
        "improved: exact Clopper-Pearson 95% interval among learners whose score changed; "
        "p-values: exact sign test and Wilcoxon signed-rank.",
    ]
    return report


def fmt(value: float | None, digits: int = 2) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return f"{value:.{digits}f}"


def gain_cells(row: GainRow) -> list[str]:
    """Display strings for a gain row (the CSV and the pages share them)."""
    r = row.result
    if r is None:
        return [row.label, row.audience, row.pairs.display] + ["-"] * 7
    median_ci = f"{fmt(r.median_interval[0])} to {fmt(r.median_interval[1])}" \
        if r.median_interval else "-"
    share_ci = f"{fmt(r.improved_interval[0])} to {fmt(r.improved_interval[1])}" \
        if r.improved_interval else "-"
    return [row.label, row.audience, row.pairs.display, fmt(r.pre_mean), fmt(r.post_mean),
            fmt(r.median_change), median_ci, f"{fmt(r.improved_share)} ({share_ci})",
            fmt(r.sign_test_p, 4), fmt(r.wilcoxon_p, 4)]


GAIN_HEADER = ["module or audience", "audience", "pairs", "mean score before",
               "mean score after", "median change", "median change 95% CI",
               "share improved (95% CI)", "sign test p", "Wilcoxon p"]

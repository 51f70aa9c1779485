"""The one disclosure table of a report: every count, the sums linking them, every estimate."""

from __future__ import annotations

import itertools

from core.disclosure import Table
from evaluation.models import UnitOfAnalysis
from evaluation.reports.context import ReportContext
from evaluation.reports.views import FUNNEL, HELPLINE_QUEUE


def _measures(ctx: ReportContext) -> tuple[str, ...]:
    return ("exposures", "subjects", *ctx.kinds)


def _arm_cost(ctx: ReportContext, arm_id: int, measure: str) -> float:
    """What hiding an arm's figure loses: most for the primary outcome of a large arm, least
    for a kind only described (the helpline queue's, unless planned), so that protecting a
    small one hides its neighbours before a compared outcome. An "all arms" margin costs 1,
    so it is hidden before any arm's figure is."""
    weight = (4 if measure == ctx.primary else 2 if measure == "exposures"
              else 1 if measure in ctx.compared or measure == "subjects" else 0.5)
    return weight * (ctx.count(arm_id, "exposures") + 1) + ctx.count(arm_id, measure)


def _disclosure_table(ctx: ReportContext) -> Table:
    table = Table(ctx.policy)
    for measure in _measures(ctx):
        for arm in ctx.arms:
            table.count(("arm", measure, arm.pk), ctx.count(arm.pk, measure),
                        cost=_arm_cost(ctx, arm.pk, measure))
        table.total(("all", measure), [("arm", measure, a.pk) for a in ctx.arms], cost=1)
    if ctx.helpline:
        for arm in ctx.arms:
            _helpline_queue(ctx, table, arm.pk)
    if ctx.basis == "subjects":  # events of a per-person analysis: people with an outcome
        for arm in ctx.arms:
            _people(ctx, table, arm.pk)
    for dimension, source, levels in ctx.breakdowns():
        for measure in dict.fromkeys(("exposures", ctx.primary)):
            for arm in ctx.arms:
                parts = [table.count(("bd", dimension, measure, level, arm.pk),
                                     source.get((arm.pk, level), {}).get(measure, 0))
                         for level in levels]
                table.sums_to(("arm", measure, arm.pk), parts)
    _declare_derived(ctx, table)
    return table


def _helpline_queue(ctx: ReportContext, table: Table, arm_id: int) -> None:
    """Answered and abandoned are some of the contacts (one of each at most per conversation,
    attributed as its contact is): a reader knows that contacts = answered + abandoned + the
    rest (still waiting, ended unanswered, or contacts reported by a helpline not hosted
    here), so the rest is a latent cell, protected like any small count. Not declared while
    the rollup has counted an answer before its contact (the parts would exceed the total)."""
    contact = ("arm", "helpline_contact", arm_id)
    parts = [("arm", kind, arm_id) for kind in HELPLINE_QUEUE]
    rest = table.exact(contact) - sum(table.exact(p) for p in parts)
    if rest >= 0:
        table.sums_to(contact, [*parts, table.latent(("helpline rest", arm_id), rest)])


def _people(ctx: ReportContext, table: Table, arm_id: int) -> None:
    """People with an outcome, and what a reader knows of them: no more than the outcomes,
    and with the people without it (never published) they make up the people exposed. The
    people without the outcome are the other cell of the 2x2 table: when nearly everyone
    had it, that cell is small and is protected like any small count. Only for the kinds
    compared (the comparisons are what read them): a kind only described (the helpline
    queue's, unless planned) publishes no people count to protect."""
    subjects = ("arm", "subjects", arm_id)
    for kind in ctx.compared:
        people = table.count(("people", kind, arm_id), ctx.events(arm_id, kind))
        if table.exact(people) <= table.exact(("arm", kind, arm_id)):
            table.sums_to(("arm", kind, arm_id), [people], complete=False)
        without = table.exact(subjects) - table.exact(people)
        if without >= 0:
            table.sums_to(subjects, [people, table.latent(("no outcome", kind, arm_id),
                                                            without)])


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
        for previous, kind in funnel_steps(ctx):
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
        for kind in ctx.compared:
            table.derived(("comparison", kind, variant.pk), None,
                          depends_on=_comparison_cells(ctx, variant, kind))
        for dimension, _, levels in ctx.breakdowns()[1:]:
            table.derived(("stratified", dimension, variant.pk), None, depends_on=[
                ("bd", dimension, m, level, a.pk) for m in ("exposures", ctx.primary)
                for level in levels for a in (variant, ctx.comparator)])


def funnel_steps(ctx: ReportContext) -> list[tuple[str, str]]:
    """(the stage a conversion is a share of, the stage): each funnel stage of the previous
    one, the helpline queue's stages of helpline_contact."""
    steps = list(itertools.pairwise(["exposures", *FUNNEL]))
    return steps + [("helpline_contact", kind) for kind in ctx.funnel if kind in HELPLINE_QUEUE]


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

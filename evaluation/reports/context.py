"""Reading a campaign's rolled-up counts once, into the ``ReportContext`` every step reads."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

from django.db.models import Sum

from core.bounds import stored_day_range
from core.disclosure import DisclosurePolicy
from core.vocabulary import OutcomeKind
from evaluation.models import (
    AnalysisMethod,
    ArmSubjectTotal,
    ComparatorKind,
    DailyCell,
    EvaluationPlan,
    UnitOfAnalysis,
)
from evaluation.reports.views import FUNNEL, HELPLINE_QUEUE

# Plans whose unit is a person: analysed per person when the person totals exist.
PERSON_UNITS = (UnitOfAnalysis.SESSION, UnitOfAnalysis.RECIPIENT)

# Whether a campaign signposts a helpline hosted here (helpline.selectors), registered by the
# wiring (outreach/apps.py) so that evaluation imports no helpline: the report then shows what
# became of its helpline contacts (HELPLINE_QUEUE). Each check is called with the campaign and
# answers from configuration only (never from counts of people).
HelplineCheck = Callable[..., bool]
SIGNPOSTS_HELPLINE: list[HelplineCheck] = []


def signposts_helpline_register(check: HelplineCheck) -> None:
    if check not in SIGNPOSTS_HELPLINE:
        SIGNPOSTS_HELPLINE.append(check)


def signposts_helpline(campaign) -> bool:  # type: ignore[no-untyped-def]
    return any(check(campaign) for check in SIGNPOSTS_HELPLINE)


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
    helpline: bool = False  # the campaign signposts a helpline hosted here

    @property
    def funnel(self) -> tuple[str, ...]:
        """The funnel's stages after exposures; the helpline queue's beside helpline_contact."""
        return (*FUNNEL, *HELPLINE_QUEUE) if self.helpline else FUNNEL

    @property
    def compared(self) -> tuple[str, ...]:
        """Kinds compared between arms: the primary first, then the plan's secondary and
        guardrail outcomes and the funnel's. The helpline queue's kinds are described (counts,
        rates, funnel) but compared only when the plan names them, so abandoning the queue is
        never read as one more outcome to raise (a plan may name it only as a guardrail)."""
        named = set(_planned(self.plan, self.primary))
        return tuple(k for k in self.kinds if k not in HELPLINE_QUEUE or k in named)

    @property
    def basis(self) -> str:
        """Denominator of proportions. The pseudonym is the unit of randomisation, so per
        person (people exposed at least once, people with at least one outcome) wherever the
        person totals exist; per exposure only for day or cluster designs, or before the
        totals exist (the report then says so)."""
        exposed = [a.pk for a in self.arms if self.count(a.pk, "exposures")]
        have = bool(exposed) and all(pk in self.counts.subjects for pk in exposed)
        return "subjects" if self.unit in PERSON_UNITS and have else "exposures"

    @property
    def mid_p(self) -> bool:
        """The plan chose mid-p exact methods for few events (evaluation.stats.rare)."""
        return bool(self.plan) and self.plan.analysis_method == AnalysisMethod.EXACT_MID_P

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
        """Events of a proportion: people with at least one outcome of ``kind`` (per-person
        basis), else outcomes. Never capped at the trials: see ``proportion_counts``."""
        if self.basis == "subjects":
            total = self.counts.subjects.get(arm_id)
            return int(total.subjects_with_outcome.get(kind, 0)) if total else 0
        return self.count(arm_id, kind)

    def proportion_counts(self, arm_ids: tuple[int, ...], kind: str
                          ) -> list[tuple[int, int]] | None:
        """(events, trials) per arm, or None when an arm has more events than trials (repeated
        outcomes per exposure): a proportion is then undefined and is not computed; capping
        the events at the trials would bias it."""
        pairs = [(self.events(a, kind), self.trials(a)) for a in arm_ids]
        return None if any(k > n for k, n in pairs) else pairs

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
    helpline = signposts_helpline(campaign)
    return ReportContext(
        campaign=campaign, policy=policy, plan=plan, arms=arms, counts=read_counts(campaign),
        primary=primary, kinds=_outcome_kinds(plan, primary, helpline=helpline),
        unit=plan.unit_of_analysis if plan else UnitOfAnalysis.SESSION,
        comparator=_comparator_arm(list(arms), plan), helpline=helpline)


def _planned(plan: EvaluationPlan | None, primary: str) -> list[str]:
    planned = [primary]
    if plan:
        planned += list(plan.secondary_outcomes) + list(plan.guardrail_outcomes)
    return [str(k) for k in planned]


def _outcome_kinds(plan: EvaluationPlan | None, primary: str, *,
                   helpline: bool = False) -> tuple[str, ...]:
    kinds = [*_planned(plan, primary), *FUNNEL, *(HELPLINE_QUEUE if helpline else ())]
    return tuple(dict.fromkeys(kinds))


def _comparator_arm(arms: list, plan: EvaluationPlan | None):  # type: ignore[no-untyped-def]
    wanted = ("holdout",) if plan and plan.comparator_kind == ComparatorKind.HOLDOUT else None
    if plan and wanted is None:
        wanted = ("comparator",)
    candidates = [a for a in arms if a.kind in (wanted or ("comparator", "holdout"))]
    return candidates[0] if candidates else None

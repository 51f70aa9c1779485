"""The campaign report's result types: what renderers (admin, JSON, CSV, charts) read."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from core.disclosure import DisclosedCell, DisclosurePolicy
from evaluation import stats

FUNNEL: tuple[str, ...] = ("info_requested", "help_click", "helpline_contact")
# Beside helpline_contact, for a campaign that signposts a helpline hosted here (the system
# records them; see ReportContext.helpline): what became of the contacts, each as a share of
# them. Described, never compared unless the plan names them (abandoned only as a guardrail).
HELPLINE_QUEUE: tuple[str, ...] = ("helpline_answered", "helpline_abandoned")
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
    conversion: float | None  # share of the stage named by `of`, when both are shown
    of: str | None = None  # the previous stage; helpline_contact for HELPLINE_QUEUE stages


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
    targets: dict[str, int] = field(default_factory=dict)  # trials each compared arm needs


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

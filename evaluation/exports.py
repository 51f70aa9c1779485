"""JSON and CSV forms of a disclosed report: the same figures the admin page shows.

Counts appear as their disclosed display string ("<10", "[c]", "1,235") and, for JSON, the
published integer or null. Nothing here sees an undisclosed count.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Callable
from dataclasses import is_dataclass
from datetime import date, datetime
from typing import Any

from core.disclosure import DisclosedCell
from evaluation.reports import ArmRow, Breakdown, CampaignReport, Comparison


def _number(value: float | None, digits: int = 6) -> float | str | None:
    if value is None:
        return None
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    if math.isnan(value):
        return None
    return float(f"{value:.{digits}g}")


def _cell(cell: DisclosedCell) -> dict[str, Any]:
    return {"value": cell.value, "display": cell.display, "suppressed": cell.suppressed}


def _plain(value: Any) -> Any:
    """Dataclasses, dates and floats to JSON-safe values (infinite limits as strings)."""
    if isinstance(value, DisclosedCell):
        return _cell(value)
    if is_dataclass(value) and not isinstance(value, type):
        # Field by field (not asdict) so nested DisclosedCells keep their own form.
        return {k: _plain(getattr(value, k)) for k in value.__dataclass_fields__}
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, float):
        return _number(value)
    return value


def _breakdown(b: Breakdown) -> dict[str, Any]:
    return {"title": b.title, "arms": list(b.arms),
            "rows": [{"label": label, "cells": [c.display for c in row]}
                     for label, row in zip(b.row_labels, b.cells, strict=True)]}


def report_as_dict(report: CampaignReport) -> dict[str, Any]:
    population = report.population
    return {
        "campaign": {"id": report.campaign_id, "name": report.campaign_name},
        "generated_at": report.generated_at.isoformat(),
        "disclosure": {"threshold": report.policy.threshold,
                       "rounding_base": report.policy.rounding_base,
                       "enabled": report.policy.enabled},
        "plan": _plain(report.plan),
        "primary_outcome": report.primary_outcome,
        "comparator": report.comparator,
        "arms": [_plain(row) for row in report.arms],
        "totals": _plain(report.totals),
        "comparisons": [_plain(c) for c in report.comparisons],
        "secondary_comparisons": [_plain(c) for c in report.secondary_comparisons],
        "funnel": _plain(report.funnel),
        "srm": _plain(report.srm),
        "progress": _plain(report.progress),
        "daily": [_breakdown(b) for b in report.daily],
        "strata": [_breakdown(b) for b in report.strata],
        "stratified": [_plain(s) for s in report.stratified],
        "population": None if population is None else {
            "kind": population.kind, "source": population.source, "note": population.note,
            "days": [d.isoformat() for d in population.days],
            "counts": [c.display for c in population.counts],
            "campaign_on": list(population.campaign_on),
            "its": _its(population.its)},
        "notes": list(report.notes),
    }


def _its(its: Any) -> dict[str, Any] | None:
    if its is None:
        return None
    return {"family": its.family, "rate_ratio": _plain(its.rate_ratio),
            "level_change": _plain(its.level_change), "dispersion": _number(its.dispersion),
            "days": its.days, "note": its.note}


# --- CSV -------------------------------------------------------------------------------------


def _fmt(value: float | None, digits: int = 4) -> str:
    if value is None:
        return ""
    if math.isinf(value):
        return "inf"
    if math.isnan(value):
        return ""
    return f"{value:.{digits}g}"


# Each CSV section is a list of columns: a header and how a row gives that column's text.
# A hidden comparison has no estimates, so its estimate columns come out blank by themselves.
Column = tuple[str, Callable[[Any], Any]]


def _estimate(name: str, part: str) -> Callable[[Comparison], str]:
    def text(c: Comparison) -> str:
        estimate = getattr(c, name)
        return "" if estimate is None else _fmt(getattr(estimate, part))
    return text


def _test(c: Comparison) -> Any:
    return c.test or c.rate_test


COMPARISON_COLUMNS: list[Column] = [
    ("outcome", lambda c: c.outcome),
    ("variant", lambda c: c.variant),
    ("comparator", lambda c: c.comparator),
    ("basis", lambda c: c.basis),
    ("status", lambda c: "shown" if c.shown else "hidden"),
    ("note", lambda c: c.note),
    *((header, _estimate(name, part))
      for name, prefix in (("risk_difference", "rd"), ("risk_ratio", "rr"),
                           ("odds_ratio", "or"), ("rate_ratio", "rate"))
      for header, part in ((name, "value"),
                           (f"{prefix}_lower", "lower"), (f"{prefix}_upper", "upper"))),
    ("p_value", lambda c: _fmt(_test(c).p_value) if c.shown and _test(c) else ""),
    ("method", lambda c: _test(c).method if c.shown and _test(c) else ""),
    ("holm_p_value", lambda c: _fmt(c.adjusted_p_value)),
    ("significant", lambda c: "" if c.significant is None else str(c.significant)),
]


def _rate_text(kind: str, ci: bool) -> Callable[[ArmRow], str]:
    def text(row: ArmRow) -> str:
        rate = row.rates.get(kind)
        if rate is None:
            return ""
        return f"{_fmt(rate.lower)}-{_fmt(rate.upper)}" if ci else _fmt(rate.rate)
    return text


def arm_columns(kinds: list[str]) -> list[Column]:
    return [
        ("arm", lambda r: r.name),
        ("kind", lambda r: r.kind),
        ("exposures", lambda r: r.exposures.display),
        ("unique_subjects", lambda r: r.subjects.display),
        *((k, lambda r, k=k: r.outcomes[k].display) for k in kinds),
        *((f"{k}_per_100k", _rate_text(k, ci=False)) for k in kinds),
        *((f"{k}_per_100k_ci", _rate_text(k, ci=True)) for k in kinds),
    ]


def _section(w: Any, name: str, columns: list[Column], rows: list[Any]) -> None:
    w.writerow([name, *(header for header, _ in columns)])
    for row in rows:
        w.writerow([name, *(value(row) for _, value in columns)])


def report_as_csv(report: CampaignReport) -> str:
    """One CSV with a section per table (the first column names it)."""
    out = io.StringIO()
    w = csv.writer(out)
    w.writerow(["section", "campaign", report.campaign_name, "generated_at",
                report.generated_at.isoformat()])
    plan = report.plan
    if plan:
        w.writerow(["plan", "locked_at", plan.locked_at.isoformat() if plan.locked_at else "",
                    "locked_hash", plan.locked_hash, "integrity", plan.integrity])
    _section(w, "arms", arm_columns(list(report.outcome_kinds)),
             [*report.arms, *([report.totals] if report.totals else [])])
    _section(w, "comparisons", COMPARISON_COLUMNS,
             [*report.comparisons, *report.secondary_comparisons])
    for name, stages in report.funnel.items():
        w.writerow(["funnel", name, *(f"{s.label}={s.count.display}" for s in stages)])
    if report.srm:
        w.writerow(["srm", "verdict", report.srm.verdict, "p_value", _fmt(report.srm.p_value),
                    "flagged_days", " ".join(d.isoformat() for d in report.srm.flagged_days)])
    if report.progress:
        w.writerow(["progress", "required_per_arm", report.progress.required_per_arm,
                    "fraction", _fmt(report.progress.fraction), "targets",
                    " ".join(f"{k}={v}" for k, v in report.progress.targets.items())])
    for b in [*report.daily, *report.strata]:
        w.writerow([b.title, "", *b.arms])
        for label, row in zip(b.row_labels, b.cells, strict=True):
            w.writerow([b.title, label, *(c.display for c in row)])
    return out.getvalue()

"""JSON and CSV forms of a disclosed report: the same figures the admin page shows.

Counts appear as their disclosed display string ("<10", "[c]", "1,235") and, for JSON, the
published integer or null. Nothing here sees an undisclosed count.
"""

from __future__ import annotations

import csv
import io
import math
from dataclasses import is_dataclass
from datetime import date, datetime
from typing import Any

from core.disclosure import DisclosedCell
from evaluation.reports import Breakdown, CampaignReport, Comparison


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


def _comparison_row(c: Comparison) -> list[str]:
    if not c.shown:
        return [c.outcome, c.variant, c.comparator, c.basis, "hidden", c.note] + [""] * 12
    est = [c.risk_difference, c.risk_ratio, c.odds_ratio, c.rate_ratio]
    cells: list[str] = []
    for e in est:
        cells += ["", "", ""] if e is None else [_fmt(e.value), _fmt(e.lower), _fmt(e.upper)]
    test = c.test or c.rate_test
    return [c.outcome, c.variant, c.comparator, c.basis, "shown", c.note, *cells,
            _fmt(test.p_value if test else None), test.method if test else "",
            _fmt(c.adjusted_p_value), "" if c.significant is None else str(c.significant)]


def report_as_csv(report: CampaignReport) -> str:
    """One CSV with a section per table (a "section" column names it)."""
    out = io.StringIO()
    w = csv.writer(out)
    w.writerow(["section", "campaign", report.campaign_name, "generated_at",
                report.generated_at.isoformat()])
    if report.plan:
        w.writerow(["plan", "locked_at", report.plan.locked_at.isoformat()
                    if report.plan.locked_at else "", "locked_hash", report.plan.locked_hash,
                    "integrity", report.plan.integrity])
    kinds = list(report.outcome_kinds)
    w.writerow(["arms", "arm", "kind", "exposures", "unique_subjects", *kinds,
                *(f"{k}_per_100k" for k in kinds), *(f"{k}_per_100k_ci" for k in kinds)])
    for row in [*report.arms, *([report.totals] if report.totals else [])]:
        rates = [row.rates.get(k) for k in kinds]
        w.writerow(["arms", row.name, row.kind, row.exposures.display, row.subjects.display,
                    *(row.outcomes[k].display for k in kinds),
                    *(_fmt(r.rate) if r else "" for r in rates),
                    *(f"{_fmt(r.lower)}-{_fmt(r.upper)}" if r else "" for r in rates)])
    w.writerow(["comparisons", "outcome", "variant", "comparator", "basis", "status", "note",
                "risk_difference", "rd_lower", "rd_upper", "risk_ratio", "rr_lower",
                "rr_upper", "odds_ratio", "or_lower", "or_upper", "rate_ratio", "rate_lower",
                "rate_upper", "p_value", "method", "holm_p_value", "significant"])
    for c in [*report.comparisons, *report.secondary_comparisons]:
        w.writerow(["comparisons", *_comparison_row(c)])
    for name, stages in report.funnel.items():
        w.writerow(["funnel", name, *(f"{s.label}={s.count.display}" for s in stages)])
    if report.srm:
        w.writerow(["srm", "verdict", report.srm.verdict, "p_value", _fmt(report.srm.p_value),
                    "flagged_days", " ".join(d.isoformat() for d in report.srm.flagged_days)])
    if report.progress:
        w.writerow(["progress", "required_per_arm", report.progress.required_per_arm,
                    "fraction", _fmt(report.progress.fraction)])
    for b in [*report.daily, *report.strata]:
        w.writerow([b.title, "", *b.arms])
        for label, row in zip(b.row_labels, b.cells, strict=True):
            w.writerow([b.title, label, *(c.display for c in row)])
    return out.getvalue()

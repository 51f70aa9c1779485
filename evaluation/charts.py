"""Server-side charts for the report (matplotlib, Agg backend, SVG text).

Charts read the disclosed report only: a suppressed count is a gap, never a point, and an
arm whose rate is hidden has no interval bar.
"""

from __future__ import annotations

import hashlib
import io
import math

import matplotlib

matplotlib.use("Agg")
matplotlib.rcParams["svg.fonttype"] = "none"  # text stays text: small, searchable SVG

# The object-oriented API only (no pyplot state machine): safe in threaded web servers.
from django.core.cache import cache  # noqa: E402
from matplotlib.axes import Axes  # noqa: E402 - the backend must be chosen first
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.ticker import FuncFormatter, NullLocator  # noqa: E402

from evaluation.reports import CampaignReport  # noqa: E402

COLOURS = ("#1b6ca8", "#d1495b", "#2e933c", "#edae49", "#66a182", "#8d6a9f", "#00798c")


def _svg(figure: Figure) -> str:
    buffer = io.StringIO()
    # Fixed margins (no bbox_inches="tight", which draws the figure twice).
    figure.savefig(buffer, format="svg")
    text = buffer.getvalue()
    return text[text.index("<svg"):]  # drop the XML prologue: the SVG is inlined in HTML


def _figure(width: float = 6.4, height: float = 3.2) -> tuple[Figure, Axes]:
    figure = Figure(figsize=(width, height), dpi=100)
    figure.subplots_adjust(left=0.12, right=0.98, top=0.9, bottom=0.22)
    axes = figure.subplots()
    axes.spines[["top", "right"]].set_visible(False)
    return figure, axes


def arms_chart(report: CampaignReport) -> str | None:
    """Primary-outcome rate per 100,000 exposures per arm, with 95% interval bars."""
    kind = report.primary_outcome
    shown = [(row.name, row.rates.get(kind)) for row in report.arms]
    if not shown:
        return None
    figure, axes = _figure()
    for i, (_, rate) in enumerate(shown):
        if rate is None:
            axes.text(i, 0, "hidden", ha="center", va="bottom", fontsize=8, color="#777")
            continue
        axes.errorbar(i, rate.rate, yerr=[[rate.rate - rate.lower], [rate.upper - rate.rate]],
                      fmt="o", capsize=6, color=COLOURS[i % len(COLOURS)])
    axes.set_xticks(range(len(shown)), [name for name, _ in shown])
    axes.set_xlim(-0.5, len(shown) - 0.5)
    axes.set_ylim(bottom=0)
    axes.set_ylabel(f"{kind} per 100,000")
    axes.set_title("Arms: rate with 95% interval", fontsize=10)
    return _svg(figure)


def funnel_chart(report: CampaignReport) -> str | None:
    """Exposure -> information -> click -> contact, per arm, on a log scale (shown counts)."""
    if not report.funnel:
        return None
    figure, axes = _figure()
    names = [n for n in report.funnel if n != "All arms"] or list(report.funnel)
    stages = [s.label for s in report.funnel[names[0]]]
    width = 0.8 / len(names)
    for i, name in enumerate(names):
        values = [s.count.value if s.count.value else math.nan for s in report.funnel[name]]
        positions = [j + i * width for j in range(len(stages))]
        axes.bar(positions, values, width=width, label=name, color=COLOURS[i % len(COLOURS)])
    axes.set_yscale("log")
    # Plain "1,000" labels: the default 10^n labels go through mathtext, which is slow.
    axes.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:,.0f}"))
    axes.yaxis.set_minor_locator(NullLocator())
    axes.set_xticks([j + 0.4 - width / 2 for j in range(len(stages))], stages, fontsize=8)
    axes.set_title("Funnel (suppressed counts left out)", fontsize=10)
    axes.legend(fontsize=8, frameon=False)
    return _svg(figure)


def daily_chart(report: CampaignReport) -> str | None:
    """Exposures per day and arm; suppressed days are gaps."""
    if not report.daily or not report.daily[0].row_labels:
        return None
    table = report.daily[0]
    figure, axes = _figure(7.2, 3.0)
    for j, arm in enumerate(table.arms):
        values = [row[j].value if row[j].value is not None else math.nan for row in table.cells]
        axes.plot(range(len(values)), values, marker=".", label=arm,
                  color=COLOURS[j % len(COLOURS)])
    _date_ticks(axes, table.row_labels)
    axes.set_ylabel("exposures")
    axes.set_title("Daily exposures by arm", fontsize=10)
    axes.legend(fontsize=8, frameon=False)
    return _svg(figure)


def its_chart(report: CampaignReport) -> str | None:
    """Daily population counts (disclosed), the ITS fit and its no-campaign counterfactual."""
    population = report.population
    if population is None or not population.days:
        return None
    figure, axes = _figure(7.2, 3.0)
    x = list(range(len(population.days)))
    values = [c.value if c.value is not None else math.nan for c in population.counts]
    axes.plot(x, values, ".", color="#555", label=f"{population.kind} per day")
    for i, on in enumerate(population.campaign_on):
        if on:
            axes.axvspan(i - 0.5, i + 0.5, color="#edae49", alpha=0.15, linewidth=0)
    if population.its is not None:
        axes.plot(x, population.its.fitted, "-", color="#1b6ca8", linewidth=2,
                  label="fitted (with the campaign)")
        # Before the first flight the two lines coincide: the counterfactual is drawn only
        # from there on, dashed and on top, so the gap between them is what the chart shows.
        start = next((i for i, on in enumerate(population.campaign_on) if on), 0)
        axes.plot(x[start:], population.its.counterfactual[start:], linestyle=(0, (5, 3)),
                  color="#d1495b", linewidth=2, zorder=3,
                  label="counterfactual (no campaign, dashed)")
    _date_ticks(axes, [d.isoformat() for d in population.days])
    axes.set_title("Interrupted time series (shaded: flights)", fontsize=10)
    axes.legend(fontsize=8, frameon=False)
    return _svg(figure)


def _date_ticks(axes: Axes, labels) -> None:  # type: ignore[no-untyped-def]
    step = max(1, len(labels) // 8)
    ticks = list(range(0, len(labels), step))
    axes.set_xticks(ticks, [labels[i] for i in ticks], rotation=30, fontsize=7, ha="right")


CHART_CACHE_SECONDS = 3600


def _chart_inputs(report: CampaignReport) -> str:
    """Everything the charts draw, as text: equal inputs give equal charts."""
    population = report.population
    return repr((
        report.primary_outcome,
        [(r.name, r.rates.get(report.primary_outcome)) for r in report.arms],
        {name: [(s.label, s.count.value) for s in stages]
         for name, stages in report.funnel.items()},
        [(b.row_labels, b.arms, [[c.value for c in row] for row in b.cells])
         for b in report.daily[:1]],
        None if population is None else (
            population.days, [c.value for c in population.counts], population.campaign_on,
            population.its.fitted if population.its else None),
    ))


def report_charts(report: CampaignReport) -> dict[str, str]:
    """The report's charts as SVG text, cached by a digest of what they draw."""
    digest = hashlib.sha256(_chart_inputs(report).encode()).hexdigest()
    key = f"evaluation:charts:{report.campaign_id}:{digest}"
    charts = cache.get(key)
    if charts is None:
        drawn = {"arms": arms_chart(report), "funnel": funnel_chart(report),
                 "daily": daily_chart(report), "its": its_chart(report)}
        charts = {name: svg for name, svg in drawn.items() if svg}
        cache.set(key, charts, CHART_CACHE_SECONDS)
    return charts

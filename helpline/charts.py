"""Server-rendered SVG charts of the helpline metrics (the evaluation report's matplotlib setup).

Charts read the disclosed metrics only: a suppressed count is a gap, never a point.
"""

from __future__ import annotations

import math

from evaluation.charts import COLOURS, _date_ticks, _figure, _svg
from helpline.metrics import MEASURES, Metrics, Row


def _value(row: Row, measure: str) -> float:
    value = row.cells[measure].value
    return math.nan if value is None else value


def daily_chart(metrics: Metrics) -> str | None:
    """Offered, answered and abandoned per day; suppressed days are gaps."""
    if not metrics.days:
        return None
    figure, axes = _figure(7.2, 3.0)
    x = list(range(len(metrics.days)))
    for i, measure in enumerate(MEASURES):
        axes.plot(x, [_value(row, measure) for row in metrics.days], marker=".", label=measure,
                  color=COLOURS[i])
    _date_ticks(axes, [row.label for row in metrics.days])
    axes.set_ylim(bottom=0)
    axes.set_ylabel("conversations")
    axes.set_title("Conversations per day (suppressed days left out)", fontsize=10)
    axes.legend(fontsize=8, frameon=False)
    return _svg(figure)


def wait_chart(metrics: Metrics) -> str | None:
    """Wait to be answered, p50 and p90 per day, in minutes (hidden days are gaps)."""
    if not any(row.wait_p50 is not None for row in metrics.days):
        return None
    figure, axes = _figure(7.2, 3.0)
    x = list(range(len(metrics.days)))
    for i, (name, attr) in enumerate((("p50", "wait_p50"), ("p90", "wait_p90"))):
        values = [math.nan if getattr(r, attr) is None else getattr(r, attr)
                  for r in metrics.days]
        axes.plot(x, values, marker=".", label=f"wait {name}", color=COLOURS[i])
    _date_ticks(axes, [row.label for row in metrics.days])
    axes.set_ylim(bottom=0)
    axes.set_ylabel("minutes")
    axes.set_title("Wait to be answered", fontsize=10)
    axes.legend(fontsize=8, frameon=False)
    return _svg(figure)


def breakdown_chart(rows: list[Row], title: str) -> str | None:
    """Grouped bars: offered, answered, abandoned per row (caller type or campaign)."""
    if not rows:
        return None
    figure, axes = _figure(7.2, 3.2)
    width = 0.8 / len(MEASURES)
    for i, measure in enumerate(MEASURES):
        axes.bar([j + i * width for j in range(len(rows))],
                 [_value(row, measure) for row in rows], width=width, label=measure,
                 color=COLOURS[i])
    axes.set_xticks([j + 0.4 - width / 2 for j in range(len(rows))],
                    [row.label[:28] for row in rows], rotation=20, fontsize=7, ha="right")
    axes.set_title(f"{title} (suppressed counts left out)", fontsize=10)
    axes.legend(fontsize=8, frameon=False)
    return _svg(figure)


def metrics_charts(metrics: Metrics) -> dict[str, str]:
    drawn = {"daily": daily_chart(metrics), "wait": wait_chart(metrics),
             "caller_types": breakdown_chart(metrics.caller_types, "By caller type"),
             "campaigns": breakdown_chart(metrics.campaigns, "By campaign")}
    return {name: svg for name, svg in drawn.items() if svg}

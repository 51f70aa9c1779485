"""SVG charts of the learning report (matplotlib's object API, as evaluation's charts).

Charts read the disclosed report only: a hidden count draws nothing, a hidden row no bar.
"""

from __future__ import annotations

import base64
import io

import matplotlib

matplotlib.use("Agg")
matplotlib.rcParams["svg.fonttype"] = "none"

from matplotlib.figure import Figure  # noqa: E402 - the backend must be chosen first

from learning.reports import FUNNEL_STAGES, STAGE_LABELS, LearningReport  # noqa: E402

BEFORE, AFTER = "#8d6a9f", "#1b6ca8"
STAGE_COLOURS = ("#1b6ca8", "#00798c", "#2e933c", "#edae49")


def _svg(figure: Figure) -> str:
    buffer = io.StringIO()
    figure.savefig(buffer, format="svg")
    text = buffer.getvalue()
    return text[text.index("<svg"):]


def gain_chart(report: LearningReport) -> str | None:
    """Mean score before and after, per module (hidden rows are left out)."""
    rows = [r for r in report.by_module if r.result is not None]
    if not rows:
        return None
    figure = Figure(figsize=(6.4, 3.2), dpi=100)
    figure.subplots_adjust(left=0.1, right=0.98, top=0.88, bottom=0.3)
    axes = figure.subplots()
    axes.spines[["top", "right"]].set_visible(False)
    positions = range(len(rows))
    axes.bar([p - 0.2 for p in positions], [r.result.pre_mean for r in rows], width=0.4,
             color=BEFORE, label="before")
    axes.bar([p + 0.2 for p in positions], [r.result.post_mean for r in rows], width=0.4,
             color=AFTER, label="after")
    axes.set_xticks(list(positions), [r.label[:28] for r in rows], fontsize=8, rotation=10)
    axes.set_ylim(0, 1)
    axes.set_ylabel("share of answers right")
    axes.set_title("Knowledge check: before and after", fontsize=10)
    axes.legend(fontsize=8, frameon=False)
    return _svg(figure)


def funnel_chart(report: LearningReport) -> str | None:
    """Learners at each stage, per campaign arm (shown counts only)."""
    if not report.funnel:
        return None
    figure = Figure(figsize=(6.4, 3.2), dpi=100)
    figure.subplots_adjust(left=0.1, right=0.98, top=0.88, bottom=0.22)
    axes = figure.subplots()
    axes.spines[["top", "right"]].set_visible(False)
    width = 0.8 / len(FUNNEL_STAGES)
    for j, stage in enumerate(FUNNEL_STAGES):
        values = [row.stages[stage].value or 0 for row in report.funnel]
        axes.bar([i + j * width for i in range(len(report.funnel))], values, width=width,
                 color=STAGE_COLOURS[j], label=STAGE_LABELS[stage])
    axes.set_xticks([i + 0.3 for i in range(len(report.funnel))],
                    [f"{row.arm}"[:24] for row in report.funnel], fontsize=8)
    axes.set_ylabel("learners")
    axes.set_title("Invited learners: completion funnel by arm", fontsize=10)
    axes.legend(fontsize=7, frameon=False)
    return _svg(figure)


def learning_charts(report: LearningReport) -> dict[str, str]:
    """{name: data URI} of the charts that have something to draw."""
    drawn = {"knowledge gain": gain_chart(report), "completion funnel": funnel_chart(report)}
    return {name: "data:image/svg+xml;base64," + base64.b64encode(svg.encode()).decode()
            for name, svg in drawn.items() if svg}

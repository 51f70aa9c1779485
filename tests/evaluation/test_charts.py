"""The report's charts: the time series tells its fitted line from its counterfactual."""

from __future__ import annotations

import re
from datetime import date, timedelta
from types import SimpleNamespace

from evaluation.charts import its_chart


def test_the_counterfactual_is_dashed_and_drawn_only_from_the_first_flight() -> None:
    days = tuple(date(2026, 11, 1) + timedelta(days=i) for i in range(10))
    counts = tuple(SimpleNamespace(value=10 + i) for i in range(10))
    population = SimpleNamespace(
        kind="helpline_contact", days=days, counts=counts,
        campaign_on=(False,) * 6 + (True,) * 4,
        its=SimpleNamespace(fitted=tuple(10.0 + i for i in range(10)),
                            counterfactual=tuple(10.0 + 0.5 * i for i in range(10))))
    svg = its_chart(SimpleNamespace(population=population))
    lines = re.findall(r'<path d="M [^"]*"[^>]*style="[^"]*stroke-width: 2[^"]*"', svg)
    dashed = [line for line in lines if "stroke-dasharray" in line]
    solid = [line for line in lines if "stroke-dasharray" not in line]
    assert dashed and solid  # two styles, also in the legend's samples
    longest_dashed = max(line.count("L ") for line in dashed)
    assert longest_dashed == 3  # 4 flight days: 3 segments, not the 9 of the whole series
    assert max(line.count("L ") for line in solid) == 9

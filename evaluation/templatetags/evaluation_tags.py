"""Report formatting: an estimate with its interval, or why there is none."""

from __future__ import annotations

import math
from typing import Any

from django import template
from django.template.defaultfilters import floatformat

register = template.Library()


def _bound(value: float) -> str:
    return "∞" if math.isinf(value) else floatformat(value, 3)


@register.filter
def estimate(value: Any) -> str:
    """Value and interval joined by an en dash; "not estimable" when there are no events."""
    point = getattr(value, "value", None)
    if point is None or (isinstance(point, float) and math.isnan(point)):
        return "not estimable (no events)"
    return f"{_bound(point)} ({_bound(value.lower)}\u2013{_bound(value.upper)})"

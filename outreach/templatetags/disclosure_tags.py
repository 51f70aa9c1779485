"""``{{ n|disclosed }}``: a count in a template, through the one disclosure function.

The admin's own changelist counts ("12 recipients", "3 results (40 total)", "Select all 12")
are counts that leave the system: templates/admin/pagination.html, search_form.html and
actions.html show them through this filter (small ones "<10", others rounded)."""

from __future__ import annotations

from django import template

from core.disclosure import disclose_count

register = template.Library()


@register.filter
def disclosed(value: int | None) -> str:
    if value is None:
        return ""
    return disclose_count(int(value)).display

"""Admin: each helpline's settings, and its metrics page (charts and CSV) for managers.

Conversations, messages and contact records have no admin page on purpose: a manager sees the
helpline through its disclosed metrics (helpline/metrics.py), never row by row.
"""

from __future__ import annotations

import base64
from typing import Any

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

from evaluation.services import disclosure_policy_for
from helpline import metrics
from helpline.charts import metrics_charts
from helpline.models import Counsellor, CounsellorRole, Helpline
from organisations.admin_base import OrganisationScopedAdmin
from organisations.selectors import user_organisation, user_role

METRICS_ROLES = frozenset({"manager", "analyst"})  # organisation roles that read metrics


@admin.register(Helpline)
class HelplineAdmin(OrganisationScopedAdmin):
    list_display = ["name", "slug", "chats_per_counsellor", "queue_limit", "retention_days",
                    "metrics_link"]
    readonly_fields = ["organisation", "resource", "slug", "created_at"]
    fields = ["name", "organisation", "resource", "slug", "chats_per_counsellor", "queue_limit",
              "retention_days", "acknowledgement_minutes", "safeguarding_policy",
              "welcome_text", "created_at"]

    def has_add_permission(self, request: HttpRequest, *args: Any) -> bool:
        return False  # a helpline is created with its directory entry (helpline.services)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # retention purges conversations; deleting the helpline would not

    @admin.display(description="Metrics")
    def metrics_link(self, obj: Helpline) -> str:
        url = reverse("admin:helpline_metrics", args=[obj.pk])
        return format_html('<a href="{}">Open metrics</a>', url)

    def get_urls(self) -> list:
        view = self.admin_site.admin_view
        return [
            path("<int:helpline_id>/metrics/", view(self.metrics_view), name="helpline_metrics"),
            path("<int:helpline_id>/metrics.csv", view(self.metrics_csv_view),
                 name="helpline_metrics_csv"),
            *super().get_urls(),
        ]

    # --- metrics -------------------------------------------------------------------------

    def _helpline(self, request: HttpRequest, helpline_id: int) -> Helpline:
        """The user's own organisation's helpline (anyone else's is a 404), for a manager."""
        helplines = Helpline.objects.select_related("organisation", "resource")
        user = request.user
        if not user.is_superuser:
            organisation = user_organisation(user)
            if organisation is None:
                raise Http404("No such helpline.")
            helplines = helplines.filter(organisation=organisation)
        helpline = helplines.filter(pk=helpline_id).first()
        if helpline is None:
            raise Http404("No such helpline.")
        if not user.is_superuser and user_role(user) not in METRICS_ROLES and not \
                Counsellor.objects.filter(helpline=helpline, user=user,
                                          role=CounsellorRole.MANAGER).exists():
            raise PermissionDenied("Helpline metrics are for managers.")
        return helpline

    def _metrics(self, request: HttpRequest, helpline_id: int) -> metrics.Metrics:
        helpline = self._helpline(request, helpline_id)
        try:
            days = int(request.GET.get("days", 28))
        except ValueError:
            days = 28
        start, end = metrics.period(days=days)
        return metrics.helpline_metrics(helpline=helpline, start=start, end=end,
                                        policy=disclosure_policy_for(helpline.organisation))

    def metrics_view(self, request: HttpRequest, helpline_id: int) -> TemplateResponse:
        shown = self._metrics(request, helpline_id)
        charts = {name: "data:image/svg+xml;base64," + base64.b64encode(svg.encode()).decode()
                  for name, svg in metrics_charts(shown).items()}
        context = {
            **self.admin_site.each_context(request),
            "title": f"Helpline metrics: {shown.helpline.name}",
            "metrics": shown, "charts": charts, "measures": metrics.MEASURES,
            "sections": [("By day", shown.days), ("By caller type", shown.caller_types),
                         ("By campaign", shown.campaigns)],
            "days": (shown.end - shown.start).days + 1,
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "admin/helpline/metrics.html", context)

    def metrics_csv_view(self, request: HttpRequest, helpline_id: int) -> HttpResponse:
        shown = self._metrics(request, helpline_id)
        response = HttpResponse(metrics.metrics_csv(shown), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = (
            f'attachment; filename="helpline-{helpline_id}-metrics-{shown.start}-{shown.end}.csv"')
        return response

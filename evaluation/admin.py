"""Admin: evaluation plans (edited through the services, amended after the lock), programme
settings, and the campaign report page with its CSV and JSON exports.

Raw exposures, outcomes and undisclosed rollups have no admin page on purpose: every count an
admin sees comes through the disclosed report.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join

from campaigns.models import Campaign
from campaigns.selectors import campaigns_visible_to
from core.disclosure import DisclosurePolicy
from core.errors import DomainError
from evaluation import retention, services
from evaluation.charts import report_charts
from evaluation.exports import report_as_csv, report_as_dict
from evaluation.models import DisclosureSettings, EvaluationPlan, RetentionSettings
from evaluation.reports import FUNNEL, breakdown_rows, campaign_report
from organisations.admin_base import OrganisationScopedAdmin
from organisations.api.principal import ROLE_SCOPES
from organisations.models import ApiScope
from organisations.selectors import user_organisation, user_role
from organisations.services import Actor

# Sections higher apps add to the campaign report page, registered by the wiring layer
# (outreach/apps.py) so that evaluation imports none of them. Each is called with the campaign
# and its disclosure policy and returns safe HTML (already disclosure-controlled) or "".
ReportSection = Callable[..., str]
REPORT_SECTIONS: list[ReportSection] = []


def report_section_register(section: ReportSection) -> None:
    if section not in REPORT_SECTIONS:
        REPORT_SECTIONS.append(section)


class PlanForm(forms.ModelForm):
    amendment_reason = forms.CharField(
        required=False, widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Required to change a locked plan: the change is recorded as an amendment.")

    class Meta:
        model = EvaluationPlan
        fields = ["campaign", *services.PLAN_FIELDS]

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        plan = self.instance
        changed = [f for f in self.changed_data if f in services.PLAN_FIELDS]
        if plan.pk and plan.is_locked and changed and not cleaned.get("amendment_reason"):
            self.add_error("amendment_reason",
                           "This plan is locked: give the reason for the amendment.")
        try:
            services.plan_validate(plan)  # the instance already carries the form's values
        except DomainError as error:
            field = error.field if error.field in self.fields else None
            self.add_error(field, error.message)
        return cleaned


@admin.register(EvaluationPlan)
class EvaluationPlanAdmin(OrganisationScopedAdmin):
    organisation_field = "campaign__organisation"
    form = PlanForm
    list_display = ["campaign", "primary_outcome", "unit_of_analysis", "locked_at", "report_link"]
    readonly_fields = ["required_sample_per_arm", "locked_at", "locked_hash", "amendment_log"]
    list_select_related = ["campaign"]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        fields = list(super().get_readonly_fields(request, obj))
        return [*fields, "campaign"] if obj else fields

    @admin.display(description="Report")
    def report_link(self, obj: EvaluationPlan) -> str:
        url = reverse("admin:evaluation_campaign_report", args=[obj.campaign_id])
        return format_html('<a href="{}">Open report</a>', url)

    @admin.display(description="Amendments")
    def amendment_log(self, obj: EvaluationPlan) -> str:
        return format_html_join(
            "", "<p>{} — {} ({} → {})</p>",
            ((a.at.strftime("%Y-%m-%d %H:%M"), a.reason, a.previous_hash[:12], a.new_hash[:12])
             for a in obj.amendments.all())) or "none"

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        actor = Actor(user=request.user)
        fields = {f: form.cleaned_data[f] for f in services.PLAN_FIELDS if f in form.cleaned_data}
        if not change:
            saved = services.plan_create(campaign=form.cleaned_data["campaign"], actor=actor,
                                         **fields)
            obj.pk = saved.pk
        elif obj.is_locked:
            changed = {f: fields[f] for f in form.changed_data if f in fields}
            if changed:
                services.plan_amend(plan=obj, actor=actor,
                                    reason=form.cleaned_data["amendment_reason"], **changed)
                messages.info(request, "The locked plan was amended; the change is recorded.")
        else:
            services.plan_update(plan=obj, actor=actor, **fields)

    def get_urls(self) -> list:
        view = self.admin_site.admin_view
        custom = [
            path("campaign/<int:campaign_id>/report/", view(self.report_view),
                 name="evaluation_campaign_report"),
            path("campaign/<int:campaign_id>/report.csv", view(self.report_csv_view),
                 name="evaluation_campaign_report_csv"),
            path("campaign/<int:campaign_id>/report.json", view(self.report_json_view),
                 name="evaluation_campaign_report_json"),
        ]
        return custom + super().get_urls()

    # --- the report page ----------------------------------------------------------------

    def _campaign(self, request: HttpRequest, campaign_id: int) -> Campaign:
        """Owners and enrolled partners with reports access; anyone else gets a 404."""
        campaigns = Campaign.objects.all()
        if not request.user.is_superuser:
            organisation = user_organisation(request.user)
            if organisation is None:
                raise Http404("No such campaign.")
            campaigns = campaigns_visible_to(organisation)
        campaign = campaigns.filter(pk=campaign_id).first()
        if campaign is None:
            raise Http404("No such campaign.")
        if not request.user.is_superuser and ApiScope.REPORTS_READ not in ROLE_SCOPES.get(
                user_role(request.user) or "", frozenset()):
            raise PermissionDenied("Your role cannot read evaluation reports.")
        return campaign

    def _report(self, request: HttpRequest, campaign_id: int):  # type: ignore[no-untyped-def]
        campaign = self._campaign(request, campaign_id)
        policy: DisclosurePolicy = services.disclosure_policy_for(campaign.organisation)
        return campaign, campaign_report(campaign=campaign, policy=policy)

    def report_view(self, request: HttpRequest, campaign_id: int) -> TemplateResponse:
        campaign, report = self._report(request, campaign_id)
        charts = {name: "data:image/svg+xml;base64," + base64.b64encode(svg.encode()).decode()
                  for name, svg in report_charts(report).items()}
        context = {
            **self.admin_site.each_context(request),
            "title": f"Evaluation report: {campaign.name}",
            "campaign": campaign, "report": report, "charts": charts,
            "breakdowns": [(b, breakdown_rows(b)) for b in [*report.daily, *report.strata]],
            "kinds": report.outcome_kinds,
            "funnel_labels": [s.label for s in next(iter(report.funnel.values()), [])]
            or ["exposures", *FUNNEL],
            "arm_rows": [(row, [(row.outcomes[k], row.rates[k]) for k in report.outcome_kinds])
                         for row in [*report.arms, *([report.totals] if report.totals else [])]],
            "production": settings.PRODUCTION,
            "opts": self.model._meta,
            "extra_sections": [html for html in (
                section(campaign=campaign, policy=report.policy) for section in REPORT_SECTIONS)
                if html],
        }
        return TemplateResponse(request, "admin/evaluation/report.html", context)

    def report_csv_view(self, request: HttpRequest, campaign_id: int) -> HttpResponse:
        _, report = self._report(request, campaign_id)
        response = HttpResponse(report_as_csv(report), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = (
            f'attachment; filename="campaign-{campaign_id}-report.csv"')
        return response

    def report_json_view(self, request: HttpRequest, campaign_id: int) -> JsonResponse:
        _, report = self._report(request, campaign_id)
        return JsonResponse(json.loads(json.dumps(report_as_dict(report))))


class DisclosureSettingsForm(forms.ModelForm):
    class Meta:
        model = DisclosureSettings
        fields = ["organisation", "threshold", "rounding_base", "enabled"]

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        try:
            DisclosurePolicy(threshold=cleaned.get("threshold") or 10,
                             rounding_base=cleaned.get("rounding_base") or 5,
                             enabled=cleaned.get("enabled", True)).validate(settings.PRODUCTION)
        except ValueError as error:
            self.add_error("enabled", str(error))
        return cleaned


@admin.register(DisclosureSettings)
class DisclosureSettingsAdmin(OrganisationScopedAdmin):
    form = DisclosureSettingsForm
    list_display = ["organisation", "threshold", "rounding_base", "enabled"]

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        organisation = obj.organisation if request.user.is_superuser else \
            user_organisation(request.user)
        services.disclosure_settings_set(
            organisation=organisation, actor=Actor(user=request.user),
            threshold=obj.threshold, rounding_base=obj.rounding_base, enabled=obj.enabled)


@admin.register(RetentionSettings)
class RetentionSettingsAdmin(OrganisationScopedAdmin):
    list_display = ["organisation", "days_after_campaign_end"]

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        organisation = obj.organisation if request.user.is_superuser else \
            user_organisation(request.user)
        retention.retention_settings_set(
            organisation=organisation, actor=Actor(user=request.user),
            days_after_campaign_end=obj.days_after_campaign_end)

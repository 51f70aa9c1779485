"""The campaign page: settings, the launch gate, and the transition buttons."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _

from campaigns import authoring, launch, lifecycle
from campaigns.admin.access import (
    RoleAccess,
    campaign_locked,
    codes_field,
    may_press,
    plain_number,
    role_of,
)
from campaigns.admin.inlines import ArmInline, FlightInline, ScheduleInline
from campaigns.models import Campaign, CampaignStatus, Message
from core.errors import DomainError
from core.vocabulary import Channel
from organisations.admin_base import OrganisationScopedAdmin
from organisations.models import Organisation, Partnership
from organisations.selectors import user_organisation
from organisations.services import Actor, audit_record

STATUS_COLOURS = {
    CampaignStatus.DRAFT: "#57606a", CampaignStatus.IN_REVIEW: "#9a6700",
    CampaignStatus.APPROVED: "#0969da", CampaignStatus.SCHEDULED: "#8250df",
    CampaignStatus.RUNNING: "#1b7a3a", CampaignStatus.PAUSED: "#b35900",
    CampaignStatus.COMPLETED: "#57606a", CampaignStatus.CANCELLED: "#b00020",
}
# Which buttons a status offers, in order: (action, label).
BUTTONS: dict[str, list[tuple[str, str]]] = {
    CampaignStatus.DRAFT: [("submit", _("Submit for review"))],
    CampaignStatus.IN_REVIEW: [("approve", _("Approve")), ("reject", _("Reject (back to draft)"))],
    CampaignStatus.APPROVED: [("schedule", _("Schedule (runs the launch gate)"))],
    CampaignStatus.SCHEDULED: [("start", _("Start now"))],
    CampaignStatus.RUNNING: [("pause", _("Pause")), ("complete", _("Complete"))],
    CampaignStatus.PAUSED: [("resume", _("Resume")), ("complete", _("Complete"))],
}
# What a programme manager does next, per status (shown on the list and the campaign page).
NEXT_STEPS: dict[str, str] = {
    CampaignStatus.DRAFT: _("Clear the launch gate's list, then submit for review."),
    CampaignStatus.IN_REVIEW: _("A reviewer (not the author) approves or rejects it."),
    CampaignStatus.APPROVED: _("Schedule it: the launch gate runs once more."),
    CampaignStatus.SCHEDULED: _("It starts with its first flight (or press Start now)."),
    CampaignStatus.RUNNING: _("Watch sending progress and the report; pause or complete it."),
    CampaignStatus.PAUSED: _("Resume it, or complete it."),
    CampaignStatus.COMPLETED: _("Nothing: read the evaluation report."),
    CampaignStatus.CANCELLED: _("Nothing: it will not run again."),
}
# Read-only pages show these instead of the raw JSON lists.
LIST_DISPLAYS = {"channels": "channel_list", "countries": "country_list",
                 "languages": "language_list", "namespace_offset": "namespace_offset_shown",
                 "namespace_share": "namespace_share_shown"}
CANCELLABLE = lifecycle.TRANSITIONS["cancel"][0]
SERVICES = {
    "submit": lifecycle.campaign_submit, "approve": lifecycle.campaign_approve,
    "reject": lifecycle.campaign_reject, "schedule": lifecycle.campaign_schedule,
    "start": lifecycle.campaign_start, "pause": lifecycle.campaign_pause,
    "resume": lifecycle.campaign_resume, "complete": lifecycle.campaign_complete,
    "cancel": lifecycle.campaign_cancel,
}



class CampaignForm(forms.ModelForm):
    channels = forms.MultipleChoiceField(choices=Channel.choices, required=False,
                                         widget=forms.CheckboxSelectMultiple)
    countries = codes_field("Audience countries", "GB, IE")
    languages = codes_field("Audience languages", "en, cy")

    class Meta:
        model = Campaign
        fields = ["organisation", "name", "objective", "priority", "channels", "countries",
                  "languages", "segments", "partners", "frequency_cap_count",
                  "frequency_cap_days", "design", "assignment_namespace", "namespace_offset",
                  "namespace_share"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name in ("countries", "languages"):
            if name in self.fields:
                self.initial[name] = ", ".join(getattr(self.instance, name) or [])
        for name in ("namespace_offset", "namespace_share"):
            if name in self.fields and self.instance.pk:
                self.initial[name] = plain_number(getattr(self.instance, name))

    def _codes(self, name: str, *, upper: bool) -> list[str]:
        raw = self.cleaned_data.get(name) or ""
        codes = [c.strip() for c in raw.replace(";", ",").split(",") if c.strip()]
        pattern = authoring.COUNTRY if upper else authoring.LANGUAGE
        cleaned = [c.upper() if upper else c.lower() for c in codes]
        bad = [c for c in cleaned if not pattern.match(c)]
        if bad:
            raise ValidationError(f"Not a valid code: {', '.join(bad)}")
        return list(dict.fromkeys(cleaned))

    def clean_countries(self) -> list[str]:
        return self._codes("countries", upper=True)

    def clean_languages(self) -> list[str]:
        return self._codes("languages", upper=False)

    def clean(self) -> dict:
        data = super().clean()
        if self.instance.pk and campaign_locked(self.instance):
            raise ValidationError(f"This campaign is {self.instance.status}: its approved "
                                  "content is frozen.")
        candidate = Campaign(pk=self.instance.pk, organisation=self._organisation(data),
                             assignment_namespace=data.get("assignment_namespace") or "",
                             namespace_offset=data.get("namespace_offset") or Decimal(0),
                             namespace_share=data.get("namespace_share") or Decimal(0))
        for problem in launch.namespace_problems(candidate):
            self.add_error("namespace_share", problem)
        return data

    def _organisation(self, data: dict) -> Organisation | None:
        if data.get("organisation"):
            return data["organisation"]
        if self.instance.organisation_id:
            return self.instance.organisation
        return getattr(self, "caller_organisation", None)


@admin.register(Campaign)
class CampaignAdmin(RoleAccess, OrganisationScopedAdmin):
    form = CampaignForm
    change_form_template = "admin/campaigns/campaign/change_form.html"
    list_display = ["name", "status_badge", "next_step", "channel_list", "country_list",
                    "content_counts", "updated_at"]
    list_filter = ["status", "design"]
    search_fields = ["name", "referral_code"]
    inlines = [FlightInline, ArmInline, ScheduleInline]
    filter_horizontal = ["segments", "partners"]
    readonly_fields = ["status_badge", "next_step", "content_counts", "referral_code",
                       "created_by", "submitted_by", "approved_by", "approved_at", "launch_gate",
                       *LIST_DISPLAYS.values()]
    fieldsets = [
        (_("Status"), {"fields": ["status_badge", "next_step", "content_counts", "launch_gate",
                               "referral_code", "created_by", "submitted_by", "approved_by",
                               "approved_at"]}),
        (_("Campaign"), {"fields": ["organisation", "name", "objective", "priority", "channels"]}),
        (_("Audience"), {"fields": ["countries", "languages", "segments", "partners"]}),
        (_("Frequency cap (per person and channel, across all campaigns)"),
         {"fields": ["frequency_cap_count", "frequency_cap_days"]}),
        (_("Assignment"), {"fields": ["design", "assignment_namespace", "namespace_offset",
                                   "namespace_share"],
                        "description": "Per person: each person keeps one arm for good. "
                                       "Campaigns sharing a namespace split it into slices "
                                       "that never overlap, so nobody is in two of them."}),
    ]

    # -- display --
    @admin.display(description=_("status"), ordering="status")
    def status_badge(self, campaign: Campaign) -> str:
        colour = STATUS_COLOURS.get(campaign.status, "#57606a")
        return format_html('<strong style="color:{}">{}</strong>', colour,
                           campaign.get_status_display())

    @admin.display(description=_("next step"))
    def next_step(self, campaign: Campaign) -> str:
        return NEXT_STEPS.get(campaign.status, "")

    @admin.display(description=_("content"))
    def content_counts(self, campaign: Campaign) -> str:
        if campaign.pk is None:
            return "-"
        arms = list(campaign.arms.all())
        messages_used = {m.pk for arm in arms for m in arm.messages.all()}
        return (f"{len(arms)} arms, {len(messages_used)} messages, "
                f"{len(campaign.flights.all())} flights, {len(campaign.schedules.all())} schedules")

    @admin.display(description=_("channels"))
    def channel_list(self, campaign: Campaign) -> str:
        labels = dict(Channel.choices)
        return ", ".join(str(labels.get(c, c)) for c in campaign.channels or []) or "-"

    @admin.display(description=_("countries"))
    def country_list(self, campaign: Campaign) -> str:
        return ", ".join(campaign.countries or []) or "any"

    @admin.display(description=_("languages"))
    def language_list(self, campaign: Campaign) -> str:
        return ", ".join(campaign.languages or []) or "any"

    @admin.display(description=_("namespace offset"))
    def namespace_offset_shown(self, campaign: Campaign) -> str:
        return plain_number(campaign.namespace_offset)

    @admin.display(description=_("namespace share"))
    def namespace_share_shown(self, campaign: Campaign) -> str:
        return plain_number(campaign.namespace_share)

    @admin.display(description=_("launch gate"))
    def launch_gate(self, campaign: Campaign) -> str:
        if campaign.pk is None:
            return "Save the campaign to see what it still needs."
        if campaign.status not in (CampaignStatus.DRAFT, CampaignStatus.IN_REVIEW,
                                   CampaignStatus.APPROVED):
            return "Passed (the campaign has been scheduled)."
        problems = launch.launch_problems(campaign)
        if not problems:
            return format_html('<span style="color:#1b7a3a">{}</span>',
                               "Ready: nothing stops this campaign from being scheduled once "
                               "approved.")
        return format_html('<ul style="color:#b00020;margin:0">{}</ul>',
                           format_html_join("", "<li>{}</li>", ((p,) for p in problems)))

    def get_queryset(self, request: HttpRequest) -> Any:
        return super().get_queryset(request).prefetch_related("arms__messages", "flights",
                                                              "schedules")

    # -- editing --
    def get_fieldsets(self, request: HttpRequest, obj: Any = None) -> Any:
        locked = campaign_locked(obj)
        # A member's campaigns always belong to their organisation (set on save).
        hidden = set() if request.user.is_superuser else {"organisation"}

        def shown(field: str) -> str:
            return LIST_DISPLAYS.get(field, field) if locked else field

        return [(title, {**options, "fields": [shown(f) for f in options["fields"]
                                               if f not in hidden]})
                for title, options in self.fieldsets]

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # A scheduled or running campaign is read-only: no Save buttons, only its transitions.
        return super().has_change_permission(request, obj) and not campaign_locked(obj)

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        fields = list(super().get_readonly_fields(request, obj))
        if campaign_locked(obj):
            fields += [f for f in CampaignForm.Meta.fields
                       if f not in fields and f not in LIST_DISPLAYS]
        return fields

    def get_form(self, request: HttpRequest, obj: Any = None, change: bool = False,
                 **kwargs: Any) -> Any:
        form = super().get_form(request, obj, change, **kwargs)
        form.caller_organisation = (None if request.user.is_superuser
                                    else user_organisation(request.user))
        return form

    def formfield_for_manytomany(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        field = super().formfield_for_manytomany(db_field, request, **kwargs)
        if db_field.name == "partners" and not request.user.is_superuser:
            partner_ids = Partnership.objects.filter(
                programme=user_organisation(request.user)).values_list("partner_id", flat=True)
            field.queryset = Organisation.objects.filter(pk__in=partner_ids)
        return field

    def save_model(self, request: HttpRequest, obj: Campaign, form: Any, change: bool) -> None:
        if not change:
            obj.created_by = request.user
        super().save_model(request, obj, form, change)
        audit_record(organisation=obj.organisation, actor=Actor(user=request.user),
                     action="campaign.update" if change else "campaign.create", target=obj,
                     changes={"fields": sorted(form.changed_data), "via": "admin"})

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool
                     ) -> None:
        super().save_related(request, form, formsets, change)
        campaign = form.instance
        before = campaign.status
        lifecycle.campaign_content_changed(campaign=campaign, actor=Actor(user=request.user))
        if before != campaign.status:
            messages.warning(request, f"The content changed after it was {before}: the "
                                      "campaign is back in draft and must be submitted again.")

    # -- buttons --
    def get_urls(self) -> list:
        custom = [path("<path:object_id>/transition/<str:action>/",
                       self.admin_site.admin_view(self.transition_view),
                       name="campaigns_campaign_transition")]
        return custom + super().get_urls()

    def buttons_for(self, request: HttpRequest, campaign: Campaign) -> list[tuple[str, str]]:
        role = "manager" if request.user.is_superuser else role_of(request)
        offered = list(BUTTONS.get(campaign.status, []))
        if campaign.status in CANCELLABLE:
            offered.append(("cancel", _("Cancel campaign")))
        return [(action, label) for action, label in offered if may_press(action, role)]

    def change_view(self, request: HttpRequest, object_id: str, form_url: str = "",
                    extra_context: dict | None = None) -> Any:
        campaign = self.get_object(request, object_id)
        extra = dict(extra_context or {})
        if campaign is not None:
            extra["transition_buttons"] = [
                (reverse("admin:campaigns_campaign_transition", args=[campaign.pk, action]),
                 action, label) for action, label in self.buttons_for(request, campaign)]
            extra["message_previews"] = [
                (m, reverse("admin:campaigns_message_change", args=[m.pk]))
                for m in Message.objects.filter(arms__campaign=campaign).distinct()]
        return super().change_view(request, object_id, form_url, extra)

    def transition_view(self, request: HttpRequest, object_id: str, action: str) -> Any:
        campaign = get_object_or_404(self.get_queryset(request), pk=object_id)
        back = reverse("admin:campaigns_campaign_change", args=[campaign.pk])
        if request.method != "POST" or action not in SERVICES:
            return HttpResponseRedirect(back)
        if action not in {a for a, _ in self.buttons_for(request, campaign)}:
            messages.error(request, f"You cannot {action} this campaign.")
            return HttpResponseRedirect(back)
        extra = {"reason": request.POST.get("reason", "")[:2000]} \
            if action in ("reject", "cancel") else {}
        try:
            SERVICES[action](campaign=campaign, actor=Actor(user=request.user), **extra)
        except DomainError as error:
            problems = error.details.get("problems")
            if problems:
                messages.error(request, f"The campaign cannot {action} yet:")
                for problem in problems:
                    messages.error(request, problem)
            else:
                messages.error(request, error.message)
            return HttpResponseRedirect(back)
        campaign.refresh_from_db()
        messages.success(request, f"Done: the campaign is now {campaign.get_status_display()}.")
        return HttpResponseRedirect(back)


"""Where programme managers build campaigns and reviewers sign them off.

A manager builds a campaign end to end on one page (settings, flights, arms with their messages,
schedules), sees the launch-gate problems live, and presses Submit. A reviewer (not the author)
opens it and presses Approve or Reject. Every button calls a service (campaigns/authoring.py,
campaigns/lifecycle.py), so the admin enforces exactly the rules the API does. Approved content
is frozen: editing it sends the campaign back to draft; a scheduled or running campaign is
read-only.

Access follows the organisation role: managers edit; reviewers, analysts and viewers read
(reviewers also approve and reject).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _

from campaigns import authoring, content, launch, lifecycle
from campaigns.models import (
    Arm,
    ArmKind,
    Campaign,
    CampaignStatus,
    Flight,
    Message,
    Schedule,
)
from campaigns.rendering import (
    RenderContext,
    RenderError,
    build_preview_context,
    message_validate,
    render_message,
    sample_context,
)
from campaigns.schedules import schedule_problems
from core.errors import DomainError
from core.vocabulary import AudienceStage, Channel
from organisations.admin_base import OrganisationScopedAdmin
from organisations.models import Organisation, Partnership, Role
from organisations.selectors import user_membership, user_organisation
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
REVIEW_ACTIONS = {"approve", "reject"}
SERVICES = {
    "submit": lifecycle.campaign_submit, "approve": lifecycle.campaign_approve,
    "reject": lifecycle.campaign_reject, "schedule": lifecycle.campaign_schedule,
    "start": lifecycle.campaign_start, "pause": lifecycle.campaign_pause,
    "resume": lifecycle.campaign_resume, "complete": lifecycle.campaign_complete,
    "cancel": lifecycle.campaign_cancel,
}


def role_of(request: HttpRequest) -> str | None:
    membership = user_membership(request.user)
    return membership.role if membership else None


class RoleAccess:
    """Permissions from the organisation role rather than Django's per-model permissions."""

    def has_module_permission(self, request: HttpRequest) -> bool:
        return request.user.is_superuser or role_of(request) is not None

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self.has_module_permission(request)

    def _manages(self, request: HttpRequest) -> bool:
        return request.user.is_superuser or role_of(request) == Role.MANAGER

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._manages(request)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._manages(request)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # cancel instead: the evidence log refers to campaigns and messages


def may_press(action: str, role: str | None) -> bool:
    """Reviewers approve and reject; managers do everything (the services check four eyes)."""
    if action in REVIEW_ACTIONS:
        return role in (Role.REVIEWER, Role.MANAGER)
    return role == Role.MANAGER


def campaign_locked(campaign: Campaign | None) -> bool:
    return campaign is not None and campaign.status not in lifecycle.EDITABLE


def plain_number(value: Decimal | None) -> str:
    """30.0000 → 30, 2.5000 → 2.5 (the model stores four decimal places)."""
    if value is None:
        return "-"
    return format(value.normalize(), "f")


def codes_field(label: str, example: str) -> forms.CharField:
    return forms.CharField(label=label, required=False,
                           help_text=f"Comma-separated codes, e.g. {example}")


# --- inlines ----------------------------------------------------------------------------------

class LockedInlineMixin(RoleAccess):
    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._manages(request) and not campaign_locked(obj)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._manages(request) and not campaign_locked(obj)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._manages(request) and not campaign_locked(obj)


class FlightInline(LockedInlineMixin, admin.TabularInline):
    model = Flight
    extra = 0
    verbose_name = "flight (active period)"
    verbose_name_plural = "Flights: the periods the campaign is on (gaps are 'off' periods)"


class ArmForm(forms.ModelForm):
    class Meta:
        model = Arm
        fields = ["name", "kind", "weight", "messages"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk and "weight" in self.fields:
            self.initial["weight"] = plain_number(self.instance.weight)

    def clean(self) -> dict:
        data = super().clean()
        if data.get("kind") == ArmKind.HOLDOUT and data.get("messages"):
            self.add_error("messages", "A holdout arm shows no message: leave this empty.")
        weight = data.get("weight")
        if weight is not None and not Decimal(0) <= weight <= authoring.MAX_WEIGHT:
            self.add_error("weight", f"Use a weight between 0 and {authoring.MAX_WEIGHT}.")
        return data


class ArmFormSet(forms.BaseInlineFormSet):
    def clean(self) -> None:
        super().clean()
        rows = [f.cleaned_data for f in self.forms
                if f.cleaned_data and not f.cleaned_data.get("DELETE")]
        if not rows:
            return
        total = sum((r.get("weight") or Decimal(0) for r in rows), Decimal(0))
        showing = sum((r.get("weight") or Decimal(0) for r in rows
                       if r.get("kind") != ArmKind.HOLDOUT), Decimal(0))
        if total <= 0:
            raise ValidationError("The arms' weights add up to 0: nobody would be assigned.")
        if showing <= 0:
            raise ValidationError("Every weight is on the holdout: nobody would see a message.")
        if sum(r.get("kind") == ArmKind.HOLDOUT for r in rows) > 1:
            raise ValidationError("A campaign has at most one holdout arm.")


class ArmInline(LockedInlineMixin, admin.TabularInline):
    model = Arm
    form = ArmForm
    formset = ArmFormSet
    extra = 0
    fields = ["name", "kind", "weight", "share", "messages"]
    readonly_fields = ["share"]
    verbose_name_plural = ("Arms: variants, an active comparator and an optional holdout "
                           "(weights are relative; the holdout gets no message)")

    def get_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        if campaign_locked(obj):
            return ["name", "kind", "weight_shown", "share", "messages"]
        return self.fields

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return [*super().get_readonly_fields(request, obj), "weight_shown"]

    @admin.display(description=_("weight"))
    def weight_shown(self, arm: Arm) -> str:
        return plain_number(arm.weight)

    @admin.display(description=_("share"))
    def share(self, arm: Arm) -> str:
        if arm.pk is None:
            return "-"
        total = sum((a.weight for a in arm.campaign.arms.all()), Decimal(0))
        return f"{arm.weight / total:.1%}" if total > 0 else "-"

    def formfield_for_manytomany(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        field = super().formfield_for_manytomany(db_field, request, **kwargs)
        if db_field.name == "messages" and not request.user.is_superuser:
            field.queryset = Message.objects.filter(organisation=user_organisation(request.user))
        return field


class ScheduleForm(forms.ModelForm):
    window_weekdays = forms.TypedMultipleChoiceField(
        choices=[(1, "Mon"), (2, "Tue"), (3, "Wed"), (4, "Thu"), (5, "Fri"), (6, "Sat"),
                 (7, "Sun")], coerce=int, required=False,
        widget=forms.CheckboxSelectMultiple, help_text="None ticked means every day.")

    class Meta:
        model = Schedule
        fields = ["kind", "channel", "send_at", "recurrence", "time_of_day",
                  "relative_attribute", "offset_days", "window_start", "window_end",
                  "window_weekdays"]

    def clean(self) -> dict:
        data = super().clean()
        if self.errors:
            return data
        candidate = Schedule(**{k: v for k, v in data.items() if k in self.Meta.fields})
        from django.utils import timezone

        unchanged_past = self.instance.pk and "send_at" not in self.changed_data
        for problem in schedule_problems(candidate, now=timezone.now()):
            field, _, detail = problem.partition(": ")
            if unchanged_past and field == "send_at" and "past" in detail:
                continue  # an old one-off that already fired may stay as it is
            self.add_error(field if field in self.fields else None, detail)
        if data.get("channel") and data["channel"] not in authoring.SCHEDULED_CHANNELS:
            self.add_error("channel", "A schedule sends by email, SMS or webhook.")
        return data


class ScheduleInline(LockedInlineMixin, admin.StackedInline):
    model = Schedule
    form = ScheduleForm
    extra = 0
    readonly_fields = ["next_fire_at"]
    verbose_name_plural = ("Schedules: when email/SMS go out (times in the organisation's zone; "
                           "send windows in the recipient's)")


# --- campaign ---------------------------------------------------------------------------------

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


# --- messages ---------------------------------------------------------------------------------

class MessageForm(forms.ModelForm):
    class Meta:
        model = Message
        fields = ["organisation", "name", "channel", "language", "framing", "polarity",
                  "subject", "body"]
        widgets = {"body": forms.Textarea(attrs={"rows": 12, "cols": 90})}

    def clean(self) -> dict:
        data = super().clean()
        candidate = Message(body=data.get("body") or "", subject=data.get("subject") or "")
        for problem in message_validate(candidate):
            part, _, detail = problem.partition(": ")
            self.add_error(part if part in self.fields else None, detail)
        if self.instance.pk:
            live = [c for c in Campaign.objects.filter(arms__messages=self.instance).distinct()
                    if c.status not in lifecycle.EDITABLE]
            if live:
                raise ValidationError(
                    "This message is used by live campaigns ("
                    + ", ".join(f"{c.name}: {c.status}" for c in live)
                    + "). Make a new message instead.")
        return data


@admin.register(Message)
class MessageAdmin(RoleAccess, OrganisationScopedAdmin):
    form = MessageForm
    change_form_template = "admin/campaigns/message/change_form.html"
    list_display = ["name", "channel", "language", "framing", "polarity", "updated_at"]
    list_filter = ["channel", "language", "framing", "polarity"]
    search_fields = ["name", "subject"]

    def save_model(self, request: HttpRequest, obj: Message, form: Any, change: bool) -> None:
        actor = Actor(user=request.user)
        if not request.user.is_superuser:
            obj.organisation = user_organisation(request.user)
        fields = {f: getattr(obj, f) for f in content.MESSAGE_FIELDS}
        if change:
            original = Message.objects.get(pk=obj.pk)
            changed = {f: v for f, v in fields.items() if f in form.changed_data}
            authoring.message_update(message=original, actor=actor, **changed)
        else:
            created = authoring.message_create(organisation=obj.organisation, actor=actor,
                                               **fields)
            obj.pk, obj._state.adding = created.pk, False

    def change_view(self, request: HttpRequest, object_id: str, form_url: str = "",
                    extra_context: dict | None = None) -> Any:
        message = self.get_object(request, object_id)
        extra = dict(extra_context or {})
        if message is not None:
            extra.update(preview_context(request, message))
        return super().change_view(request, object_id, form_url, extra)

    def get_urls(self) -> list:
        custom = [path("preview-sample/", self.admin_site.admin_view(self.sample_view),
                       name="campaigns_message_sample")]
        return custom + super().get_urls()

    def sample_view(self, request: HttpRequest) -> TemplateResponse:
        """The fixed context a template may use, with a sample of each value."""
        context = {**self.admin_site.each_context(request), "title": "Message template context",
                   "sample": sample_context().as_dict(), "opts": self.model._meta}
        return TemplateResponse(request, "admin/campaigns/message/sample_context.html", context)


def preview_context(request: HttpRequest, message: Message) -> dict:
    """Render `message` for the country/stage chosen on the page (directory data), or a sample."""
    country = (request.GET.get("preview_country") or "GB").upper()[:2]
    stage = request.GET.get("preview_stage") or None
    if stage not in AudienceStage.values:
        stage = None
    source = request.GET.get("preview_source") or "directory"
    if source == "sample":
        context: RenderContext = sample_context(organisation_name=message.organisation.name,
                                                country=country, language=message.language)
    else:
        try:
            context = build_preview_context(organisation=message.organisation, country=country,
                                            language=message.language, stage=stage)
        except DomainError as error:
            return {"preview_error": error.message}
    result: dict[str, Any] = {
        "preview_country": country, "preview_stage": stage or "", "preview_source": source,
        "preview_stages": AudienceStage.choices,
        "preview_resources": context.help_resources,
    }
    try:
        result["preview"] = render_message(message=message, context=context)
    except RenderError as error:
        result["preview_error"] = str(error)
    return result

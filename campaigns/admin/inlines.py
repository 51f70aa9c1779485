"""The campaign page's inlines: flights, arms (with their weights) and schedules."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from campaigns import authoring
from campaigns.admin.access import LockedInlineMixin, campaign_locked, plain_number
from campaigns.models import Arm, ArmKind, Flight, Message, Schedule
from campaigns.schedules import schedule_problems
from organisations.selectors import user_organisation


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


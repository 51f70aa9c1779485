"""Where programme managers check and confirm their directory.

Edits go through directory.services so every change is audited and a changed phone number or
URL withdraws the confirmation.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib import admin, messages
from django.db import models
from django.db.models import F, Q, QuerySet, Value
from django.db.models.functions import Coalesce
from django.http import HttpRequest
from django.utils.html import format_html

from core.errors import DomainError
from directory.models import (
    DirectoryPolicy,
    HelpResource,
    LegalNotice,
    OpeningHours,
    Statute,
    VerificationStatus,
)
from directory.selectors import stale_windows, verification_q
from directory.services import (
    EDITABLE_FIELDS,
    help_resource_confirm,
    help_resource_create,
    help_resource_update,
)
from organisations.admin_base import OrganisationScopedAdmin
from organisations.selectors import user_organisation
from organisations.services import Actor, audit_record

# Addresses typed without a scheme are web pages over HTTPS (Django 6 default, set now).
URL_FORMFIELD = {models.URLField: {"assume_scheme": "https"}}

STATUS_COLOURS = {
    VerificationStatus.CONFIRMED: "#1b7a3a",
    VerificationStatus.NEEDS_VERIFICATION: "#9a6700",
    VerificationStatus.STALE: "#b35900",
    VerificationStatus.NOT_DISPLAYABLE: "#b00020",
}


class VerificationStatusFilter(admin.SimpleListFilter):
    title = "verification status"
    parameter_name = "verification"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list:
        return VerificationStatus.choices

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        if self.value() in VerificationStatus.values:
            return queryset.filter(verification_q(self.value()))
        return queryset


class CountryFilter(admin.SimpleListFilter):
    title = "country"
    parameter_name = "country"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list:
        codes = set()
        for countries in model_admin.get_queryset(request).values_list("countries", flat=True):
            codes.update(countries or [])
        return [(code, "Worldwide" if code == "*" else code) for code in sorted(codes)]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        code = self.value()
        if not code:
            return queryset
        # JSON list containment is not portable to SQLite; the directory is small.
        ids = [pk for pk, countries in queryset.values_list("pk", "countries")
               if code in (countries or [])]
        return queryset.filter(Q(pk__in=ids))


class OpeningHoursInline(admin.TabularInline):
    model = OpeningHours
    extra = 0


@admin.register(HelpResource)
class HelpResourceAdmin(OrganisationScopedAdmin):
    formfield_overrides = URL_FORMFIELD
    list_display = ["name", "kind", "country_list", "verification", "source_status",
                    "confirmed_at", "organisation"]
    list_filter = ["kind", VerificationStatusFilter, CountryFilter, "source_status"]
    search_fields = ["name", "slug", "provider_organisation"]
    inlines = [OpeningHoursInline]
    actions = ["confirm_selected"]
    readonly_fields = ["verification", "source_status", "source_checked_on", "sources",
                       "field_sources", "inferred_fields", "caveats", "confirmed_by",
                       "confirmed_at", "confirmation_note", "created_at", "updated_at"]
    fieldsets = [
        (None, {"fields": ["organisation", "slug", "name", "provider_organisation", "kind",
                           "description", "audiences", "countries", "languages"]}),
        ("Contact", {"fields": ["phone", "url", "anonymous", "cost"]}),
        ("Opening hours", {"fields": ["opening_hours_text", "time_zone",
                                      "structured_hours_note"]}),
        ("Verification", {"fields": ["verification", "confirmed_by", "confirmed_at",
                                     "confirmation_note"]}),
        ("Sources (from the shared reference data)", {
            "fields": ["source_status", "source_checked_on", "caveats", "inferred_fields",
                       "sources", "field_sources"]}),
        ("History", {"fields": ["created_at", "updated_at"]}),
    ]

    def get_fieldsets(self, request: HttpRequest, obj: Any = None) -> Any:
        fieldsets = super().get_fieldsets(request, obj)
        if request.user.is_superuser:
            return fieldsets
        first = dict(fieldsets[0][1])
        first["fields"] = [f for f in first["fields"] if f != "organisation"]
        return [(fieldsets[0][0], first), *fieldsets[1:]]

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        # The policy window comes along with each row, so the status column costs no query.
        return (super().get_queryset(request).select_related("organisation", "confirmed_by")
                .annotate(stale_after_days=Coalesce(
                    F("organisation__directory_policy__stale_after_days"),
                    Value(settings.HELP_RESOURCE_STALE_AFTER_DAYS))))

    @admin.display(description="countries")
    def country_list(self, obj: HelpResource) -> str:
        return ", ".join(obj.countries or []) or "unknown"

    @admin.display(description="verification status")
    def verification(self, obj: HelpResource) -> str:
        if obj.pk is None:
            return "-"
        window = getattr(obj, "stale_after_days", None)
        if window is None:
            window = stale_windows([obj.organisation_id])[obj.organisation_id]
        status = VerificationStatus(obj.verification_status(stale_after_days=window))
        return format_html('<strong style="color:{}">{}</strong>', STATUS_COLOURS[status],
                           status.label.lower())

    @admin.action(description="Confirm selected resources", permissions=["change"])
    def confirm_selected(self, request: HttpRequest, queryset: QuerySet) -> None:
        confirmed, refused = 0, []
        for resource in queryset:
            try:
                help_resource_confirm(resource=resource, actor=Actor(user=request.user))
                confirmed += 1
            except DomainError:
                refused.append(resource.name)
        self.message_user(request, f"Confirmed {confirmed} resource(s).")
        if refused:
            self.message_user(request, "Not confirmed (no confirmed contact route): "
                              + "; ".join(refused), level=messages.WARNING)

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        fields = {name: form.cleaned_data[name] for name in form.changed_data
                  if name in EDITABLE_FIELDS}
        actor = Actor(user=request.user)
        if change:
            stored = HelpResource.objects.get(pk=obj.pk)
            saved = help_resource_update(resource=stored, actor=actor, **fields)
        else:
            organisation = form.cleaned_data.get("organisation") or self._caller_org(request)
            all_fields = {name: form.cleaned_data[name] for name in EDITABLE_FIELDS
                          if name in form.cleaned_data}
            saved = help_resource_create(organisation=organisation, actor=actor, **all_fields)
        obj.pk, obj.organisation_id = saved.pk, saved.organisation_id

    def save_formset(self, request: HttpRequest, form: Any, formset: Any, change: bool) -> None:
        super().save_formset(request, form, formset, change)
        if formset.has_changed():
            resource = form.instance
            audit_record(organisation=resource.organisation, actor=Actor(user=request.user),
                         action="help_resource.set_hours", target=resource,
                         changes={"periods": [h.as_dict() for h in resource.opening_hours.all()]})

    def _caller_org(self, request: HttpRequest) -> Any:
        return user_organisation(request.user)


class StatuteInline(admin.StackedInline):
    model = Statute
    formfield_overrides = URL_FORMFIELD
    extra = 0


@admin.register(LegalNotice)
class LegalNoticeAdmin(OrganisationScopedAdmin):
    list_display = ["jurisdiction", "also_applies", "source_checked_on", "organisation"]
    search_fields = ["jurisdiction"]
    inlines = [StatuteInline]
    readonly_fields = ["confidence", "source_checked_on", "created_at", "updated_at"]

    @admin.display(description="also applies to")
    def also_applies(self, obj: LegalNotice) -> str:
        return ", ".join(obj.also_applies_to or [])


@admin.register(DirectoryPolicy)
class DirectoryPolicyAdmin(OrganisationScopedAdmin):
    list_display = ["organisation", "stale_after_days"]

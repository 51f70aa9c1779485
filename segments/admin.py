"""Admin: a rule editor with live validation and a preview count, recipients without readable
contact details, suppressions, and the CSV import with its row report."""

from __future__ import annotations

import json
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html_join

from core.errors import DomainError
from organisations.admin_base import OrganisationScopedAdmin
from organisations.models import Organisation
from organisations.selectors import user_organisation
from organisations.services import Actor
from segments.importing import EMAIL_PROBLEM, PHONE_PROBLEM, contact_normalise
from segments.models import (
    CustomAttribute,
    Recipient,
    RecipientStatus,
    Segment,
    Suppression,
)
from segments.recipients import import_max_bytes, recipient_erase, recipients_import_file
from segments.rules import RuleError
from segments.selectors import contact_for, contact_masked, rule_preview
from segments.services import (
    custom_attribute_check,
    custom_attribute_create,
    custom_attribute_delete,
    segment_create,
    segment_update,
    suppression_add,
)
from segments.targeting import rule_parse


def acting_organisation(request: HttpRequest, chosen: Any = None) -> Organisation | None:
    """The organisation a staff member acts for: their own; a superuser picks one."""
    if request.user.is_superuser and chosen:
        return Organisation.objects.filter(pk=chosen).first()
    return user_organisation(request.user)


def with_acting_organisation(form_class: type, organisation: Organisation | None) -> type:
    """The form class, knowing the organisation its clean() must check against."""
    return type(form_class.__name__, (form_class,), {"acting_organisation": organisation})


def domain_error_to_form(form: forms.Form, error: DomainError) -> None:
    field = error.field if error.field in form.fields else None
    form.add_error(field, error.message)


# ---- segments ---------------------------------------------------------------------------------


class SegmentForm(forms.ModelForm):
    class Meta:
        model = Segment
        fields = ["organisation", "name", "stage", "description", "rule"]
        widgets = {"rule": forms.Textarea(attrs={"rows": 4, "cols": 90, "spellcheck": "false",
                                                 "class": "segment-rule"})}

    def clean(self) -> dict:
        data = super().clean()
        organisation = data.get("organisation") or getattr(self, "acting_organisation", None)
        if organisation is not None and data.get("rule"):
            try:
                rule_parse(data["rule"], organisation=organisation)
            except RuleError as error:
                self.add_error("rule", str(error))
        if organisation is not None and data.get("name"):
            taken = Segment.objects.filter(organisation=organisation, name=data["name"])
            if taken.exclude(pk=self.instance.pk).exists():
                self.add_error("name", "A segment with this name already exists.")
        return data


@admin.register(Segment)
class SegmentAdmin(OrganisationScopedAdmin):
    form = SegmentForm
    audit_admin_changes = False  # saved through audited services
    list_display = ["name", "stage", "status", "fields_used", "updated_at"]
    list_filter = ["stage", "status"]
    search_fields = ["name"]
    readonly_fields = ["status", "error", "fields", "preview"]
    change_form_template = "admin/segments/segment/change_form.html"

    @admin.display(description="Fields")
    def fields_used(self, segment: Segment) -> str:
        return ", ".join(segment.fields)

    @admin.display(description="Stored recipients matching now")
    def preview(self, segment: Segment) -> str:
        if segment.pk is None or segment.status != "ready":
            return "-"
        try:
            rule = rule_parse(segment.rule, organisation=segment.organisation)
        except RuleError:
            return "-"
        result = rule_preview(organisation=segment.organisation, rule=rule, now=timezone.now())
        return result.count.display

    def get_form(self, request: HttpRequest, obj: Any = None, change: bool = False,
                 **kwargs: Any) -> Any:
        form_class = super().get_form(request, obj, change=change, **kwargs)
        organisation = obj.organisation if obj else user_organisation(request.user)
        return with_acting_organisation(form_class, organisation)

    def save_model(self, request: HttpRequest, obj: Segment, form: Any, change: bool) -> None:
        # Through the services, so the rule's fields and status are set and the change audited.
        actor = Actor(user=request.user)
        values = {name: form.cleaned_data[name] for name in ("name", "stage", "rule",
                                                              "description")}
        if change:
            changed = {k: v for k, v in values.items() if k in form.changed_data}
            segment = segment_update(segment=Segment.objects.get(pk=obj.pk), actor=actor,
                                     **changed)
        else:
            organisation = form.cleaned_data.get("organisation") or user_organisation(
                request.user)
            segment = segment_create(organisation=organisation, actor=actor, **values)
        obj.pk = segment.pk

    def get_urls(self) -> list:
        view = self.admin_site.admin_view(self.validate_rule_view)
        return [path("validate-rule/", view, name="segments_segment_validate_rule"),
                *super().get_urls()]

    def validate_rule_view(self, request: HttpRequest) -> HttpResponse:
        """Staff-only JSON for the editor: the error and its position, or fields and count."""
        if request.method != "POST":
            return JsonResponse({"detail": "POST a rule."}, status=405)
        try:
            payload = json.loads(request.body or b"{}")
        except ValueError:
            return JsonResponse({"detail": "Send JSON."}, status=400)
        text = payload.get("rule") if isinstance(payload, dict) else None
        organisation = acting_organisation(request, payload.get("organisation"))
        if not isinstance(text, str) or organisation is None:
            return JsonResponse({"detail": "Send a rule (and an organisation)."}, status=400)
        return JsonResponse(rule_check_for_editor(text, organisation=organisation))


def rule_check_for_editor(text: str, *, organisation: Organisation) -> dict:
    try:
        rule = rule_parse(text, organisation=organisation)
    except RuleError as error:
        return {"valid": False, "error": {"message": str(error), "line": error.line,
                                          "column": error.column}}
    preview = rule_preview(organisation=organisation, rule=rule, now=timezone.now())
    return {"valid": True, "fields": list(rule.fields), "normalised": rule.text,
            "count": preview.count.display}


# ---- custom attributes ------------------------------------------------------------------------


class CustomAttributeForm(forms.ModelForm):
    choices = forms.CharField(required=False, help_text="Choice attributes: one value a line.",
                              widget=forms.Textarea(attrs={"rows": 4}))

    class Meta:
        model = CustomAttribute
        fields = ["organisation", "name", "type", "choices", "description"]

    def clean_choices(self) -> list[str]:
        text = self.cleaned_data.get("choices") or ""
        if isinstance(text, list):
            return text
        return [line.strip() for line in text.splitlines() if line.strip()]

    def clean(self) -> dict:
        data = super().clean()
        organisation = data.get("organisation") or getattr(self, "acting_organisation", None)
        if organisation is not None and data.get("name") and data.get("type"):
            try:
                custom_attribute_check(organisation=organisation, name=data["name"],
                                       type=data["type"], choices=data.get("choices") or [])
            except DomainError as error:
                domain_error_to_form(self, error)
        return data


@admin.register(CustomAttribute)
class CustomAttributeAdmin(OrganisationScopedAdmin):
    form = CustomAttributeForm
    audit_admin_changes = False
    list_display = ["name", "type", "choice_list", "description"]

    @admin.display(description="Choices")
    def choice_list(self, attribute: CustomAttribute) -> str:
        return ", ".join(attribute.choices)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # Changing a type under stored values would make them mean something else.
        return obj is None and super().has_change_permission(request, obj)

    def get_form(self, request: HttpRequest, obj: Any = None, change: bool = False,
                 **kwargs: Any) -> Any:
        return with_acting_organisation(super().get_form(request, obj, change=change, **kwargs),
                                        user_organisation(request.user))

    def save_model(self, request: HttpRequest, obj: CustomAttribute, form: Any,
                   change: bool) -> None:
        organisation = form.cleaned_data.get("organisation") or user_organisation(request.user)
        created = custom_attribute_create(
            organisation=organisation, name=form.cleaned_data["name"],
            type=form.cleaned_data["type"], choices=form.cleaned_data["choices"],
            description=form.cleaned_data.get("description", ""), actor=Actor(user=request.user))
        obj.pk = created.pk

    def delete_model(self, request: HttpRequest, obj: CustomAttribute) -> None:
        custom_attribute_delete(attribute=obj, actor=Actor(user=request.user))

    def delete_queryset(self, request: HttpRequest, queryset: Any) -> None:
        for attribute in queryset:
            self.delete_model(request, attribute)


# ---- recipients -------------------------------------------------------------------------------


class RecipientImportForm(forms.Form):
    organisation = forms.ModelChoiceField(queryset=Organisation.objects.all(), required=False,
                                          help_text="Superusers: the organisation to import "
                                                    "into.")
    file = forms.FileField(help_text="CSV with a header line (UTF-8), or NDJSON.")
    format = forms.ChoiceField(choices=[("csv", "CSV"), ("ndjson", "NDJSON")], initial="csv")


@admin.register(Recipient)
class RecipientAdmin(OrganisationScopedAdmin):
    list_display = ["pseudonym", "stage", "country", "language", "age", "status", "channels",
                    "created_at"]
    list_filter = ["status", "stage", "country"]
    readonly_fields = ["pseudonym", "reference_key_id", "stage", "country", "language",
                       "time_zone", "age", "attributes", "status", "created_at", "updated_at",
                       "erased_at", "contacts"]
    fields = readonly_fields
    actions = ["erase_selected"]
    change_list_template = "admin/segments/recipient/change_list.html"

    def get_queryset(self, request: HttpRequest) -> Any:
        return super().get_queryset(request).prefetch_related("contact_points")

    @admin.display(description="Pseudonym")
    def pseudonym(self, recipient: Recipient) -> str:
        return f"{recipient.reference_pseudonym[:12]}…"

    @admin.display(description="Channels")
    def channels(self, recipient: Recipient) -> str:
        return ", ".join(sorted(p.channel for p in recipient.contact_points.all()))

    @admin.display(description="Contacts (masked)")
    def contacts(self, recipient: Recipient) -> str:
        rows = []
        for point in recipient.contact_points.all():
            value = contact_for(recipient=recipient, channel=point.channel) or ""
            rows.append((point.get_channel_display(), contact_masked(value, point.channel),
                         point.get_consent_basis_display(), f"{point.consented_at:%Y-%m-%d}"))
        if not rows:
            return "-"
        return format_html_join("", "<div>{}: {} ({}, {})</div>", rows)

    def has_add_permission(self, request: HttpRequest, *args: Any) -> bool:
        return False  # recipients arrive through the import or the API, with consent

    def has_erase_permission(self, request: HttpRequest) -> bool:
        return super().has_delete_permission(request)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # erase instead: the pseudonymous row stays for aggregates

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.action(description="Erase selected recipients (crypto-shred contact details)",
                  permissions=["erase"])
    def erase_selected(self, request: HttpRequest, queryset: Any) -> None:
        erased = 0
        for recipient in queryset.exclude(status=RecipientStatus.ERASED):
            recipient_erase(recipient=recipient, actor=Actor(user=request.user))
            erased += 1
        self.message_user(request, f"Erased {erased} recipient(s).", messages.SUCCESS)

    def get_urls(self) -> list:
        view = self.admin_site.admin_view(self.import_view)
        return [path("import/", view, name="segments_recipient_import"), *super().get_urls()]

    def import_view(self, request: HttpRequest) -> HttpResponse:
        if not self.has_erase_permission(request):  # the same roles that may write recipients
            raise PermissionDenied
        form = RecipientImportForm(request.POST or None, request.FILES or None)
        if not request.user.is_superuser:
            del form.fields["organisation"]
        report = None
        if request.method == "POST" and form.is_valid():
            report = self.run_import(request, form)
        context = {**self.admin_site.each_context(request), "opts": self.model._meta,
                   "title": "Import recipients", "form": form, "report": report,
                   "max_megabytes": import_max_bytes() // (1024 * 1024),
                   "changelist_url": reverse("admin:segments_recipient_changelist")}
        return TemplateResponse(request, "admin/segments/recipient/import.html", context)

    def run_import(self, request: HttpRequest, form: RecipientImportForm) -> Any:
        organisation = acting_organisation(request, getattr(
            form.cleaned_data.get("organisation"), "pk", None))
        if organisation is None:
            form.add_error(None, "Choose the organisation to import into.")
            return None
        upload = form.cleaned_data["file"]
        if upload.size > import_max_bytes():
            form.add_error("file", f"The file is larger than {import_max_bytes()} bytes; "
                                   "split it.")
            return None
        try:
            return recipients_import_file(organisation=organisation, content=upload.read(),
                                          format=form.cleaned_data["format"],
                                          actor=Actor(user=request.user))
        except DomainError as error:
            form.add_error("file", error.message)
            return None


# ---- suppressions -----------------------------------------------------------------------------


class SuppressionAddForm(forms.ModelForm):
    value = forms.CharField(help_text="The email address or international phone number. Only a "
                                      "keyed digest of it is stored.")

    class Meta:
        model = Suppression
        fields = ["organisation", "channel", "value", "reason", "note"]

    def clean(self) -> dict:
        data = super().clean()
        if data.get("channel") and data.get("value"):
            normalised = contact_normalise(data["channel"], data["value"])
            if normalised is None:
                self.add_error("value", EMAIL_PROBLEM if data["channel"] == "email"
                               else PHONE_PROBLEM)
            else:
                data["value"] = normalised
        return data


@admin.register(Suppression)
class SuppressionAdmin(OrganisationScopedAdmin):
    audit_admin_changes = False
    list_display = ["channel", "reason", "recipient", "note", "created_at"]
    list_filter = ["channel", "reason"]
    readonly_fields = ["channel", "reason", "recipient", "note", "created_at"]

    def get_form(self, request: HttpRequest, obj: Any = None, change: bool = False,
                 **kwargs: Any) -> Any:
        if obj is None:
            kwargs["form"] = SuppressionAddForm
        return super().get_form(request, obj, change=change, **kwargs)

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return self.readonly_fields if obj else []

    def save_model(self, request: HttpRequest, obj: Suppression, form: Any,
                   change: bool) -> None:
        organisation = form.cleaned_data.get("organisation") or user_organisation(request.user)
        suppression, _ = suppression_add(
            organisation=organisation, channel=form.cleaned_data["channel"],
            value=form.cleaned_data["value"], reason=form.cleaned_data["reason"],
            note=form.cleaned_data.get("note", ""), actor=Actor(user=request.user))
        obj.pk = suppression.pk

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


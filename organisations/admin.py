from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.http import HttpRequest

from organisations.admin_base import OrganisationScopedAdmin
from organisations.models import (
    ApiKey,
    ApiScope,
    AuditEvent,
    Membership,
    Organisation,
    Partnership,
)
from organisations.selectors import user_organisation
from organisations.services import Actor, api_key_create, api_key_revoke


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ["user"]


class PartnershipInline(admin.TabularInline):
    model = Partnership
    fk_name = "programme"
    extra = 0


@admin.register(Organisation)
class OrganisationAdmin(OrganisationScopedAdmin):
    organisation_field = "pk"
    list_display = ["name", "kind", "slug", "time_zone"]
    list_filter = ["kind"]
    search_fields = ["name", "slug"]
    inlines = [MembershipInline, PartnershipInline]

    def get_queryset(self, request: HttpRequest) -> Any:
        queryset = admin.ModelAdmin.get_queryset(self, request)
        if request.user.is_superuser:
            return queryset
        organisation = user_organisation(request.user)
        return queryset.filter(pk=organisation.pk) if organisation else queryset.none()


class ApiKeyCreateForm(forms.ModelForm):
    scopes = forms.MultipleChoiceField(choices=ApiScope.choices,
                                       widget=forms.CheckboxSelectMultiple)

    class Meta:
        model = ApiKey
        fields = ["organisation", "name", "scopes", "expires_at"]


@admin.register(ApiKey)
class ApiKeyAdmin(OrganisationScopedAdmin):
    audit_admin_changes = False  # creation and revocation go through audited services
    list_display = ["name", "organisation", "prefix", "created_at", "expires_at", "last_used_at",
                    "revoked_at"]
    list_filter = ["organisation"]
    readonly_fields = ["prefix", "created_at", "created_by", "last_used_at", "revoked_at",
                       "scopes"]
    actions = ["revoke_keys"]

    def get_form(self, request: HttpRequest, obj: Any = None, **kwargs: Any) -> Any:
        if obj is None:
            kwargs["form"] = ApiKeyCreateForm
        return super().get_form(request, obj, **kwargs)

    def get_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        if obj is None:
            fields = ["organisation", "name", "scopes", "expires_at"]
            return fields if request.user.is_superuser else fields[1:]
        return ["organisation", "name", "prefix", "scopes", "created_at", "created_by",
                "expires_at", "last_used_at", "revoked_at"]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        if obj is None:
            return []
        return ["organisation", "name", *self.readonly_fields]

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        if change:
            return super().save_model(request, obj, form, change)
        organisation = form.cleaned_data.get("organisation") or user_organisation(request.user)
        api_key, secret = api_key_create(
            organisation=organisation, name=form.cleaned_data["name"],
            scopes=form.cleaned_data["scopes"], expires_at=form.cleaned_data.get("expires_at"),
            actor=Actor(user=request.user))
        obj.pk = api_key.pk
        messages.warning(request, f"Copy this key now; it will not be shown again: {secret}")
        return None

    @admin.action(description="Revoke selected keys")
    def revoke_keys(self, request: HttpRequest, queryset: Any) -> None:
        for api_key in queryset:
            api_key_revoke(api_key=api_key, actor=Actor(user=request.user))
        self.message_user(request, f"Revoked {queryset.count()} key(s).")


@admin.register(AuditEvent)
class AuditEventAdmin(OrganisationScopedAdmin):
    audit_admin_changes = False
    list_display = ["at", "action", "object_type", "object_id", "actor_user", "actor_api_key"]
    list_filter = ["action", "object_type"]
    readonly_fields = [f.name for f in AuditEvent._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

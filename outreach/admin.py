"""Admin pieces shared by every app: tenant scoping and the two-factor admin site."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from organisations.selectors import user_organisation

admin.site.site_header = "Outreach"
admin.site.site_title = "Outreach admin"
admin.site.index_title = "Prevention programmes"

if settings.ADMIN_REQUIRE_OTP:
    from django_otp.admin import OTPAdminSite

    # Staff must pass a TOTP or static token as well as the password to reach the admin.
    admin.site.__class__ = OTPAdminSite


class OrganisationScopedAdmin(admin.ModelAdmin):
    """A non-superuser sees and edits only their own organisation's objects.

    `organisation_field` names the path to the owning organisation (e.g. "campaign__organisation").
    """

    organisation_field = "organisation"

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        queryset = super().get_queryset(request)
        if request.user.is_superuser:
            return queryset
        organisation = user_organisation(request.user)
        if organisation is None:
            return queryset.none()
        return queryset.filter(**{self.organisation_field: organisation})

    def get_exclude(self, request: HttpRequest, obj: Any = None) -> Any:
        excluded = list(super().get_exclude(request, obj) or [])
        if not request.user.is_superuser and self.organisation_field == "organisation":
            excluded.append("organisation")
        return excluded

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        if not change and not request.user.is_superuser and hasattr(obj, "organisation_id"):
            obj.organisation = user_organisation(request.user)
        super().save_model(request, obj, form, change)

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        field = super().formfield_for_foreignkey(db_field, request, **kwargs)
        scoped = _scope_choices(field.queryset, request)
        if scoped is not None:
            field.queryset = scoped
        return field

    def formfield_for_manytomany(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        field = super().formfield_for_manytomany(db_field, request, **kwargs)
        scoped = _scope_choices(field.queryset, request)
        if scoped is not None:
            field.queryset = scoped
        return field


def _scope_choices(queryset: QuerySet, request: HttpRequest) -> QuerySet | None:
    """Limit a related-object dropdown to the user's organisation where the model has one."""
    if request.user.is_superuser:
        return None
    field_names = {field.name for field in queryset.model._meta.get_fields()}
    if "organisation" not in field_names:
        return None
    return queryset.filter(organisation=user_organisation(request.user))

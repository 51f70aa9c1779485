"""Admin pieces shared by every app: tenant scoping (the site itself: outreach/admin_site.py)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db import transaction
from django.db.models import QuerySet
from django.http import HttpRequest

from organisations.models import Organisation
from organisations.selectors import user_organisation, user_role
from organisations.services import Actor, audit_record


class OrganisationScopedAdmin(admin.ModelAdmin):
    """A non-superuser sees and edits only their own organisation's objects.

    `organisation_field` names the path to the owning organisation (e.g. "campaign__organisation").
    """

    organisation_field = "organisation"
    # Admin edits write an audit row; admins whose saves go through audited services turn it off.
    audit_admin_changes = True
    # Roles that may add, change and delete here; every member may view.
    write_roles: frozenset[str] = frozenset({"manager"})
    # Filter facets are counts of groups ("stage: offender (12)"): not shown. Changelist
    # counts go through the disclosure filter (templates/admin/pagination.html etc.).
    show_facets = admin.ShowFacets.NEVER

    def has_module_permission(self, request: HttpRequest) -> bool:
        return request.user.is_superuser or user_role(request.user) is not None

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self.has_module_permission(request)

    def has_add_permission(self, request: HttpRequest, *args: Any) -> bool:
        return request.user.is_superuser or user_role(request.user) in self.write_roles

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return request.user.is_superuser or user_role(request.user) in self.write_roles

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return request.user.is_superuser or user_role(request.user) in self.write_roles

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
        with transaction.atomic():
            super().save_model(request, obj, form, change)
            if self.audit_admin_changes:
                verb = "change" if change else "add"
                self._audit(request, obj, f"admin.{verb}", {"fields": list(form.changed_data)})

    def delete_model(self, request: HttpRequest, obj: Any) -> None:
        with transaction.atomic():
            if self.audit_admin_changes:
                self._audit(request, obj, "admin.delete", {"repr": str(obj)[:200]})
            super().delete_model(request, obj)

    def _audit(self, request: HttpRequest, obj: Any, action: str, changes: dict) -> None:
        organisation = getattr(obj, "organisation", None)
        if not isinstance(organisation, Organisation):
            organisation = user_organisation(request.user)
        audit_record(organisation=organisation, actor=Actor(user=request.user),
                     action=f"{obj._meta.model_name}.{action}", target=obj, changes=changes)

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

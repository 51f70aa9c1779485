from __future__ import annotations

from rest_framework import permissions

from organisations.api.principal import caller_organisation, caller_scopes


class HasOrganisationScope(permissions.BasePermission):
    """The caller acts for an organisation and holds the scope the view asks for.

    Views declare `read_scope` (safe methods) and `write_scope` (others). A view that declares
    neither only needs an organisation. Missing credentials are a 401, a missing scope a 403.
    """

    message = "Your API key lacks the scope this endpoint needs."

    def has_permission(self, request, view) -> bool:  # type: ignore[no-untyped-def]
        if not getattr(request.user, "is_authenticated", False):
            return False
        if caller_organisation(request) is None:
            self.message = "Your account does not belong to an organisation."
            return False
        scope = required_scope(request, view)
        if scope is None:
            return True
        self.message = f"This endpoint needs the '{scope}' scope."
        return scope in caller_scopes(request)


def required_scope(request, view) -> str | None:  # type: ignore[no-untyped-def]
    if request.method in permissions.SAFE_METHODS:
        return getattr(view, "read_scope", None)
    return getattr(view, "write_scope", None) or getattr(view, "read_scope", None)

"""Who is calling the API: a partner key or a signed-in member, always of one organisation."""

from __future__ import annotations

from dataclasses import dataclass, field

from organisations.models import ApiKey, ApiScope, Organisation, Role
from organisations.selectors import user_membership

READ_SCOPES = frozenset(s for s in ApiScope.values if s.endswith(":read"))
ROLE_SCOPES: dict[str, frozenset[str]] = {
    Role.MANAGER: frozenset(ApiScope.values),
    Role.REVIEWER: READ_SCOPES | {ApiScope.CAMPAIGNS_WRITE},
    Role.ANALYST: READ_SCOPES,
    Role.VIEWER: READ_SCOPES - {ApiScope.REPORTS_READ, ApiScope.RECIPIENTS_READ},
}


@dataclass(frozen=True)
class ApiPrincipal:
    """Stands in for request.user when a partner key authenticates."""

    organisation: Organisation
    api_key: ApiKey
    scopes: frozenset[str] = field(default_factory=frozenset)
    is_authenticated: bool = True
    is_staff: bool = False
    is_superuser: bool = False

    @property
    def pk(self) -> None:
        return None

    def get_username(self) -> str:
        return f"api-key:{self.api_key.prefix}"


def caller_organisation(request) -> Organisation | None:  # type: ignore[no-untyped-def]
    user = request.user
    if isinstance(user, ApiPrincipal):
        return user.organisation
    membership = user_membership(user)
    return membership.organisation if membership else None


def caller_scopes(request) -> frozenset[str]:  # type: ignore[no-untyped-def]
    user = request.user
    if isinstance(user, ApiPrincipal):
        return user.scopes
    membership = user_membership(user)
    return ROLE_SCOPES.get(membership.role, frozenset()) if membership else frozenset()


def caller_api_key(request) -> ApiKey | None:  # type: ignore[no-untyped-def]
    user = request.user
    return user.api_key if isinstance(user, ApiPrincipal) else None

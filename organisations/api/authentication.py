from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from django.utils import timezone
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions

from organisations.api.principal import ApiPrincipal
from organisations.selectors import api_key_authenticate
from organisations.services import api_key_touch


class KeyMemory(Protocol):
    """A short memory of successful authentications (interventions' hot path has one)."""

    def authenticate(self, request: Any, fresh: Callable[[Any], Any]) -> Any: ...


class ApiKeyAuthentication(authentication.BaseAuthentication):
    """`Authorization: Bearer ork_<prefix>_<secret>`. Any failure is a plain 401.

    With a `memory`, a view trades a query per request for that memory's staleness (see
    interventions.api.authentication); without one, every request is checked afresh.
    """

    keyword = "Bearer"

    def __init__(self, memory: KeyMemory | None = None) -> None:
        self.memory = memory

    def authenticate(self, request):  # type: ignore[no-untyped-def]
        if self.memory is not None:
            return self.memory.authenticate(request, self.authenticate_fresh)
        return self.authenticate_fresh(request)

    def authenticate_fresh(self, request):  # type: ignore[no-untyped-def]
        header = authentication.get_authorization_header(request).decode("latin-1")
        if not header:
            return None
        keyword, _, token = header.partition(" ")
        if keyword != self.keyword or not token.strip():
            raise exceptions.AuthenticationFailed("Use 'Authorization: Bearer <api key>'.")
        api_key = api_key_authenticate(token.strip())
        if api_key is None:
            raise exceptions.AuthenticationFailed("Invalid, expired or revoked API key.")
        api_key_touch(api_key=api_key, now=timezone.now())
        principal = ApiPrincipal(organisation=api_key.organisation, api_key=api_key,
                                 scopes=frozenset(api_key.scopes))
        return principal, api_key

    def authenticate_header(self, request):  # type: ignore[no-untyped-def]
        return self.keyword


class ApiKeyAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = "organisations.api.authentication.ApiKeyAuthentication"
    name = "ApiKeyBearer"

    def get_security_definition(self, auto_schema):  # type: ignore[no-untyped-def]
        return {"type": "http", "scheme": "bearer", "bearerFormat": "ork_<prefix>_<secret>"}


class ApiKeyOnly:
    """View mixin: only an API key authenticates here, never a browser session.

    So there is nothing for CSRF to protect and no browser state to load: the partner
    endpoints, called from servers. `outreach.browser_middleware` steps the signed-in user,
    two-factor state and messages aside on these views' paths.
    """

    authentication_classes = [ApiKeyAuthentication]
    api_key_only = True

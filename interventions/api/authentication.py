"""API-key authentication with a short in-process memory, for the intervention hot path.

The foundation's ApiKeyAuthentication costs a query per request. `remembering` wraps its
`authenticate` so a successful result is remembered for AUTH_CACHE_SECONDS (5 s) per presented
key (by its SHA-256, never the key): a revoked key keeps working for at most that long in
each web process; expiry is re-checked on every request; failures are never remembered. The
authenticator stays an instance of the foundation's class, so the OpenAPI schema and every
other behaviour are unchanged.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

from django.utils import timezone

from interventions.memo import Memo
from organisations.api.authentication import ApiKeyAuthentication

AUTH_CACHE_SECONDS = 5.0
_remembered: Memo[tuple] = Memo(max_entries=1024)


def remembering(authenticator: Any) -> Any:
    """The authenticator, with remembered results if it is the API-key authenticator."""
    if isinstance(authenticator, ApiKeyAuthentication):
        original = authenticator.authenticate
        authenticator.authenticate = lambda request: _authenticate(request, original)
    return authenticator


def _authenticate(request: Any, original: Callable[[Any], Any]) -> Any:
    # From META, not request.headers: building the headers mapping costs more than the rest.
    header = request.META.get("HTTP_AUTHORIZATION", "")
    if not header:
        return None
    digest = hashlib.sha256(header.encode("latin-1", "replace")).digest()
    result = _remembered.get(digest, lambda: original(request), seconds=AUTH_CACHE_SECONDS)
    if result is not None and not result[1].is_usable(now=timezone.now()):
        return original(request)  # expired since it was remembered: refused afresh
    return result


def authentication_cache_clear() -> None:
    _remembered.clear()

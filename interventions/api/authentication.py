"""API-key authentication with a short in-process memory, for the intervention hot path.

The foundation's ApiKeyAuthentication costs a query per request. Here a successful result is
remembered for AUTH_CACHE_SECONDS (5 s) per presented key (by its SHA-256, never the key), so
a revoked key keeps working for at most that long in each web process; expiry is re-checked
on every request. Failures are never remembered.
"""

from __future__ import annotations

import hashlib
import time

from django.utils import timezone
from rest_framework import authentication

from outreach.api.authentication import ApiKeyAuthentication

AUTH_CACHE_SECONDS = 5.0
_MAX_ENTRIES = 1024
_remembered: dict[bytes, tuple[float, tuple]] = {}


class CachedApiKeyAuthentication(ApiKeyAuthentication):
    def authenticate(self, request):  # type: ignore[no-untyped-def]
        header = authentication.get_authorization_header(request)
        if not header:
            return None
        digest = hashlib.sha256(header).digest()
        now = time.monotonic()
        hit = _remembered.get(digest)
        if hit is not None and hit[0] > now and hit[1][1].is_usable(now=timezone.now()):
            return hit[1]
        result = super().authenticate(request)
        if result is not None:
            if len(_remembered) >= _MAX_ENTRIES:
                _remembered.clear()
            _remembered[digest] = (now + AUTH_CACHE_SECONDS, result)
        return result


def authentication_cache_clear() -> None:
    _remembered.clear()

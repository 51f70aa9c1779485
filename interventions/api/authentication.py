"""API-key authentication with a short in-process memory, for the intervention hot path.

The foundation's ApiKeyAuthentication costs a query per request. The intervention view builds
it with REMEMBERED as its memory: a successful result is remembered for AUTH_CACHE_SECONDS
(5 s) per presented key (by its SHA-256, never the key): a revoked key keeps working for at
most that long in each web process; expiry is re-checked on every request; failures are never
remembered. The authenticator is the foundation's class itself, so the OpenAPI schema and
every other behaviour are unchanged.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from typing import Any

from django.utils import timezone

from core.memo import Memo
from organisations.api.authentication import ApiKeyAuthentication

AUTH_CACHE_SECONDS = 5.0


class RememberedKeys:
    """organisations.api.authentication.KeyMemory for the hot path: good keys, 5 s."""

    def __init__(self) -> None:
        self.memo: Memo[tuple] = Memo(max_entries=1024)

    def authenticate(self, request: Any, fresh: Callable[[Any], Any]) -> Any:
        # From META, not request.headers: building the headers mapping costs more than the rest.
        header = request.META.get("HTTP_AUTHORIZATION", "")
        if not header:
            return None
        digest = hashlib.sha256(header.encode("latin-1", "replace")).digest()
        result = self.memo.get(digest, lambda: fresh(request), seconds=AUTH_CACHE_SECONDS)
        if result is not None and not result[1].is_usable(now=timezone.now()):
            return fresh(request)  # expired since it was remembered: refused afresh
        return result


REMEMBERED = RememberedKeys()


def remembering_authenticators(classes: Sequence[type]) -> list:
    """Instances of the view's authentication classes, the API-key one with REMEMBERED."""
    return [ApiKeyAuthentication(memory=REMEMBERED) if cls is ApiKeyAuthentication else cls()
            for cls in classes]


def authentication_cache_clear() -> None:
    REMEMBERED.memo.clear()

"""The one pseudonymisation function: keyed HMAC-SHA256 with a key per period.

A partner's session id or a recipient reference is replaced at the edge by
HMAC(key_of_period, purpose || 0x00 || identifier). The key id (the period) is stored beside
each pseudonym so keys can rotate monthly and be destroyed at the end of retention, after which
the old pseudonyms can no longer be linked to anyone. `purpose` separates namespaces (and
organisations), so the same identifier in two contexts never yields the same pseudonym.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime

from django.utils import timezone

from core.keys import MissingKeyError, period_of, pseudonym_ring

PSEUDONYM_LENGTH = 64  # hex characters of SHA-256


@dataclass(frozen=True)
class Pseudonym:
    key_id: str
    value: str

    def __str__(self) -> str:
        return f"{self.key_id}:{self.value}"


def _digest(key: bytes, *, purpose: str, identifier: str) -> str:
    message = purpose.encode() + b"\x00" + identifier.encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def pseudonymise(identifier: str, *, purpose: str, at: datetime | None = None) -> Pseudonym:
    """Pseudonymise under the key of the period containing `at` (default: now)."""
    key_id = period_of(at or timezone.now())
    key = pseudonym_ring().get(key_id, create=True)
    return Pseudonym(key_id=key_id, value=_digest(key, purpose=purpose, identifier=identifier))


def pseudonym_candidates(identifier: str, *, purpose: str) -> list[Pseudonym]:
    """The identifier's pseudonym under every key still held, newest first (for look-ups)."""
    ring = pseudonym_ring().keys()
    return [
        Pseudonym(key_id=key_id, value=_digest(key, purpose=purpose, identifier=identifier))
        for key_id, key in sorted(ring.items(), reverse=True)
    ]


__all__ = ["MissingKeyError", "Pseudonym", "pseudonym_candidates", "pseudonymise"]

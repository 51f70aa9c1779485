"""A partner's idempotency key is stored as a keyed hash, never as it was sent.

Partners choose their keys; one who puts a session id (or anything else that identifies a
person) in it would otherwise defeat pseudonymisation. The stored value is
`rh:` + HMAC-SHA256(index key, purpose || reporter id || key) (core.crypto.keyed_hash_many,
the long-lived index key outside the database): still unique per reporter, so a replay counts
once, and found again by hashing the replayed key. Our own keys (`click:…`, `helpline:…`,
`learning:…`) hold only our ids and stay readable.

Rows written before this (`r:` + the raw key) are rewritten by migration
evaluation.0008_hash_reported_idempotency_keys.
"""

from __future__ import annotations

from collections.abc import Sequence

from core.crypto import keyed_hash_many

REPORTED_PREFIX = "rh:"
RAW_REPORTED_PREFIX = "r:"  # before the keys were hashed
_PURPOSE = "evaluation.Outcome.idempotency_key"


def reported_keys(reporter_id: int, keys: Sequence[str]) -> list[str]:
    """The stored form of each key a reporter sent, in order."""
    digests = keyed_hash_many(keys, purpose=f"{_PURPOSE}\x00{reporter_id}")
    return [REPORTED_PREFIX + digest for digest in digests]


def reported_key(reporter_id: int, key: str) -> str:
    return reported_keys(reporter_id, [key])[0]

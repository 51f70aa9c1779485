"""The signature on outgoing partner webhooks and incoming provider callbacks.

Scheme (documented for partners in delivery/README.md):

    Outreach-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>." + raw body)>

The receiver recomputes the HMAC over the timestamp, a full stop and the exact bytes of the body,
compares in constant time, and rejects timestamps more than five minutes from its clock (so a
captured request cannot be replayed later). Several `v1=` values may appear during a secret
rotation; any one matching is enough.
"""

from __future__ import annotations

import hashlib
import hmac
import time

HEADER = "Outreach-Signature"
TOLERANCE_SECONDS = 300


def sign(body: bytes, *, secret: str, timestamp: int | None = None) -> str:
    stamp = int(time.time()) if timestamp is None else timestamp
    return f"t={stamp},v1={_mac(secret, stamp, body)}"


def verify(body: bytes, header: str, *, secret: str, now: float | None = None) -> bool:
    stamp, signatures = _parse(header)
    if stamp is None or not signatures or not secret:
        return False
    if abs((time.time() if now is None else now) - stamp) > TOLERANCE_SECONDS:
        return False
    expected = _mac(secret, stamp, body)
    return any(hmac.compare_digest(expected, candidate) for candidate in signatures)


def _mac(secret: str, stamp: int, body: bytes) -> str:
    return hmac.new(secret.encode(), f"{stamp}.".encode() + body, hashlib.sha256).hexdigest()


def _parse(header: str) -> tuple[int | None, list[str]]:
    stamp: int | None = None
    signatures: list[str] = []
    for part in (header or "").split(","):
        name, _, value = part.strip().partition("=")
        if name == "t" and value.isdigit():
            stamp = int(value)
        elif name == "v1" and value:
            signatures.append(value)
    return stamp, signatures

"""Envelope encryption for contact details, and key snapshots for bulk work.

Each recipient has its own random 32-byte *data key*. Contact values are sealed with it
(AES-256-GCM, the channel bound as associated data); the data key itself is stored wrapped
under the current *field key* (`core.crypto.encrypt` token format, so `decrypt` and
`reencrypt` work on it). Erasing a recipient deletes the wrapped key and the sealed values:
without the data key nothing is recoverable, also not from a database backup (crypto-shredding).
Rotating the field key only re-wraps 32-byte data keys (`manage.py rotate_field_keys`); contact
ciphertexts never need rewriting.

`KeySnapshot` reads the key rings once. The public functions in core.pseudonyms and
core.crypto read the key files on every call (~0.1-0.4 ms each), which is right for a
single request and far too slow for 100,000 rows; the snapshot computes exactly the same
pseudonyms, blind indexes and tokens (tests/segments/test_envelope.py proves it).
"""

from __future__ import annotations

import base64
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.utils import timezone

from core.crypto import BLIND_INDEX_KEY_ID, NONCE_BYTES, TOKEN_PREFIX, DecryptionError
from core.keys import blind_index_ring, field_ring, primary_field_key_id, pseudonym_ring
from core.pseudonyms import Pseudonym, pseudonymise

DATA_KEY_BYTES = 32
SEALED_PREFIX = "dk1"


def data_key_context(organisation_id: int) -> str:
    """Associated data for a wrapped data key: it only unwraps for its own organisation."""
    return f"segments.Recipient.data_key:{organisation_id}"


def contact_context(channel: str) -> str:
    return f"segments.ContactPoint:{channel}"


def reference_purpose(organisation_id: int) -> str:
    return f"recipient:{organisation_id}"


def contact_purpose(channel: str, organisation_id: int) -> str:
    return f"contact:{channel}:{organisation_id}"


def new_data_key() -> bytes:
    return secrets.token_bytes(DATA_KEY_BYTES)


def seal(value: str, *, data_key: bytes, channel: str) -> str:
    nonce = secrets.token_bytes(NONCE_BYTES)
    sealed = AESGCM(data_key).encrypt(nonce, value.encode(), contact_context(channel).encode())
    return f"{SEALED_PREFIX}:{base64.urlsafe_b64encode(nonce + sealed).decode()}"


def seal_many(values: list[tuple[str, str]], *, data_key: bytes,
              nonces: bytes | None = None) -> list[str]:
    """`seal` for several (channel, value) pairs of one recipient with a single AESGCM object.

    `nonces`: len(values) * 12 fresh random bytes drawn by the caller (one os.urandom call for
    a whole batch instead of one per value); drawn here when not given.
    """
    cipher = AESGCM(data_key)
    nonces = nonces or secrets.token_bytes(NONCE_BYTES * len(values))
    sealed = []
    for position, (channel, value) in enumerate(values):
        nonce = nonces[position * NONCE_BYTES:(position + 1) * NONCE_BYTES]
        body = nonce + cipher.encrypt(nonce, value.encode(), _CONTEXTS.get(channel)
                                      or contact_context(channel).encode())
        sealed.append(f"{SEALED_PREFIX}:{base64.urlsafe_b64encode(body).decode()}")
    return sealed


_CONTEXTS = {channel: contact_context(channel).encode() for channel in ("email", "sms")}


def unseal(token: str, *, data_key: bytes, channel: str) -> str:
    prefix, _, body = token.partition(":")
    if prefix != SEALED_PREFIX or not body:
        raise DecryptionError("not a sealed contact value")
    raw = base64.urlsafe_b64decode(body.encode())
    try:
        plain = AESGCM(data_key).decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:],
                                         contact_context(channel).encode())
    except InvalidTag as error:
        raise DecryptionError("contact value does not authenticate") from error
    return plain.decode()


@dataclass(frozen=True)
class KeySnapshot:
    """Every key an import or a rotation needs, read once."""

    pseudonym_key_id: str
    pseudonym_keys: dict[str, bytes]
    field_key_id: str
    field_keys: dict[str, bytes]
    blind_index_key: bytes

    @classmethod
    def take(cls, *, now: datetime | None = None) -> KeySnapshot:
        # pseudonymise() creates the period's key in development if it does not exist yet.
        current = pseudonymise("", purpose="segments:key-snapshot", at=now or timezone.now())
        field_key_id = primary_field_key_id()
        return cls(
            pseudonym_key_id=current.key_id,
            pseudonym_keys=pseudonym_ring().keys(),
            field_key_id=field_key_id,
            field_keys=field_ring().keys(),
            blind_index_key=blind_index_ring().get(BLIND_INDEX_KEY_ID, create=True),
        )

    # -- pseudonyms (same digest as core.pseudonyms) --
    def pseudonym(self, identifier: str, *, purpose: str) -> Pseudonym:
        key = self.pseudonym_keys[self.pseudonym_key_id]
        return Pseudonym(self.pseudonym_key_id, _digest(key, purpose, identifier))

    def candidates(self, identifier: str, *, purpose: str) -> list[Pseudonym]:
        """Under every key held, newest first (called once per row of a bulk import)."""
        ring = self.__dict__.get("_newest_first")
        if ring is None:
            ring = self.__dict__["_newest_first"] = sorted(self.pseudonym_keys.items(),
                                                           reverse=True)
        message = purpose.encode() + b"\x00" + identifier.encode()
        return [Pseudonym(key_id, hmac.digest(key, message, "sha256").hex())
                for key_id, key in ring]

    # -- blind index (same digest as core.crypto.blind_index) --
    def blind_index(self, value: str, *, purpose: str) -> str:
        message = purpose.encode() + b"\x00" + value.strip().lower().encode()
        return hmac.digest(self.blind_index_key, message, "sha256").hex()

    # -- data keys (same token format as core.crypto.encrypt) --
    def wrap(self, data_key: bytes, *, organisation_id: int, nonce: bytes | None = None) -> str:
        """`nonce`: 12 fresh random bytes from the caller (bulk paths draw them in one go)."""
        nonce = nonce or secrets.token_bytes(NONCE_BYTES)
        plaintext = base64.urlsafe_b64encode(data_key)
        sealed = self._cipher(self.field_key_id).encrypt(
            nonce, plaintext, data_key_context(organisation_id).encode())
        body = base64.urlsafe_b64encode(nonce + sealed).decode()
        return f"{TOKEN_PREFIX}:{self.field_key_id}:{body}"

    def unwrap(self, token: str, *, organisation_id: int) -> bytes:
        prefix, key_id, body = [*token.split(":", 2), "", ""][:3]
        key = self.field_keys.get(key_id)
        if prefix != TOKEN_PREFIX or not body or key is None:
            raise DecryptionError("data key cannot be unwrapped (erased or key destroyed)")
        raw = base64.urlsafe_b64decode(body.encode())
        try:
            plain = self._cipher(key_id).decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:],
                                                 data_key_context(organisation_id).encode())
        except InvalidTag as error:
            raise DecryptionError("data key does not authenticate") from error
        return base64.urlsafe_b64decode(plain)

    def _cipher(self, key_id: str) -> AESGCM:
        # Building an AESGCM object costs more than sealing 32 bytes: keep one per key.
        ciphers = self.__dict__.setdefault("_ciphers", {})
        if key_id not in ciphers:
            ciphers[key_id] = AESGCM(self.field_keys[key_id])
        return ciphers[key_id]


def _digest(key: bytes, purpose: str, identifier: str) -> str:
    # hmac.digest is the one-shot C path: same value as hmac.new(...).hexdigest(), ~3x faster.
    return hmac.digest(key, purpose.encode() + b"\x00" + identifier.encode(), "sha256").hex()

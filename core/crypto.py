"""Field-level encryption for contact details (AES-256-GCM, rotatable key ids).

A token reads `enc1:<key id>:<base64(nonce || ciphertext)>`. The context (for example
`segments.ContactPoint.value`) is bound as associated data, so a ciphertext copied into another
field does not decrypt. A blind index (keyed HMAC of a normalised value) lets us find duplicates
without decrypting anything.

Batch API: `encrypt_many`, `decrypt_many` and `blind_index_many` read the key ring once and
build one cipher per key for a whole list; they produce exactly the tokens and digests of the
single functions (same format, same `_blind_digest`).
"""

from __future__ import annotations

import base64
import hmac
import os
import secrets
from collections.abc import Callable, Sequence
from typing import Literal

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.db import models

from core.keys import blind_index_ring, field_ring, primary_field_key_id

TOKEN_PREFIX = "enc1"  # noqa: S105 - a format marker, not a secret
NONCE_BYTES = 12
BLIND_INDEX_KEY_ID = "k0001"


class DecryptionError(ValueError):
    """The token is malformed, its key was destroyed, or it was tampered with."""


def encrypt(plaintext: str, *, context: str) -> str:
    key_id = primary_field_key_id()
    nonce = secrets.token_bytes(NONCE_BYTES)
    return _token(AESGCM(field_ring().get(key_id)), key_id, nonce, plaintext.encode(),
                  context.encode())


def encrypt_many(plaintexts: Sequence[str], *, context: str) -> list[str]:
    """`encrypt` for each plaintext, in order: one key read, one cipher, one draw of nonces."""
    key_id = primary_field_key_id()
    cipher, associated = AESGCM(field_ring().get(key_id)), context.encode()
    nonces = os.urandom(NONCE_BYTES * len(plaintexts))
    return [_token(cipher, key_id, nonces[i * NONCE_BYTES:(i + 1) * NONCE_BYTES],
                   plaintext.encode(), associated)
            for i, plaintext in enumerate(plaintexts)]


def _token(cipher: AESGCM, key_id: str, nonce: bytes, plain: bytes, associated: bytes) -> str:
    body = base64.urlsafe_b64encode(nonce + cipher.encrypt(nonce, plain, associated)).decode()
    return f"{TOKEN_PREFIX}:{key_id}:{body}"


def token_key_id(token: str) -> str:
    return token.split(":", 2)[1]


def decrypt(token: str, *, context: str) -> str:
    return _open(token, context.encode(), lambda key_id: AESGCM(field_ring().get(key_id)))


def decrypt_many(tokens: Sequence[str], *, context: str,
                 errors: Literal["raise", "none"] = "raise") -> list[str | None]:
    """`decrypt` for each token, in order, with one cipher per key id.

    `errors="raise"` (default) raises DecryptionError on the first token that does not
    decrypt; `errors="none"` gives None in its place and goes on (a batch of records where
    some were crypto-shredded). A destroyed key is a DecryptionError here, as in `decrypt`.
    """
    ring, associated, ciphers = field_ring().keys(), context.encode(), {}

    def cipher(key_id: str) -> AESGCM:
        if key_id not in ciphers:
            if key_id not in ring:
                raise DecryptionError("the key of this value was destroyed")
            ciphers[key_id] = AESGCM(ring[key_id])
        return ciphers[key_id]

    found: list[str | None] = []
    for token in tokens:
        try:
            found.append(_open(token, associated, cipher))
        except DecryptionError:
            if errors == "raise":
                raise
            found.append(None)
    return found


def _open(token: str, associated: bytes, cipher: Callable[[str], AESGCM]) -> str:
    prefix, key_id, body = [*token.split(":", 2), "", ""][:3]
    if prefix != TOKEN_PREFIX or not body:
        raise DecryptionError("not an encrypted value")
    raw = base64.urlsafe_b64decode(body.encode())
    try:
        plain = cipher(key_id).decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], associated)
    except InvalidTag as error:
        raise DecryptionError("value does not authenticate") from error
    return plain.decode()


def reencrypt(token: str, *, context: str) -> str:
    """Re-encrypt under the primary key (for rotation); unchanged if already primary."""
    if token_key_id(token) == primary_field_key_id():
        return token
    return encrypt(decrypt(token, context=context), context=context)


def blind_index(value: str, *, purpose: str) -> str:
    """A keyed, deterministic digest of a normalised value, for equality look-ups only."""
    return _blind_digest(_blind_index_key(), purpose.encode(), value)


def blind_index_many(values: Sequence[str], *, purpose: str) -> list[str]:
    """`blind_index` for each value, in order, with one read of the key."""
    key, prefix = _blind_index_key(), purpose.encode()
    return [_blind_digest(key, prefix, value) for value in values]


def keyed_hash_many(values: Sequence[str], *, purpose: str) -> list[str]:
    """A keyed, deterministic digest (HMAC-SHA256, hex) of each value exactly as given (no
    normalisation, unlike a blind index), under the long-lived index key: for a value that
    must stay unique and findable but must not be stored, such as a partner's idempotency
    key. One read of the key for the whole list."""
    key, prefix = _blind_index_key(), purpose.encode() + b"\x00"
    return [hmac.digest(key, prefix + value.encode(), "sha256").hex() for value in values]


def _blind_index_key() -> bytes:
    # One long-lived index key: rotating it means recomputing every index from plaintext.
    return blind_index_ring().get(BLIND_INDEX_KEY_ID, create=True)


def _blind_digest(key: bytes, purpose: bytes, value: str) -> str:
    # hmac.digest is the one-shot C path: the same value as hmac.new(...).hexdigest().
    message = purpose + b"\x00" + value.strip().lower().encode()
    return hmac.digest(key, message, "sha256").hex()


class EncryptedTextField(models.TextField):
    """A text field stored encrypted; reads decrypt, writes encrypt. Not filterable by value."""

    def contribute_to_class(self, cls, name, *args, **kwargs):  # type: ignore[override]
        super().contribute_to_class(cls, name, *args, **kwargs)
        self.encryption_context = f"{cls._meta.label}.{name}"

    def from_db_value(self, value, expression, connection):  # type: ignore[no-untyped-def]
        if value is None or value == "":
            return value
        return decrypt(value, context=self.encryption_context)

    def get_prep_value(self, value):  # type: ignore[no-untyped-def]
        value = super().get_prep_value(value)
        if value is None or value == "":
            return value
        return encrypt(value, context=self.encryption_context)

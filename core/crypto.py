"""Field-level encryption for contact details (AES-256-GCM, rotatable key ids).

A token reads `enc1:<key id>:<base64(nonce || ciphertext)>`. The context (for example
`segments.ContactPoint.value`) is bound as associated data, so a ciphertext copied into another
field does not decrypt. A blind index (keyed HMAC of a normalised value) lets us find duplicates
without decrypting anything.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

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
    sealed = AESGCM(field_ring().get(key_id)).encrypt(nonce, plaintext.encode(), context.encode())
    body = base64.urlsafe_b64encode(nonce + sealed).decode()
    return f"{TOKEN_PREFIX}:{key_id}:{body}"


def token_key_id(token: str) -> str:
    return token.split(":", 2)[1]


def decrypt(token: str, *, context: str) -> str:
    prefix, key_id, body = [*token.split(":", 2), "", ""][:3]
    if prefix != TOKEN_PREFIX or not body:
        raise DecryptionError("not an encrypted value")
    raw = base64.urlsafe_b64decode(body.encode())
    try:
        plain = AESGCM(field_ring().get(key_id)).decrypt(
            raw[:NONCE_BYTES], raw[NONCE_BYTES:], context.encode())
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
    # One long-lived index key: rotating it means recomputing every index from plaintext.
    key = blind_index_ring().get(BLIND_INDEX_KEY_ID, create=True)
    message = purpose.encode() + b"\x00" + value.strip().lower().encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()


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

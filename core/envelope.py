"""Envelope encryption: one random data key per record, wrapped under the field key.

For records whose sensitive values must be destroyable one by one (a recipient's contact
details, a helpline conversation, a learner's answers). The API, in lifecycle order:

    data_key = data_key_create()                         # 32 random bytes, only ever in memory
    wrapped = data_key_wrap(data_key, context=...)       # store this on the record
    token = seal("value", data_key=data_key, context=...)  # store these beside it
    data_key = data_key_unwrap(wrapped, context=...)     # later: DataKeyDestroyed if shredded
    unseal(token, data_key=data_key, context=...)        # -> "value"
    wrapped = DESTROYED                                  # crypto-shred: store this instead

Contexts are bound as associated data, so a value only opens where it was sealed: give the
wrap a context naming the record's owner (`"segments.Recipient.data_key:<organisation id>"`)
and the seal one naming the field (`"segments.ContactPoint:email"`). Data keys are wrapped in
the `core.crypto` token format under the newest field key, so rotating the field key re-wraps
32-byte keys only (`data_key_rewrap`); sealed values never need rewriting.

Crypto-shredding: replace the wrapped key with `DESTROYED` (and delete the sealed values) in
the record's transaction. The live database can no longer open anything. A backup taken
before still holds the wrapped key, so shredding is complete for backups once the field key
that wrapped it has been rotated out and destroyed (`manage.py rotate_field_keys`, then
destroy the old field key).

Batch forms (`data_keys_create`, `data_keys_wrap`, `data_keys_unwrap`, `seal_many`) do the same
work for thousands of records with one key read, one cipher per key and one draw of random
bytes; bulk imports and sends use them.
"""

from __future__ import annotations

import base64
import os
import secrets
from collections.abc import Sequence

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from core.crypto import (
    NONCE_BYTES,
    DecryptionError,
    decrypt_many,
    encrypt_many,
    token_key_id,
)
from core.keys import primary_field_key_id

DATA_KEY_BYTES = 32
SEALED_PREFIX = "dk1"
DESTROYED = ""  # what a crypto-shredded record stores in place of its wrapped data key


class DataKeyDestroyed(DecryptionError):
    """The record's data key was shredded (or the field key that wrapped it is gone)."""


# ---- data keys ---------------------------------------------------------------------------------


def data_key_create() -> bytes:
    return secrets.token_bytes(DATA_KEY_BYTES)


def data_keys_create(count: int) -> list[bytes]:
    """`count` independent data keys from one draw of random bytes."""
    material = os.urandom(count * DATA_KEY_BYTES)
    return [material[i:i + DATA_KEY_BYTES] for i in range(0, count * DATA_KEY_BYTES,
                                                           DATA_KEY_BYTES)]


def data_key_wrap(data_key: bytes, *, context: str) -> str:
    return data_keys_wrap([data_key], context=context)[0]


def data_keys_wrap(data_keys: Sequence[bytes], *, context: str) -> list[str]:
    """Each key wrapped under the newest field key (a `core.crypto` token), in order."""
    return encrypt_many([base64.urlsafe_b64encode(key).decode() for key in data_keys],
                        context=context)


def data_key_unwrap(wrapped: str, *, context: str) -> bytes:
    """The data key. DataKeyDestroyed if shredded; DecryptionError if it does not authenticate
    (another context, tampered with) or the field key that wrapped it was destroyed."""
    if wrapped == DESTROYED:
        raise DataKeyDestroyed("the data key was destroyed (erased record)")
    return base64.urlsafe_b64decode(decrypt_many([wrapped], context=context)[0] or "")


def data_keys_unwrap(wrapped: Sequence[str], *, context: str) -> list[bytes | None]:
    """Each record's data key, in order; None where it cannot be opened any more.

    None covers a shredded record (`DESTROYED`), a destroyed field key and a wrapped value that
    does not authenticate: in a batch, one unreadable record never stops the others.
    """
    opened = decrypt_many(wrapped, context=context, errors="none")
    return [None if plain is None else base64.urlsafe_b64decode(plain) for plain in opened]


def data_key_rewrap(wrapped: str, *, context: str) -> str:
    """The same data key wrapped under the newest field key (unchanged if it already is)."""
    if wrapped == DESTROYED or token_key_id(wrapped) == primary_field_key_id():
        return wrapped
    return data_key_wrap(data_key_unwrap(wrapped, context=context), context=context)


# ---- values sealed with a data key --------------------------------------------------------------


def seal(value: str, *, data_key: bytes, context: str) -> str:
    return seal_many([(context, value)], data_key=data_key)[0]


def seal_many(items: Sequence[tuple[str, str]], *, data_key: bytes,
              nonces: bytes | None = None) -> list[str]:
    """Seal several (context, value) pairs of ONE record with one cipher, in order.

    `nonces`: len(items) * 12 fresh random bytes drawn by the caller (one os.urandom call for
    a whole batch of records instead of one per value); drawn here when not given.
    """
    cipher = AESGCM(data_key)
    nonces = nonces or os.urandom(NONCE_BYTES * len(items))
    sealed = []
    for position, (context, value) in enumerate(items):
        nonce = nonces[position * NONCE_BYTES:(position + 1) * NONCE_BYTES]
        body = nonce + cipher.encrypt(nonce, value.encode(), context.encode())
        sealed.append(f"{SEALED_PREFIX}:{base64.urlsafe_b64encode(body).decode()}")
    return sealed


def unseal(token: str, *, data_key: bytes, context: str) -> str:
    """The sealed value; DecryptionError if malformed, for another context or tampered with."""
    prefix, _, body = token.partition(":")
    if prefix != SEALED_PREFIX or not body:
        raise DecryptionError("not a sealed value")
    raw = base64.urlsafe_b64decode(body.encode())
    try:
        plain = AESGCM(data_key).decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], context.encode())
    except InvalidTag as error:
        raise DecryptionError("sealed value does not authenticate") from error
    return plain.decode()

"""Envelope encryption of a learner's or a mentoring request's contact details (`core.envelope`).

A per-row random data key seals the values; the data key is stored wrapped under the rotating
field key. Deleting the row (or storing `core.envelope.DESTROYED` as its key) crypto-shreds it.
"""

from __future__ import annotations

from core.crypto import DecryptionError
from core.envelope import data_key_create, data_key_unwrap, data_key_wrap, seal, unseal


def _key_context(organisation_id: int) -> str:
    return f"learning.data_key:{organisation_id}"


def _value_context(purpose: str) -> str:
    return f"learning.contact:{purpose}"


def contact_seal(values: dict[str, str], *, organisation_id: int) -> tuple[str, dict[str, str]]:
    """(wrapped data key, {purpose: sealed value}) for the non-empty values."""
    data_key = data_key_create()
    wrapped = data_key_wrap(data_key, context=_key_context(organisation_id))
    sealed = {purpose: seal(value, data_key=data_key, context=_value_context(purpose))
              for purpose, value in values.items() if value}
    return wrapped, sealed


def contact_unseal(wrapped: str, sealed: str, *, organisation_id: int, purpose: str) -> str:
    """The plain value, or "" when there is none or its key is gone (crypto-shredded)."""
    if not (wrapped and sealed):
        return ""
    try:
        data_key = data_key_unwrap(wrapped, context=_key_context(organisation_id))
        return unseal(sealed, data_key=data_key, context=_value_context(purpose))
    except (DecryptionError, ValueError):
        return ""

"""Envelope encryption of a learner's or a mentoring request's contact details (`core.envelope`).

A per-row random data key seals the values; the data key is stored wrapped under the rotating
field key. Deleting the row (or storing `core.envelope.DESTROYED` as its key) crypto-shreds it.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.core.validators import validate_email

from core.crypto import DecryptionError
from core.envelope import data_key_create, data_key_unwrap, data_key_wrap, seal, unseal
from core.errors import InvalidInput

MAX_EMAIL_CHARS = 254


def email_checked(raw: str, *, invalid: str = "Enter a valid email address.") -> str:
    """The address, stripped, or a 400 naming the `email` field; an empty one stays empty
    (whether it may be empty is the caller's rule)."""
    email = (raw or "").strip()
    if not email:
        return ""
    if len(email) > MAX_EMAIL_CHARS:
        raise InvalidInput(f"The email address is too long (at most {MAX_EMAIL_CHARS} "
                           "characters).", field="email")
    try:
        validate_email(email)
    except ValidationError as error:
        raise InvalidInput(invalid, field="email") from error
    return email


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

"""The contexts and purposes that bind a recipient's secrets to their place.

Recipients use `core.envelope`: each recipient has its own random data key, wrapped under the
field key with `data_key_context(organisation)` (it only unwraps for its own organisation);
contact values are sealed with it under `contact_context(channel)` (a value copied to another
channel does not open). Erasing a recipient stores `core.envelope.DESTROYED` in place of the
wrapped key and deletes the sealed values (crypto-shredding). Rotating the field key only
re-wraps 32-byte data keys (`manage.py rotate_field_keys`).

Pseudonymous references and blind indexes of contact values are computed by `core.pseudonyms`
and `core.crypto` (their batch forms for imports) under the purposes below, which keep
organisations and channels apart.
"""

from __future__ import annotations


def data_key_context(organisation_id: int) -> str:
    """Associated data for a wrapped data key: it only unwraps for its own organisation."""
    return f"segments.Recipient.data_key:{organisation_id}"


def contact_context(channel: str) -> str:
    return f"segments.ContactPoint:{channel}"


def reference_purpose(organisation_id: int) -> str:
    return f"recipient:{organisation_id}"


def contact_purpose(channel: str, organisation_id: int) -> str:
    return f"contact:{channel}:{organisation_id}"

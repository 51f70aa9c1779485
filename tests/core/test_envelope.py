"""core.envelope: per-record data keys, sealed values, crypto-shredding, batch forms."""

import base64
import os

import pytest
from django.test import override_settings

from core import keys
from core.crypto import DecryptionError, decrypt, encrypt
from core.envelope import (
    DATA_KEY_BYTES,
    DESTROYED,
    DataKeyDestroyed,
    data_key_create,
    data_key_rewrap,
    data_key_unwrap,
    data_key_wrap,
    data_keys_create,
    data_keys_unwrap,
    data_keys_wrap,
    seal,
    seal_many,
    unseal,
)

OWNER = "tests.Record.data_key:1"


def test_a_value_round_trips_through_a_wrapped_data_key():
    data_key = data_key_create()
    wrapped = data_key_wrap(data_key, context=OWNER)
    token = seal("person@example.org", data_key=data_key, context="tests.Record.email")
    assert "person" not in token and base64.urlsafe_b64encode(data_key).decode() not in wrapped
    opened = data_key_unwrap(wrapped, context=OWNER)
    assert unseal(token, data_key=opened, context="tests.Record.email") == "person@example.org"


def test_a_wrapped_key_is_a_field_encryption_token_of_the_encoded_key():
    data_key = b"k" * DATA_KEY_BYTES
    encoded = base64.urlsafe_b64encode(data_key).decode()
    assert decrypt(data_key_wrap(data_key, context=OWNER), context=OWNER) == encoded
    assert data_key_unwrap(encrypt(encoded, context=OWNER), context=OWNER) == data_key


def test_a_key_or_value_used_in_another_context_does_not_open():
    data_key = data_key_create()
    with pytest.raises(DecryptionError):
        data_key_unwrap(data_key_wrap(data_key, context=OWNER), context="tests.Record.data_key:2")
    token = seal("x", data_key=data_key, context="tests.Record.email")
    with pytest.raises(DecryptionError):
        unseal(token, data_key=data_key, context="tests.Record.sms")
    with pytest.raises(DecryptionError):
        unseal(token, data_key=data_key_create(), context="tests.Record.email")


def test_a_shredded_record_no_longer_opens():
    with pytest.raises(DataKeyDestroyed):
        data_key_unwrap(DESTROYED, context=OWNER)
    assert data_keys_unwrap([DESTROYED], context=OWNER) == [None]


def test_the_batch_forms_agree_with_the_single_ones():
    data_keys = data_keys_create(3)
    assert len(set(data_keys)) == 3 and {len(key) for key in data_keys} == {DATA_KEY_BYTES}
    wrapped = data_keys_wrap(data_keys, context=OWNER)
    assert [data_key_unwrap(w, context=OWNER) for w in wrapped] == data_keys
    single = data_key_wrap(data_keys[0], context=OWNER)
    assert data_keys_unwrap([single, DESTROYED, wrapped[2]], context=OWNER) == [
        data_keys[0], None, data_keys[2]]
    items = [("tests.Record.email", "a@example.org"), ("tests.Record.sms", "+447700900123")]
    sealed = seal_many(items, data_key=data_keys[0])
    assert [unseal(token, data_key=data_keys[0], context=context)
            for (context, _), token in zip(items, sealed, strict=True)] == [v for _, v in items]
    assert unseal(seal("v", data_key=data_keys[1], context="c"), data_key=data_keys[1],
                  context="c") == "v"


def test_rotation_rewraps_the_same_key_under_the_newest_field_key():
    old = base64.urlsafe_b64encode(os.urandom(32)).decode()
    new = base64.urlsafe_b64encode(os.urandom(32)).decode()
    data_key = data_key_create()
    try:
        with override_settings(FIELD_ENCRYPTION_KEYS=f"k0001:{old}"):
            keys.field_ring.cache_clear()
            wrapped = data_key_wrap(data_key, context=OWNER)
        with override_settings(FIELD_ENCRYPTION_KEYS=f"k0002:{new},k0001:{old}"):
            keys.field_ring.cache_clear()
            rewrapped = data_key_rewrap(wrapped, context=OWNER)
            assert rewrapped.split(":")[1] == "k0002"
            assert data_key_rewrap(rewrapped, context=OWNER) == rewrapped
            assert data_key_rewrap(DESTROYED, context=OWNER) == DESTROYED
        with override_settings(FIELD_ENCRYPTION_KEYS=f"k0002:{new}"):
            keys.field_ring.cache_clear()  # the old field key destroyed
            assert data_key_unwrap(rewrapped, context=OWNER) == data_key
            assert data_keys_unwrap([wrapped], context=OWNER) == [None]
            with pytest.raises(DecryptionError):
                data_key_unwrap(wrapped, context=OWNER)
    finally:
        keys.field_ring.cache_clear()

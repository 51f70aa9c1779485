import base64
import os

import pytest
from django.test import override_settings

from core.crypto import DecryptionError, blind_index, decrypt, encrypt, reencrypt


def _key() -> str:
    return base64.urlsafe_b64encode(os.urandom(32)).decode()


def test_it_round_trips_and_hides_the_plaintext():
    token = encrypt("person@example.org", context="test.email")
    assert "person" not in token
    assert decrypt(token, context="test.email") == "person@example.org"


def test_a_ciphertext_moved_to_another_field_does_not_decrypt():
    token = encrypt("+447700900123", context="test.phone")
    with pytest.raises(DecryptionError):
        decrypt(token, context="test.email")


def test_a_tampered_ciphertext_is_refused():
    token = encrypt("secret", context="c")
    flipped = token[:-2] + ("A" if token[-2] != "A" else "B") + token[-1]
    with pytest.raises(DecryptionError):
        decrypt(flipped, context="c")


def test_old_keys_stay_readable_and_rotation_moves_to_the_newest():
    old, new = _key(), _key()
    with override_settings(FIELD_ENCRYPTION_KEYS=f"k0001:{old}"):
        from core import keys

        keys.field_ring.cache_clear()
        token = encrypt("value", context="c")
    try:
        with override_settings(FIELD_ENCRYPTION_KEYS=f"k0002:{new},k0001:{old}"):
            keys.field_ring.cache_clear()
            assert decrypt(token, context="c") == "value"
            rotated = reencrypt(token, context="c")
            assert rotated.split(":")[1] == "k0002"
            assert decrypt(rotated, context="c") == "value"
    finally:
        keys.field_ring.cache_clear()


def test_the_blind_index_matches_normalised_values_only_within_a_purpose():
    assert blind_index(" A@Example.org", purpose="p") == blind_index("a@example.org", purpose="p")
    assert blind_index("a@example.org", purpose="p") != blind_index("a@example.org", purpose="q")

import base64
import os

import pytest
from django.test import override_settings

from core.crypto import (
    DecryptionError,
    blind_index,
    blind_index_many,
    decrypt,
    decrypt_many,
    encrypt,
    encrypt_many,
    reencrypt,
)


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


def test_the_batch_forms_read_and_write_the_single_functions_tokens():
    tokens = encrypt_many(["a", "b", ""], context="c")
    assert [decrypt(token, context="c") for token in tokens] == ["a", "b", ""]
    assert decrypt_many([encrypt("x", context="c"), *tokens], context="c") == ["x", "a", "b", ""]
    assert len(set(tokens)) == 3  # a fresh nonce each


def test_a_batch_decrypt_stops_at_a_bad_token_or_marks_it():
    good = encrypt("a", context="c")
    with pytest.raises(DecryptionError):
        decrypt_many([good, encrypt("b", context="other")], context="c")
    assert decrypt_many([good, "", "enc1:gone:AAAA", encrypt("b", context="other")],
                        context="c", errors="none") == ["a", None, None, None]


def test_the_batch_blind_index_is_the_single_one():
    values = [" A@Example.org", "b@example.org", "+447700900123"]
    assert blind_index_many(values, purpose="p") == [blind_index(v, purpose="p") for v in values]


def test_the_blind_index_is_the_documented_hmac():
    import hashlib
    import hmac

    from core.keys import blind_index_ring

    key = blind_index_ring().get("k0001", create=True)
    assert blind_index(" A@Example.org ", purpose="p") == hmac.new(
        key, b"p\x00a@example.org", hashlib.sha256).hexdigest()

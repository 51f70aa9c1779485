from datetime import UTC, datetime

import pytest
from django.test import override_settings

from core.keys import MissingKeyError, pseudonym_ring
from core.pseudonyms import (
    pseudonym_candidates,
    pseudonym_candidates_many,
    pseudonymise,
    pseudonymise_many,
)

NOVEMBER = datetime(2026, 11, 20, tzinfo=UTC)
DECEMBER = datetime(2026, 12, 2, tzinfo=UTC)


@pytest.fixture
def key_dir(tmp_path):
    with override_settings(KEY_DIR=tmp_path):
        yield tmp_path


def test_it_is_deterministic_within_a_period(key_dir):
    first = pseudonymise("session-1", purpose="session:1", at=NOVEMBER)
    assert first == pseudonymise("session-1", purpose="session:1", at=NOVEMBER)
    assert first.key_id == "2026-11"
    assert len(first.value) == 64
    assert "session-1" not in str(first)


def test_it_changes_key_and_value_with_the_period(key_dir):
    november = pseudonymise("session-1", purpose="session:1", at=NOVEMBER)
    december = pseudonymise("session-1", purpose="session:1", at=DECEMBER)
    assert december.key_id == "2026-12"
    assert december.value != november.value


def test_purposes_never_share_a_pseudonym(key_dir):
    assert (pseudonymise("x", purpose="session:1", at=NOVEMBER).value
            != pseudonymise("x", purpose="session:2", at=NOVEMBER).value)


def test_candidates_cover_every_key_still_held(key_dir):
    november = pseudonymise("ref-9", purpose="recipient:1", at=NOVEMBER)
    december = pseudonymise("ref-9", purpose="recipient:1", at=DECEMBER)
    assert pseudonym_candidates("ref-9", purpose="recipient:1") == [december, november]


def test_a_destroyed_key_makes_old_pseudonyms_unlinkable(key_dir):
    november = pseudonymise("ref-9", purpose="recipient:1", at=NOVEMBER)
    assert pseudonym_ring().destroy("2026-11")
    assert november not in pseudonym_candidates("ref-9", purpose="recipient:1")


def test_production_never_invents_a_missing_key(key_dir):
    with override_settings(KEYS_AUTO_CREATE=False), pytest.raises(MissingKeyError):
        pseudonymise("x", purpose="session:1", at=NOVEMBER)


def test_the_batch_forms_compute_what_the_single_functions_compute(key_dir):
    pseudonymise("ref-1", purpose="recipient:1", at=NOVEMBER)  # a second key in the ring
    identifiers = ["ref-1", "ref-2", ""]
    assert pseudonymise_many(identifiers, purpose="recipient:1", at=DECEMBER) == [
        pseudonymise(identifier, purpose="recipient:1", at=DECEMBER)
        for identifier in identifiers]
    assert pseudonym_candidates_many(identifiers, purpose="recipient:1") == [
        pseudonym_candidates(identifier, purpose="recipient:1") for identifier in identifiers]


def test_candidates_for_a_moment_include_the_pseudonym_of_its_period(key_dir):
    [candidates] = pseudonym_candidates_many(["ref-3"], purpose="recipient:1", at=DECEMBER)
    assert pseudonymise("ref-3", purpose="recipient:1", at=DECEMBER) in candidates
    with override_settings(KEYS_AUTO_CREATE=False), pytest.raises(MissingKeyError):
        pseudonym_candidates_many(["ref-3"], purpose="recipient:1",
                                  at=datetime(2027, 1, 5, tzinfo=UTC))


def test_the_digest_is_the_documented_hmac(key_dir):
    import hashlib
    import hmac

    pseudonym = pseudonymise("ref-4", purpose="recipient:1", at=NOVEMBER)
    key = pseudonym_ring().get("2026-11")
    assert pseudonym.value == hmac.new(key, b"recipient:1\x00ref-4", hashlib.sha256).hexdigest()

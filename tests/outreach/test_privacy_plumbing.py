import logging

import pytest
from django.test import override_settings

from core.logging import RedactIdentifiersFilter, redact


@pytest.mark.parametrize("text", [
    "sent to person@example.org",
    "sms to +44 7700 900123",
    "key ork_1a2b3c4d_abcdefghijklmnop used",
    "Authorization: Bearer abc.def",
])
def test_log_lines_never_carry_contact_details_or_keys(text):
    cleaned = redact(text)
    for secret in ("person@example.org", "7700 900123", "abcdefghijklmnop", "abc.def"):
        assert secret not in cleaned


def test_the_redaction_filter_rewrites_records():
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "mail to %s", ("a@b.org",), None)
    RedactIdentifiersFilter().filter(record)
    assert record.getMessage() == "mail to <email>"


def test_dates_and_ids_are_left_readable():
    assert redact("campaign 42 scheduled for 2026-11-25 10:00") == \
        "campaign 42 scheduled for 2026-11-25 10:00"


@pytest.mark.django_db
@override_settings(MAX_REQUEST_BYTES=1000)
def test_an_oversized_body_gets_413_before_it_is_read(tenant):
    response = tenant.client().post("/api/v1/whoami", data="x" * 2000,
                                    content_type="application/json")
    assert response.status_code == 413
    assert "too large" in response.json()["detail"]

"""Recipients: pseudonymous references, sealed contacts, erasure, suppression and the audience."""

from __future__ import annotations

import base64
import logging
from datetime import UTC, datetime

import pytest
from django.core.management import call_command
from django.db import connection

from core.errors import InvalidInput
from core.pseudonyms import pseudonymise
from segments.models import ContactPoint, Recipient, RecipientStatus, Suppression
from segments.recipients import (
    field_keys_rotate,
    recipient_erase,
    recipient_upsert,
    recipients_import_file,
)
from segments.selectors import (
    contact_blind_index,
    contact_for,
    is_suppressed,
    recipient_export,
    recipient_find,
    recipient_suppressed,
    segment_audience,
    segment_members,
)
from segments.services import sms_inbound, suppression_add
from tests.segments.factories import SYSTEM, recipient, segment

pytestmark = pytest.mark.django_db
NOW = datetime(2026, 11, 25, 12, tzinfo=UTC)


def test_the_reference_is_stored_only_as_a_pseudonym(tenant) -> None:
    created = recipient(tenant.organisation, reference="PROBATION-778899")
    expected = pseudonymise("PROBATION-778899", purpose=f"recipient:{tenant.organisation.pk}")
    assert (created.reference_key_id, created.reference_pseudonym) == (expected.key_id,
                                                                       expected.value)


def test_no_contact_detail_is_readable_in_the_database_or_the_logs(tenant, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    content = (b"reference,email,phone,consent_basis\n"
               b"REF-SECRET-1,secret.person@example.org,+447700900999,consent\n")
    recipients_import_file(organisation=tenant.organisation, content=content, format="csv",
                           actor=SYSTEM)
    created = recipient_find(organisation=tenant.organisation, reference="REF-SECRET-1")
    contact_for(recipient=created, channel="email")
    recipient_export(recipient=created)
    dumped = []
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names():
            cursor.execute(f'SELECT * FROM "{table}"')  # noqa: S608 - our own table names
            dumped.extend(str(row) for row in cursor.fetchall())
    everything = "\n".join(dumped) + "\n" + caplog.text
    for secret in ("secret.person", "7700900999", "REF-SECRET-1"):
        assert secret.lower() not in everything.lower()


def test_a_recipient_found_under_an_old_key_is_re_keyed_on_upsert(tenant, settings) -> None:
    import secrets

    from core import keys as key_module

    october, november = (base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()
                         for _ in range(2))
    settings.PSEUDONYM_KEYS = f"2026-11:{november},2026-10:{october}"
    key_module.pseudonym_ring.cache_clear()
    try:
        created, _ = recipient_upsert(organisation=tenant.organisation, actor=SYSTEM,
                                      data={"reference": "P-1"},
                                      now=datetime(2026, 10, 15, tzinfo=UTC))
        assert created.reference_key_id == "2026-10"
        updated, was_created = recipient_upsert(organisation=tenant.organisation, actor=SYSTEM,
                                                data={"reference": "P-1", "country": "IE"},
                                                now=NOW)
        assert (updated.pk, was_created, updated.country) == (created.pk, False, "IE")
        assert updated.reference_key_id == "2026-11"
        assert updated.reference_pseudonym == pseudonymise(
            "P-1", purpose=f"recipient:{tenant.organisation.pk}", at=NOW).value
    finally:
        key_module.pseudonym_ring.cache_clear()


def test_a_single_upsert_with_a_bad_field_is_a_field_error(tenant) -> None:
    with pytest.raises(InvalidInput) as caught:
        recipient_upsert(organisation=tenant.organisation, actor=SYSTEM,
                         data={"reference": "P-1", "age": "old"})
    assert caught.value.field == "age"
    assert not Recipient.objects.exists()


def test_erasure_crypto_shreds_the_contacts_and_keeps_the_pseudonymous_row(tenant) -> None:
    created = recipient(tenant.organisation, email="ann@example.org", phone="+447700900123",
                        attributes={})
    recipient_erase(recipient=created, actor=SYSTEM)
    created.refresh_from_db()
    assert created.status == RecipientStatus.ERASED and created.erased_at is not None
    assert created.data_key_wrapped == ""
    assert not ContactPoint.objects.filter(recipient=created).exists()
    assert contact_for(recipient=created, channel="email") is None
    assert created.reference_pseudonym  # aggregates keep their subject


def test_an_erased_recipient_cannot_be_re_imported(tenant) -> None:
    created = recipient(tenant.organisation, reference="P-1", email="ann@example.org")
    recipient_erase(recipient=created, actor=SYSTEM)
    report = recipients_import_file(
        organisation=tenant.organisation, actor=SYSTEM, format="csv",
        content=b"reference,email,consent_basis\nP-1,ann@example.org,consent\n")
    assert [(e.row, e.field) for e in report.rejected] == [(2, "reference")]
    assert not ContactPoint.objects.exists()


def test_the_export_holds_everything_about_the_recipient(tenant) -> None:
    created = recipient(tenant.organisation, email="ann@example.org", consent_source="helpline")
    suppression_add(organisation=tenant.organisation, channel="email", recipient=created,
                    reason="bounced", actor=SYSTEM)
    exported = recipient_export(recipient=created)
    assert exported["contacts"][0]["value"] == "ann@example.org"
    assert exported["contacts"][0]["consent_source"] == "helpline"
    assert exported["suppressions"][0]["reason"] == "bounced"
    assert exported["country"] == "GB"


def test_the_audience_needs_a_consented_unsuppressed_contact_on_the_channel(tenant) -> None:
    uk = segment(tenant.organisation, 'country = "GB"')
    reachable = recipient(tenant.organisation, "P-1", email="a@example.org")
    suppressed = recipient(tenant.organisation, "P-2", email="b@example.org")
    recipient(tenant.organisation, "P-3", phone="+447700900123")  # no email
    recipient(tenant.organisation, "P-4", email="d@example.org", country="IE")
    paused = recipient(tenant.organisation, "P-5", email="e@example.org", status="paused")
    suppression_add(organisation=tenant.organisation, channel="email", value="B@example.org ",
                    reason="unsubscribed", actor=SYSTEM)
    audience = segment_audience(segment=uk, channel="email", now=NOW)
    assert list(audience) == [reachable]
    assert suppressed in segment_members(segment=uk, now=NOW)
    assert paused not in segment_members(segment=uk, now=NOW)
    assert recipient_suppressed(recipient=suppressed, channel="email")
    assert not recipient_suppressed(recipient=reachable, channel="email")


def test_a_suppression_is_per_organisation(tenant, other_tenant) -> None:
    suppression_add(organisation=tenant.organisation, channel="email", value="a@example.org",
                    reason="complaint", actor=SYSTEM)
    for organisation, expected in ((tenant.organisation, True), (other_tenant.organisation, False)):
        index = contact_blind_index(organisation=organisation, channel="email",
                                    value="a@example.org")
        assert is_suppressed(organisation=organisation, channel="email",
                             contact_blind_index=index) is expected


def test_suppressing_twice_keeps_one_row_and_the_first_reason(tenant) -> None:
    for reason in ("bounced", "manual"):
        suppression_add(organisation=tenant.organisation, channel="sms", value="+447700900123",
                        reason=reason, actor=SYSTEM)
    assert list(Suppression.objects.values_list("reason", flat=True)) == ["bounced"]


def test_a_suppression_needs_a_valid_value(tenant) -> None:
    with pytest.raises(InvalidInput) as caught:
        suppression_add(organisation=tenant.organisation, channel="sms", value="12",
                        reason="manual", actor=SYSTEM)
    assert caught.value.field == "value"


def test_an_sms_stop_word_suppresses_the_sender(tenant) -> None:
    created = recipient(tenant.organisation, phone="+447700900123")
    assert sms_inbound(organisation=tenant.organisation, sender="+447700900123", body=" Stop ")
    assert recipient_suppressed(recipient=created, channel="sms")
    assert not sms_inbound(organisation=tenant.organisation, sender="+447700900123",
                           body="thanks")


def test_rotating_field_keys_re_wraps_data_keys_and_contacts_stay_readable(
        tenant, settings, tmp_path) -> None:
    import secrets

    from core import keys as key_module

    old_key = base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()
    new_key = base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()
    settings.FIELD_ENCRYPTION_KEYS = f"2026-01-a:{old_key}"
    key_module.field_ring.cache_clear()
    try:
        created = recipient(tenant.organisation, email="ann@example.org")
        assert created.data_key_wrapped.startswith("enc1:2026-01-a:")
        settings.FIELD_ENCRYPTION_KEYS = f"2026-11-a:{new_key},2026-01-a:{old_key}"
        key_module.field_ring.cache_clear()
        call_command("rotate_field_keys", verbosity=0)
        assert field_keys_rotate() == 0
        created.refresh_from_db()
        assert created.data_key_wrapped.startswith("enc1:2026-11-a:")
        settings.FIELD_ENCRYPTION_KEYS = f"2026-11-a:{new_key}"  # the old key is destroyed
        key_module.field_ring.cache_clear()
        assert contact_for(recipient=created, channel="email") == "ann@example.org"
    finally:
        key_module.field_ring.cache_clear()

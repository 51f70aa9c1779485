"""Bulk import: CSV and NDJSON, upsert by reference, a per-row report, partial success."""

from __future__ import annotations

import pytest

from core.errors import InvalidInput, PayloadTooLarge
from organisations.models import AuditEvent
from segments.models import ContactPoint, Recipient
from segments.recipients import recipients_import, recipients_import_file
from segments.selectors import contact_for, recipient_find
from tests.segments.factories import SYSTEM, standard_attributes

pytestmark = pytest.mark.django_db

HEADER = (
    "reference,stage,country,language,age,email,phone,consent_basis,consent_source,"
    "release_date,risk_level\n"
)


def upload(organisation, text: str, *, format: str = "csv"):
    return recipients_import_file(
        organisation=organisation, content=text.encode(), format=format, actor=SYSTEM
    )


def problems(report) -> list[tuple[int, str]]:
    return [(error.row, error.field) for error in report.rejected]


def test_it_imports_a_csv_file_and_keeps_contacts_encrypted(tenant) -> None:
    standard_attributes(tenant.organisation)
    report = upload(
        tenant.organisation,
        HEADER + "P-1,offender,gb,EN,41,ann@example.org,+44 7700 900123,public_task,"
        "probation intake,2026-10-01,high\n"
        "P-2,at_risk,IE,ga,,,,,,,\n",
    )
    assert (report.created, report.updated, report.rejected) == (2, 0, [])
    first = recipient_find(organisation=tenant.organisation, reference="P-1")
    assert (first.stage, first.country, first.language, first.age) == ("offender", "GB", "en", 41)
    assert first.attributes == {"release_date": "2026-10-01", "risk_level": "high"}
    assert contact_for(recipient=first, channel="email") == "ann@example.org"
    assert contact_for(recipient=first, channel="sms") == "+447700900123"
    point = first.contact_points.get(channel="sms")
    assert (point.consent_basis, point.consent_source) == ("public_task", "probation intake")
    assert "ann@" not in point.value_sealed and "ann@" not in first.data_key_wrapped


def test_a_second_upload_updates_by_reference_instead_of_duplicating(tenant) -> None:
    upload(
        tenant.organisation,
        "reference,country,email,consent_basis\nP-1,GB,old@example.org,consent\n",
    )
    report = upload(
        tenant.organisation,
        "reference,country,email,consent_basis\nP-1,IE,new@example.org,consent\n",
    )
    assert (report.created, report.updated) == (0, 1)
    assert Recipient.objects.filter(organisation=tenant.organisation).count() == 1
    recipient = recipient_find(organisation=tenant.organisation, reference="P-1")
    assert recipient.country == "IE"
    assert contact_for(recipient=recipient, channel="email") == "new@example.org"
    assert ContactPoint.objects.filter(recipient=recipient).count() == 1


def test_it_keeps_the_valid_rows_and_reports_every_problem_of_the_bad_ones(tenant) -> None:
    standard_attributes(tenant.organisation)
    report = upload(
        tenant.organisation,
        HEADER + "P-1,offender,GB,en,41,,,,,,\n"
        "P-2,pirate,GBR,en,200,not-an-email,,consent,,2026-13-01,extreme\n"
        "P-3,offender,GB,en,,ann@example.org,,,,,\n"
        ",offender,GB,en,,,,,,,\n",
    )
    assert report.created == 1
    assert problems(report) == [
        (3, "stage"),
        (3, "country"),
        (3, "age"),
        (3, "release_date"),
        (3, "risk_level"),
        (3, "email"),
        (4, "consent_basis"),
        (5, "reference"),
    ]
    assert Recipient.objects.filter(organisation=tenant.organisation).count() == 1


def test_the_report_never_repeats_a_contact_value(tenant) -> None:
    report = upload(
        tenant.organisation,
        "reference,email,phone,consent_basis\nP-1,ann@@example,077-bad,consent\n",
    )
    text = " ".join(f"{error.field} {error.problem}" for error in report.rejected)
    assert "ann@@example" not in text and "077-bad" not in text


def test_a_repeated_reference_rejects_the_later_row_naming_the_earlier(tenant) -> None:
    report = upload(tenant.organisation, "reference,country\nP-1,GB\nP-2,GB\nP-1,IE\n")
    assert report.created == 2
    [error] = report.rejected
    assert (error.row, error.field) == (4, "reference")
    assert "row 2" in error.problem
    assert recipient_find(organisation=tenant.organisation, reference="P-1").country == "GB"


def test_an_unknown_column_is_reported_per_row_and_not_stored(tenant) -> None:
    report = upload(tenant.organisation, "reference,shoe_size\nP-1,44\n")
    assert problems(report) == [(2, "shoe_size")]
    assert not Recipient.objects.exists()


def test_a_file_that_is_not_utf8_is_refused_naming_the_line(tenant) -> None:
    content = b"reference,country\nP-1,GB\n" + "P-2,DE,Müller\n".encode("latin-1")
    with pytest.raises(InvalidInput, match="line 3 is not valid UTF-8"):
        recipients_import_file(
            organisation=tenant.organisation, content=content, format="csv", actor=SYSTEM
        )
    assert not Recipient.objects.exists()


def test_a_byte_order_mark_is_tolerated(tenant) -> None:
    content = "\ufeffreference,country\nP-1,GB\n".encode()
    report = recipients_import_file(
        organisation=tenant.organisation, content=content, format="csv", actor=SYSTEM
    )
    assert report.created == 1


def test_a_header_without_a_reference_column_is_refused(tenant) -> None:
    with pytest.raises(InvalidInput, match="reference"):
        upload(tenant.organisation, "ref,country\nP-1,GB\n")


def test_an_empty_file_is_refused(tenant) -> None:
    with pytest.raises(InvalidInput, match="empty"):
        upload(tenant.organisation, "")


def test_a_row_with_the_wrong_number_of_columns_is_reported(tenant) -> None:
    report = upload(tenant.organisation, "reference,country\nP-1,GB,extra\nP-2,IE\n")
    assert report.created == 1
    assert problems(report) == [(2, "row")]


def test_a_file_over_the_size_limit_is_refused_before_parsing(tenant, settings) -> None:
    settings.SEGMENTS_IMPORT_MAX_BYTES = 100
    with pytest.raises(PayloadTooLarge):
        upload(tenant.organisation, "reference,country\n" + "P-1,GB\n" * 50)


def test_ndjson_rows_are_numbered_by_line(tenant) -> None:
    standard_attributes(tenant.organisation)
    report = upload(
        tenant.organisation,
        '{"reference": "P-1", "age": 30, "attributes": {"risk_level": "low"}}\n'
        "\n"
        "{not json\n"
        '["a list"]\n'
        '{"reference": "P-2", "risk_level": 5}\n',
        format="ndjson",
    )
    assert report.created == 1
    assert problems(report) == [(3, "row"), (4, "row"), (5, "risk_level")]


def test_an_import_writes_one_audit_event_without_identifiers(tenant) -> None:
    upload(tenant.organisation, "reference,email,consent_basis\nP-1,ann@example.org,consent\n")
    event = AuditEvent.objects.get(action="recipients.import")
    assert event.changes == {"created": 1, "updated": 0, "rejected_rows": 0}


def test_rows_may_be_plain_dicts(tenant) -> None:
    report = recipients_import(
        organisation=tenant.organisation,
        actor=SYSTEM,
        rows=[{"reference": "P-1"}, {"reference": 7}, {"country": "GB"}],
    )
    assert report.created == 2
    assert problems(report) == [(3, "reference")]


def test_the_same_reference_in_two_organisations_is_two_recipients(tenant, other_tenant) -> None:
    upload(tenant.organisation, "reference\nP-1\n")
    upload(other_tenant.organisation, "reference\nP-1\n")
    ours = recipient_find(organisation=tenant.organisation, reference="P-1")
    theirs = recipient_find(organisation=other_tenant.organisation, reference="P-1")
    assert ours.reference_pseudonym != theirs.reference_pseudonym


def test_a_re_import_adds_a_new_channel_and_keeps_the_existing_contact(tenant) -> None:
    upload(tenant.organisation,
           "reference,email,consent_basis,consent_source\nP-1,ann@example.org,consent,web\n")
    recipient = recipient_find(organisation=tenant.organisation, reference="P-1")
    email_point = recipient.contact_points.get(channel="email")
    report = upload(
        tenant.organisation,
        "reference,email,phone,consent_basis,consent_source\n"
        "P-1,ann.new@example.org,+447700900123,public_task,probation intake\n",
    )
    assert (report.created, report.updated, report.rejected) == (0, 1, [])
    assert contact_for(recipient=recipient, channel="email") == "ann.new@example.org"
    assert contact_for(recipient=recipient, channel="sms") == "+447700900123"
    updated_email = recipient.contact_points.get(channel="email")
    assert updated_email.pk == email_point.pk
    assert updated_email.created_at == email_point.created_at
    assert (updated_email.consent_basis, updated_email.consent_source) == (
        "public_task", "probation intake")
    assert recipient.contact_points.count() == 2


def test_batches_mix_new_updated_erased_and_repeated_rows(tenant, monkeypatch) -> None:
    from segments import recipients
    from segments.recipients import recipient_erase

    monkeypatch.setattr(recipients, "IMPORT_BATCH_SIZE", 2)
    monkeypatch.setattr(recipients, "COPY_IMPORT_BATCH_SIZE", 2)
    upload(tenant.organisation,
           "reference,country,email,consent_basis\nP-2,GB,two@example.org,consent\n"
           "P-4,GB,four@example.org,consent\nP-5,GB,,\n")
    erased = recipient_find(organisation=tenant.organisation, reference="P-5")
    recipient_erase(recipient=erased, actor=SYSTEM)
    report = upload(
        tenant.organisation,
        "reference,country,email,consent_basis\n"
        "P-1,IE,one@example.org,consent\n"
        "P-2,IE,two.new@example.org,consent\n"
        "P-3,IE,,\n"
        "P-2,DE,,\n"
        "P-4,IE,,\n"
        "P-5,IE,five@example.org,consent\n"
        "P-6,IE,six@example.org,consent\n",
    )
    assert (report.created, report.updated) == (3, 2)
    assert problems(report) == [(5, "reference"), (7, "reference")]
    countries = {reference: recipient_find(organisation=tenant.organisation,
                                           reference=reference).country
                 for reference in ("P-1", "P-2", "P-3", "P-4", "P-6")}
    assert set(countries.values()) == {"IE"}
    found = {reference: recipient_find(organisation=tenant.organisation, reference=reference)
             for reference in ("P-1", "P-2", "P-4", "P-6")}
    assert contact_for(recipient=found["P-1"], channel="email") == "one@example.org"
    assert contact_for(recipient=found["P-2"], channel="email") == "two.new@example.org"
    assert contact_for(recipient=found["P-4"], channel="email") == "four@example.org"
    assert contact_for(recipient=found["P-6"], channel="email") == "six@example.org"
    erased.refresh_from_db()
    assert erased.status == "erased" and not erased.contact_points.exists()
    assert Recipient.objects.filter(organisation=tenant.organisation).count() == 6


def test_a_reference_written_by_a_concurrent_import_is_a_conflict_and_nothing_is_kept(
        tenant, monkeypatch) -> None:
    from core.errors import Conflict
    from segments import import_batches

    upload(tenant.organisation, "reference,country\nP-1,GB\n")
    # As if another import wrote P-1 between our look-up and our insert.
    monkeypatch.setattr(import_batches.ImportBatch, "existing", lambda self, candidates: {})
    monkeypatch.setattr(import_batches.CopyImport, "existing", lambda self, candidates: {})
    with pytest.raises(Conflict):
        upload(tenant.organisation,
               "reference,country,email,consent_basis\nP-0,IE,zero@example.org,consent\n"
               "P-1,IE,,\n")
    assert recipient_find(organisation=tenant.organisation, reference="P-0") is None
    assert recipient_find(organisation=tenant.organisation, reference="P-1").country == "GB"
    assert not ContactPoint.objects.exists()


@pytest.mark.parametrize("value", [
    "ann@example.org", "Ann.Lee+tag@Example.ORG", "a@localhost", "a@[127.0.0.1]",
    "a@[::1]", '"quoted name"@example.org', "a..b@example.org", ".a@example.org",
    "a@example", "a@-example.org", "a@example-.org", "a@@example.org", "@example.org",
    "a@", "a@exämple.org", "ü@example.org", "a b@example.org", "a@example.o",
    "x" * 64 + "@" + "y" * 250 + ".org", "a@" + "b" * 64 + ".org",
])
def test_the_email_check_accepts_exactly_what_django_accepts(value) -> None:
    from django.core.exceptions import ValidationError
    from django.core.validators import validate_email

    from segments.importing import email_normalise

    try:
        validate_email(value)
        expected = value
    except ValidationError:
        expected = None
    assert email_normalise(value) == expected

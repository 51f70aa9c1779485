"""Writes for recipients: upsert, bulk import, erasure (crypto-shredding) and key rotation.

Every action is one transaction that writes its audit row in the same transaction. Audit rows
never contain a reference, a contact value or a pseudonym: only counts and field names. The
batch writers of an import are in `segments.import_batches`.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import IntegrityError, connections, router, transaction
from django.utils import timezone

from core.envelope import DESTROYED, data_key_unwrap, data_keys_wrap
from core.errors import Conflict, InvalidInput, PayloadTooLarge
from core.keys import primary_field_key_id
from core.pseudonyms import pseudonymise
from organisations.models import Organisation
from organisations.services import Actor, audit_record
from segments.envelope import data_key_context, reference_purpose
from segments.import_batches import CopyImport, ImportBatch
from segments.importing import (
    ImportReport,
    RecipientRow,
    RowError,
    RowProblems,
    row_check,
    upload_rows,
)
from segments.models import Recipient, RecipientStatus
from segments.rules import AttributeSpec
from segments.targeting import attribute_specs

# Each batch looks up every reference under every held pseudonym key in one IN (...): keep
# the parameter count well below SQLite's and psycopg's limits even with a year of keys.
IMPORT_BATCH_SIZE = 1000
# PostgreSQL path: references travel as one text parameter and rows as COPY, so there is no
# parameter limit; bigger batches mean fewer round trips (memory stays a few MB per batch).
COPY_IMPORT_BATCH_SIZE = 5000
DEFAULT_IMPORT_MAX_BYTES = 20 * 1024 * 1024


def import_max_bytes() -> int:
    return int(getattr(settings, "SEGMENTS_IMPORT_MAX_BYTES", DEFAULT_IMPORT_MAX_BYTES))


# ---- recipients: upsert and bulk import --------------------------------------------------------


def recipients_import(*, organisation: Organisation,
                      rows: Iterable[Mapping[str, Any]] | Iterable[tuple[int, Mapping[str, Any]]],
                      actor: Actor, now: datetime | None = None) -> ImportReport:
    """Upsert recipients by reference; keep the good rows, report the bad ones.

    Partial success by design: a row with any problem is rejected as a whole (nothing of it is
    written) and listed with every problem found; all other rows are written in one
    transaction. A reference that appears twice in one upload: the later row is rejected and
    names the earlier one. Recipients found under an older pseudonym key are re-keyed to the
    current key. Rows for an erased recipient are rejected: erasure is not undone by re-import.
    """
    now = now or timezone.now()
    attributes = attribute_specs(organisation)
    report = ImportReport()
    checked = list(_checked_rows(_numbered(rows), attributes=attributes, now=now, report=report))
    try:
        with transaction.atomic():
            _write_batches(checked, organisation=organisation, now=now, report=report)
            audit_record(organisation=organisation, actor=actor, action="recipients.import",
                         target=organisation,
                         changes={"created": report.created, "updated": report.updated,
                                  "rejected_rows": report.rejected_rows})
    except IntegrityError:
        # Another upload wrote one of these references at the same moment; nothing of this
        # one was written, so retrying it is safe.
        raise Conflict("another import of the same recipients is running; retry") from None
    report.rejected.sort(key=lambda error: error.row)
    return report


def _write_batches(rows: list[RecipientRow], *, organisation: Organisation, now: datetime,
                   report: ImportReport) -> None:
    connection = connections[router.db_for_write(Recipient)]
    if connection.vendor == "postgresql":
        writer = CopyImport(connection, organisation=organisation, now=now, report=report)
        for start in range(0, len(rows), COPY_IMPORT_BATCH_SIZE):
            writer.write(rows[start:start + COPY_IMPORT_BATCH_SIZE])
        return
    for start in range(0, len(rows), IMPORT_BATCH_SIZE):
        batch = rows[start:start + IMPORT_BATCH_SIZE]
        ImportBatch(organisation=organisation, now=now, report=report).write(batch)


def recipients_import_file(*, organisation: Organisation, content: bytes, format: str,
                           actor: Actor, now: datetime | None = None) -> ImportReport:
    """Import a CSV or NDJSON upload. The raw file is never stored; errors name its lines."""
    if len(content) > import_max_bytes():
        raise PayloadTooLarge(f"the file is larger than {import_max_bytes()} bytes; split it")
    rows = upload_rows(content, format=format)
    return recipients_import(organisation=organisation, rows=rows, actor=actor, now=now)


def recipient_upsert(*, organisation: Organisation, data: Mapping[str, Any], actor: Actor,
                     now: datetime | None = None) -> tuple[Recipient, bool]:
    """Create or update one recipient; a bad field is a 400 naming it. Returns (row, created)."""
    report = recipients_import(organisation=organisation, rows=[(1, data)], actor=actor, now=now)
    if report.rejected:
        first = report.rejected[0]
        problems = {}
        for error in report.rejected:
            problems.setdefault(error.field, []).append(error.problem)
        raise InvalidInput(first.problem, field=first.field, errors=problems)
    reference = str(data.get("reference")).strip()
    pseudonym = pseudonymise(reference, purpose=reference_purpose(organisation.pk), at=now)
    recipient = Recipient.objects.get(organisation=organisation,
                                      reference_key_id=pseudonym.key_id,
                                      reference_pseudonym=pseudonym.value)
    return recipient, report.created == 1


def _numbered(rows: Iterable[Any]) -> Iterator[tuple[int, Mapping[str, Any]]]:
    for position, item in enumerate(rows, start=1):
        if isinstance(item, tuple):
            yield item
        else:
            yield position, item


def _checked_rows(rows: Iterable[tuple[int, Mapping[str, Any]]], *,
                  attributes: Mapping[str, AttributeSpec], now: datetime,
                  report: ImportReport) -> Iterator[RecipientRow]:
    seen: dict[str, int] = {}
    for number, data in rows:
        if not isinstance(data, Mapping):
            report.rejected.append(RowError(number, "row", "must be an object"))
            continue
        try:
            row = row_check(number, data, attributes=attributes, now=now)
        except RowProblems as problems:
            report.rejected.extend(problems.errors)
            continue
        if row.reference in seen:
            report.rejected.append(RowError(
                number, "reference", f"repeats the reference of row {seen[row.reference]}"))
            continue
        seen[row.reference] = number
        yield row



# ---- erasure ----------------------------------------------------------------------------------


@transaction.atomic
def recipient_erase(*, recipient: Recipient, actor: Actor,
                    now: datetime | None = None) -> Recipient:
    """Crypto-shred the recipient's contact details; keep the pseudonymous row for aggregates.

    The wrapped data key and every sealed contact value are deleted, so the details cannot be
    recovered even from a backup taken before (backups hold only ciphertext under a key that
    no longer exists anywhere). Profile fields that could single someone out are cleared;
    stage and country stay for aggregate reporting, and exposures keep pointing at the row.
    Suppressions stay: they hold only blind indexes and keep protecting the contact.
    """
    recipient = Recipient.objects.select_for_update().get(pk=recipient.pk)
    channels = list(recipient.contact_points.values_list("channel", flat=True))
    recipient.contact_points.all().delete()
    recipient.data_key_wrapped = DESTROYED
    recipient.status = RecipientStatus.ERASED
    recipient.erased_at = now or timezone.now()
    recipient.age = None
    recipient.attributes = {}
    recipient.language = ""
    recipient.save()
    audit_record(organisation=recipient.organisation, actor=actor, action="recipient.erase",
                 target=recipient, changes={"contact_channels": channels})
    return recipient



# ---- key rotation -----------------------------------------------------------------------------


def field_keys_rotate(*, batch_size: int = 1000) -> int:
    """Re-wrap every data key not under the newest field key; returns how many were re-wrapped.

    Only the 32-byte data keys are re-encrypted: contact ciphertexts stay as they are.
    Afterwards the old field key can be destroyed.
    """
    prefix = f"enc1:{primary_field_key_id()}:"
    rewrapped = 0
    stale = (Recipient.objects.exclude(data_key_wrapped=DESTROYED)
             .exclude(data_key_wrapped__startswith=prefix).order_by("pk"))
    while True:
        with transaction.atomic():
            batch = list(stale.select_for_update()[:batch_size])
            for organisation_id in {recipient.organisation_id for recipient in batch}:
                _rewrap([r for r in batch if r.organisation_id == organisation_id],
                        context=data_key_context(organisation_id))
            Recipient.objects.bulk_update(batch, ["data_key_wrapped"])
        rewrapped += len(batch)
        if len(batch) < batch_size:
            return rewrapped



def _rewrap(recipients: list[Recipient], *, context: str) -> None:
    # A key that no longer unwraps stops the rotation: its old field key must not be destroyed.
    data_keys = [data_key_unwrap(r.data_key_wrapped, context=context) for r in recipients]
    for recipient, wrapped in zip(recipients, data_keys_wrap(data_keys, context=context),
                                  strict=True):
        recipient.data_key_wrapped = wrapped

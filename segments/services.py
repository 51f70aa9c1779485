"""Writes for segments, custom attributes, recipients and suppressions.

Every action is one transaction that writes its audit row in the same transaction. Audit rows
never contain a reference, a contact value or a pseudonym: only counts and field names.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterable, Iterator, Mapping
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import IntegrityError, connections, models, router, transaction
from django.utils import timezone

from core.crypto import NONCE_BYTES, DecryptionError, blind_index, blind_index_many
from core.envelope import (
    DESTROYED,
    data_key_unwrap,
    data_keys_create,
    data_keys_unwrap,
    data_keys_wrap,
    seal_many,
)
from core.errors import Conflict, InvalidInput, PayloadTooLarge
from core.keys import period_of, primary_field_key_id
from core.pseudonyms import pseudonym_candidates_many, pseudonymise
from organisations.models import Organisation
from organisations.services import Actor, audit_record
from segments.envelope import (
    contact_context,
    contact_purpose,
    data_key_context,
    reference_purpose,
)
from segments.importing import (
    EMAIL_PROBLEM,
    PHONE_PROBLEM,
    ImportReport,
    RecipientRow,
    RowError,
    RowProblems,
    contact_normalise,
    row_check,
    upload_rows,
)
from segments.models import (
    AttributeType,
    ContactChannel,
    ContactPoint,
    CustomAttribute,
    Recipient,
    RecipientStatus,
    Segment,
    SegmentStatus,
    Suppression,
    SuppressionReason,
)
from segments.rules import AttributeSpec, RuleError, validate_attribute_name
from segments.targeting import attribute_specs, rule_parse

logger = logging.getLogger(__name__)

# Each batch looks up every reference under every held pseudonym key in one IN (...): keep
# the parameter count well below SQLite's and psycopg's limits even with a year of keys.
IMPORT_BATCH_SIZE = 1000
# PostgreSQL path: references travel as one text parameter and rows as COPY, so there is no
# parameter limit; bigger batches mean fewer round trips (memory stays a few MB per batch).
COPY_IMPORT_BATCH_SIZE = 5000
DEFAULT_IMPORT_MAX_BYTES = 20 * 1024 * 1024


def import_max_bytes() -> int:
    return int(getattr(settings, "SEGMENTS_IMPORT_MAX_BYTES", DEFAULT_IMPORT_MAX_BYTES))


# ---- custom attributes ------------------------------------------------------------------------


@transaction.atomic
def custom_attribute_create(*, organisation: Organisation, name: str, type: str,
                            actor: Actor, choices: Iterable[str] = (),
                            description: str = "") -> CustomAttribute:
    choices = list(choices)
    custom_attribute_check(organisation=organisation, name=name, type=type, choices=choices)
    attribute = CustomAttribute.objects.create(
        organisation=organisation, name=name, type=type, choices=choices,
        description=description)
    audit_record(organisation=organisation, actor=actor, action="custom_attribute.create",
                 target=attribute, changes={"name": name, "type": type, "choices": choices})
    segments_revalidate(organisation=organisation)
    return attribute


def custom_attribute_check(*, organisation: Organisation, name: str, type: str,
                           choices: list[str]) -> None:
    """Raise InvalidInput (naming the field) unless the attribute can be declared."""
    try:
        validate_attribute_name(name)
    except ValueError as error:
        raise InvalidInput(str(error), field="name") from None
    if type not in AttributeType.values:
        raise InvalidInput(f"type must be one of {', '.join(AttributeType.values)}",
                           field="type")
    try:
        AttributeSpec(type, tuple(choices))
    except ValueError as error:
        raise InvalidInput(str(error), field="choices") from None
    if len(set(choices)) != len(choices):
        raise InvalidInput("choices must not repeat", field="choices")
    if CustomAttribute.objects.filter(organisation=organisation, name=name).exists():
        raise InvalidInput(f"an attribute named {name!r} already exists", field="name")


@transaction.atomic
def custom_attribute_delete(*, attribute: CustomAttribute, actor: Actor) -> None:
    """Delete the declaration; segments whose rules use it become invalid (with the error)."""
    organisation = attribute.organisation
    audit_record(organisation=organisation, actor=actor, action="custom_attribute.delete",
                 target=attribute, changes={"name": attribute.name})
    attribute.delete()
    segments_revalidate(organisation=organisation)


# ---- segments ---------------------------------------------------------------------------------


def _rule_fields(text: str, *, organisation: Organisation,
                 attributes: Mapping[str, AttributeSpec] | None = None) -> list[str]:
    try:
        return list(rule_parse(text, organisation=organisation, attributes=attributes).fields)
    except RuleError as error:
        raise InvalidInput(str(error), field="rule", line=error.line,
                           column=error.column) from None


@transaction.atomic
def segment_create(*, organisation: Organisation, name: str, stage: str, rule: str,
                   actor: Actor, description: str = "") -> Segment:
    fields = _rule_fields(rule, organisation=organisation)
    _segment_name_check(organisation=organisation, name=name)
    segment = Segment.objects.create(
        organisation=organisation, name=name, stage=stage, rule=rule, description=description,
        fields=fields, status=SegmentStatus.READY, error="")
    audit_record(organisation=organisation, actor=actor, action="segment.create",
                 target=segment, changes={"name": name, "stage": stage, "rule": rule})
    return segment


SEGMENT_EDITABLE = ("name", "stage", "rule", "description")


@transaction.atomic
def segment_update(*, segment: Segment, actor: Actor, **changes: Any) -> Segment:
    unknown = set(changes) - set(SEGMENT_EDITABLE)
    if unknown:
        raise InvalidInput(f"cannot change {', '.join(sorted(unknown))}")
    if "rule" in changes:
        segment.fields = _rule_fields(changes["rule"], organisation=segment.organisation)
        segment.status, segment.error = SegmentStatus.READY, ""
    if "name" in changes and changes["name"] != segment.name:
        _segment_name_check(organisation=segment.organisation, name=changes["name"])
    for name, value in changes.items():
        setattr(segment, name, value)
    segment.save()
    audit_record(organisation=segment.organisation, actor=actor, action="segment.update",
                 target=segment, changes=changes)
    return segment


def _segment_name_check(*, organisation: Organisation, name: str) -> None:
    if Segment.objects.filter(organisation=organisation, name=name).exists():
        raise InvalidInput(f"a segment named {name!r} already exists", field="name")


@transaction.atomic
def segment_delete(*, segment: Segment, actor: Actor) -> None:
    if segment.campaigns.exists():
        raise Conflict("this segment is used by a campaign; remove it from the campaign first")
    audit_record(organisation=segment.organisation, actor=actor, action="segment.delete",
                 target=segment, changes={"name": segment.name})
    segment.delete()


def segment_status_of(segment: Segment, *,
                      attributes: Mapping[str, AttributeSpec]) -> tuple[str, str, list[str]]:
    """(status, error, fields) of a segment's rule against the current attributes."""
    try:
        rule = rule_parse(segment.rule, organisation=segment.organisation,
                          attributes=attributes)
    except RuleError as error:
        return SegmentStatus.INVALID, str(error), segment.fields
    return SegmentStatus.READY, "", list(rule.fields)


@transaction.atomic
def segments_revalidate(*, organisation: Organisation) -> int:
    """Re-check every segment after the attributes changed; returns how many changed status."""
    attributes = attribute_specs(organisation)
    changed = 0
    for segment in Segment.objects.filter(organisation=organisation).select_for_update():
        status, error, fields = segment_status_of(segment, attributes=attributes)
        if (status, error, fields) != (segment.status, segment.error, segment.fields):
            segment.status, segment.error, segment.fields = status, error, fields
            segment.save(update_fields=["status", "error", "fields", "updated_at"])
            changed += 1
    return changed


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
        writer = _CopyImport(connection, organisation=organisation, now=now, report=report)
        for start in range(0, len(rows), COPY_IMPORT_BATCH_SIZE):
            writer.write(rows[start:start + COPY_IMPORT_BATCH_SIZE])
        return
    for start in range(0, len(rows), IMPORT_BATCH_SIZE):
        batch = rows[start:start + IMPORT_BATCH_SIZE]
        _ImportBatch(organisation=organisation, now=now, report=report).write(batch)


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


class _ImportBatch:
    """Writes one batch of checked rows with a handful of queries."""

    def __init__(self, *, organisation: Organisation, now: datetime,
                 report: ImportReport) -> None:
        self.organisation = organisation
        self.now = now
        self.report = report
        self.purpose = reference_purpose(organisation.pk)
        self.current_key = period_of(now)
        self.wrap_context = data_key_context(organisation.pk)
        # Data keys of recipients created in this batch, so they need no unwrapping.
        self.fresh_keys: dict[int, bytes] = {}

    def write(self, rows: list[RecipientRow]) -> None:
        references = [row.reference for row in rows]
        self.candidates = dict(zip(references, pseudonym_candidates_many(
            references, purpose=self.purpose, at=self.now), strict=True))
        existing = self.existing(self.candidates)
        new_rows, updates = [], []
        for row in rows:
            recipient = existing.get(row.reference)
            if recipient is None:
                new_rows.append(row)
            elif recipient.status == RecipientStatus.ERASED:
                self.report.rejected.append(RowError(
                    row.row, "reference", "this recipient was erased and cannot be re-imported"))
            else:
                updates.append((row, recipient))
        created = self.create(new_rows)
        self.update(updates)
        self.write_contacts([*created, *updates])
        self.report.created += len(created)
        self.report.updated += len(updates)

    def current(self, row: RecipientRow) -> Any:
        """The reference's pseudonym under the current key (one of its candidates)."""
        return next(c for c in self.candidates[row.reference] if c.key_id == self.current_key)

    def existing(self, candidates: dict[str, list]) -> dict[str, Recipient]:
        """Recipients already held for these references, under any key still held."""
        wanted = {(c.key_id, c.value): reference
                  for reference, options in candidates.items() for c in options}
        found = Recipient.objects.filter(
            organisation=self.organisation,
            reference_pseudonym__in=[value for _, value in wanted])
        result: dict[str, Recipient] = {}
        for recipient in found:
            reference = wanted.get((recipient.reference_key_id, recipient.reference_pseudonym))
            if reference is not None:
                result.setdefault(reference, recipient)
        return result

    def create(self, rows: list[RecipientRow]) -> list[tuple[RecipientRow, Recipient]]:
        pairs = []
        data_keys = data_keys_create(len(rows))
        wrapped = data_keys_wrap(data_keys, context=self.wrap_context)
        for row, data_key_wrapped in zip(rows, wrapped, strict=True):
            pseudonym = self.current(row)
            recipient = Recipient(
                organisation=self.organisation, reference_key_id=pseudonym.key_id,
                reference_pseudonym=pseudonym.value, created_at=self.now, updated_at=self.now,
                data_key_wrapped=data_key_wrapped)
            _apply_profile(recipient, row)
            pairs.append((row, recipient))
        Recipient.objects.bulk_create([recipient for _, recipient in pairs])
        for (_, recipient), data_key in zip(pairs, data_keys, strict=True):
            self.fresh_keys[recipient.pk] = data_key
        return pairs

    def update(self, pairs: list[tuple[RecipientRow, Recipient]]) -> None:
        for row, recipient in pairs:
            _apply_profile(recipient, row)
            # Re-key to the current period so that old pseudonym keys can be destroyed.
            current = self.current(row)
            recipient.reference_key_id = current.key_id
            recipient.reference_pseudonym = current.value
            recipient.updated_at = self.now
        keyless = [recipient for _, recipient in pairs if recipient.data_key_wrapped == DESTROYED]
        data_keys = data_keys_create(len(keyless))
        wrapped = data_keys_wrap(data_keys, context=self.wrap_context)
        for recipient, data_key, data_key_wrapped in zip(keyless, data_keys, wrapped,
                                                         strict=True):
            recipient.data_key_wrapped = data_key_wrapped
            self.fresh_keys[recipient.pk] = data_key
        rows_update(Recipient, [recipient for _, recipient in pairs],
                    ["reference_key_id", "reference_pseudonym", *PROFILE_COLUMNS,
                     "data_key_wrapped", "updated_at"])

    def data_key(self, recipient: Recipient) -> bytes:
        known = self.fresh_keys.get(recipient.pk)
        if known is not None:
            return known
        return data_key_unwrap(recipient.data_key_wrapped, context=self.wrap_context)

    def write_contacts(self, pairs: list[tuple[RecipientRow, Recipient]]) -> None:
        with_contacts = [(row, recipient) for row, recipient in pairs if row.contacts]
        # Only recipients that existed before this batch can hold contact points already.
        older = [recipient.pk for _, recipient in with_contacts
                 if recipient.pk not in self.fresh_keys]
        held = {
            (point.recipient_id, point.channel): point
            for point in ContactPoint.objects.filter(recipient__in=older)
        } if older else {}
        to_create, to_update = [], []
        indexes = iter(_contact_indexes([contact for row, _ in with_contacts
                                         for contact in row.contacts],
                                        organisation_id=self.organisation.pk))
        for row, recipient in with_contacts:
            sealed = seal_many([(contact_context(contact.channel), contact.value)
                                for contact in row.contacts], data_key=self.data_key(recipient))
            for contact, token in zip(row.contacts, sealed, strict=True):
                point = held.get((recipient.pk, contact.channel))
                if point is None:
                    point = ContactPoint(recipient=recipient, channel=contact.channel,
                                         created_at=self.now)
                    to_create.append(point)
                else:
                    to_update.append(point)
                self.fill_contact(point, row, token, next(indexes))
        rows_insert(ContactPoint, to_create, ["recipient", "channel", "created_at",
                                              *CONTACT_COLUMNS])
        rows_update(ContactPoint, to_update, CONTACT_COLUMNS)

    def fill_contact(self, point: ContactPoint, row: RecipientRow, sealed: str,
                     index: str) -> None:
        point.value_sealed = sealed
        point.blind_index = index
        point.consent_basis = row.consent_basis
        point.consent_source = row.consent_source
        point.consented_at = row.consented_at or self.now
        point.verified = row.verified
        point.updated_at = self.now


class _CopyImport:
    """PostgreSQL bulk path: no model objects, rows go as tuples straight into COPY.

    Per batch: one look-up of the references already held (under every pseudonym key still
    held), ids for the new recipients drawn from the sequence, COPY of the new recipients and
    their contact points, and for recipients already held a COPY into a temporary table applied
    with one UPDATE ... FROM (profile, re-keying) and one INSERT ... ON CONFLICT (contacts).
    Runs inside the import's transaction: a unique violation (a concurrent import of the same
    references) rolls everything back and surfaces as IntegrityError, like the ORM path.
    """

    def __init__(self, connection: Any, *, organisation: Organisation, now: datetime,
                 report: ImportReport) -> None:
        self.connection = connection
        self.organisation_id = organisation.pk
        self.now = now
        self.report = report
        self.purpose = reference_purpose(organisation.pk)
        self.wrap_context = data_key_context(organisation.pk)
        self.contact_contexts = {channel: contact_context(channel)
                                 for channel in ContactChannel.values}
        quote = connection.ops.quote_name
        self.recipients = quote(Recipient._meta.db_table)
        self.contact_points = quote(ContactPoint._meta.db_table)
        # Columns this path does not set get their model default, so a field added to the
        # models later cannot make COPY fail on a NOT NULL column.
        self.recipient_extra = _default_columns(Recipient, connection, RECIPIENT_COPY_COLUMNS)
        self.contact_extra = _default_columns(ContactPoint, connection,
                                              ("id", *CONTACT_COPY_COLUMNS))

    def write(self, rows: list[RecipientRow]) -> None:
        current_key = period_of(self.now)
        candidates = pseudonym_candidates_many([row.reference for row in rows],
                                               purpose=self.purpose, at=self.now)
        held = self.existing(candidates)
        new_rows, updates = [], []
        for row, options in zip(rows, candidates, strict=True):
            current = next(c for c in options if c.key_id == current_key)
            # Newest key first: a recipient already under the current key wins over an old one.
            found = next((held[(c.key_id, c.value)] for c in options
                          if (c.key_id, c.value) in held), None)
            if found is None:
                new_rows.append((row, current))
            elif found[1] == RecipientStatus.ERASED:
                self.report.rejected.append(RowError(
                    row.row, "reference", "this recipient was erased and cannot be re-imported"))
            else:
                updates.append((row, current, found))
        with self.connection.cursor() as cursor, self.connection.wrap_database_errors:
            self.create(cursor.cursor, new_rows)
            self.update(cursor.cursor, updates)
        self.report.created += len(new_rows)
        self.report.updated += len(updates)

    def existing(self, candidates: list[list[Any]]) -> dict[tuple[str, str], tuple]:
        """(key id, pseudonym) -> (id, status, wrapped data key) of recipients already held.

        Key ids and hex pseudonyms never contain commas: each list travels as one text
        parameter instead of thousands of bound values.
        """
        key_ids = ",".join(c.key_id for options in candidates for c in options)
        values = ",".join(c.value for options in candidates for c in options)
        with self.connection.cursor() as cursor:
            cursor.execute(
                "SELECT r.reference_key_id, r.reference_pseudonym, r.id, r.status, "  # noqa: S608
                "r.data_key_wrapped FROM unnest(string_to_array(%s, ','), "
                "string_to_array(%s, ',')) AS c(key_id, pseudonym) "
                f"JOIN {self.recipients} r ON r.organisation_id = %s "
                "AND r.reference_key_id = c.key_id AND r.reference_pseudonym = c.pseudonym",
                [key_ids, values, self.organisation_id])
            return {(key_id, value): rest for key_id, value, *rest in cursor.fetchall()}

    def create(self, cursor: Any, rows: list[tuple[RecipientRow, Any]]) -> None:
        if not rows:
            return
        cursor.execute("SELECT nextval(pg_get_serial_sequence(%s, 'id')) "
                       "FROM generate_series(1, %s)", [Recipient._meta.db_table, len(rows)])
        ids = [pk for (pk,) in cursor.fetchall()]
        data_keys = data_keys_create(len(rows))
        wrapped_keys = data_keys_wrap(data_keys, context=self.wrap_context)
        now, organisation_id, extra = self.now, self.organisation_id, self.recipient_extra
        contacts = []
        names = ", ".join([*RECIPIENT_COPY_COLUMNS, *extra])
        with cursor.copy(f"COPY {self.recipients} ({names}) FROM STDIN") as copy:
            for pk, data_key, wrapped, (row, current) in zip(ids, data_keys, wrapped_keys, rows,
                                                              strict=True):
                copy.write_row((pk, organisation_id, current.key_id, current.value, row.stage,
                                row.country, row.language, row.time_zone, row.age,
                                json.dumps(row.attributes), row.status, now, now, wrapped,
                                *extra.values()))
                if row.contacts:
                    contacts.append((pk, data_key, row))
        self.copy_contacts(cursor, contacts, table=self.contact_points)

    def update(self, cursor: Any, rows: list[tuple[RecipientRow, Any, tuple]]) -> None:
        if not rows:
            return
        now = self.now
        contacts = []
        names = ", ".join(RECIPIENT_UPDATE_COLUMNS)
        keys = self.held_data_keys([wrapped for _, _, (_, _, wrapped) in rows])
        cursor.execute(f"CREATE TEMPORARY TABLE import_recipient ON COMMIT DROP AS "  # noqa: S608
                       f"SELECT id, {names} FROM {self.recipients} WITH NO DATA")
        with cursor.copy(f"COPY import_recipient (id, {names}) FROM STDIN") as copy:
            for (row, current, (pk, _status, _)), (data_key, wrapped) in zip(rows, keys,
                                                                             strict=True):
                # Re-keyed to the current period so that old pseudonym keys can be destroyed.
                copy.write_row((pk, current.key_id, current.value, row.stage, row.country,
                                row.language, row.time_zone, row.age,
                                json.dumps(row.attributes), row.status, wrapped, now))
                if row.contacts:
                    contacts.append((pk, data_key, row))
        assignments = ", ".join(f"{name} = staged.{name}" for name in RECIPIENT_UPDATE_COLUMNS)
        cursor.execute(f"UPDATE {self.recipients} SET {assignments} "  # noqa: S608
                       f"FROM import_recipient AS staged WHERE {self.recipients}.id = staged.id")
        cursor.execute("DROP TABLE import_recipient")
        if not contacts:
            return
        columns = ", ".join([*CONTACT_COPY_COLUMNS, *self.contact_extra])
        cursor.execute(f"CREATE TEMPORARY TABLE import_contact ON COMMIT DROP AS "  # noqa: S608
                       f"SELECT {columns} FROM {self.contact_points} WITH NO DATA")
        self.copy_contacts(cursor, contacts, table="import_contact")
        # created_at is kept on conflict: the contact point existed before this import.
        updated = ", ".join(f"{name} = EXCLUDED.{name}" for name in CONTACT_UPSERT_COLUMNS)
        cursor.execute(f"INSERT INTO {self.contact_points} ({columns}) "  # noqa: S608
                       f"SELECT {columns} FROM import_contact "
                       f"ON CONFLICT (recipient_id, channel) DO UPDATE SET {updated}")
        cursor.execute("DROP TABLE import_contact")

    def held_data_keys(self, wrapped: list[str]) -> list[tuple[bytes, str]]:
        """(data key, wrapped) for recipients already held; a new key where theirs is missing."""
        opened = data_keys_unwrap(wrapped, context=self.wrap_context)
        if any(key is None for key, held in zip(opened, wrapped, strict=True)
               if held != DESTROYED):
            raise DecryptionError("a recipient's data key cannot be unwrapped")
        missing = [position for position, held in enumerate(wrapped) if held == DESTROYED]
        fresh = data_keys_create(len(missing))
        for position, key, fresh_wrapped in zip(
                missing, fresh, data_keys_wrap(fresh, context=self.wrap_context), strict=True):
            opened[position], wrapped[position] = key, fresh_wrapped
        return list(zip(opened, wrapped, strict=True))  # type: ignore[arg-type]

    def copy_contacts(self, cursor: Any, contacts: list[tuple[int, bytes, RecipientRow]], *,
                      table: str) -> None:
        if not contacts:
            return
        now, extra, contexts = self.now, self.contact_extra, self.contact_contexts
        nonces = iter(_random_chunks(sum(len(row.contacts) for _, _, row in contacts),
                                     NONCE_BYTES))
        indexes = iter(_contact_indexes([contact for _, _, row in contacts
                                         for contact in row.contacts],
                                        organisation_id=self.organisation_id))
        names = ", ".join([*CONTACT_COPY_COLUMNS, *extra])
        with cursor.copy(f"COPY {table} ({names}) FROM STDIN") as copy:
            for pk, data_key, row in contacts:
                pairs = [(contexts[contact.channel], contact.value) for contact in row.contacts]
                sealed = seal_many(pairs, data_key=data_key,
                                   nonces=b"".join(next(nonces) for _ in pairs))
                consented_at = row.consented_at or now
                for contact, token in zip(row.contacts, sealed, strict=True):
                    copy.write_row((pk, contact.channel, token, next(indexes),
                                    row.consent_basis, row.consent_source, consented_at,
                                    row.verified, now, now, *extra.values()))


def _contact_indexes(contacts: list[Any], *, organisation_id: int) -> list[str]:
    """The blind index of each contact value, in order: one batch per channel."""
    indexes: list[str] = [""] * len(contacts)
    for channel in {contact.channel for contact in contacts}:
        positions = [i for i, contact in enumerate(contacts) if contact.channel == channel]
        values = blind_index_many([contacts[i].value for i in positions],
                                  purpose=contact_purpose(channel, organisation_id))
        for position, index in zip(positions, values, strict=True):
            indexes[position] = index
    return indexes


RECIPIENT_COPY_COLUMNS = (
    "id", "organisation_id", "reference_key_id", "reference_pseudonym", "stage", "country",
    "language", "time_zone", "age", "attributes", "status", "created_at", "updated_at",
    "data_key_wrapped")
RECIPIENT_UPDATE_COLUMNS = (
    "reference_key_id", "reference_pseudonym", "stage", "country", "language", "time_zone",
    "age", "attributes", "status", "data_key_wrapped", "updated_at")
CONTACT_COPY_COLUMNS = (
    "recipient_id", "channel", "value_sealed", "blind_index", "consent_basis", "consent_source",
    "consented_at", "verified", "created_at", "updated_at")
CONTACT_UPSERT_COLUMNS = ("value_sealed", "blind_index", "consent_basis", "consent_source",
                          "consented_at", "verified", "updated_at")


def _default_columns(model: type[models.Model], connection: Any,
                     handled: Iterable[str]) -> dict[str, Any]:
    """column -> database value of the default, for every column the bulk path leaves out."""
    handled = set(handled)
    return {field.column: field.get_db_prep_save(field.get_default(), connection)
            for field in model._meta.concrete_fields if field.column not in handled}


def _random_chunks(count: int, size: int) -> list[bytes]:
    """`count` independent random byte strings of `size`, from one os.urandom call."""
    material = os.urandom(count * size)
    return [material[start:start + size] for start in range(0, count * size, size)]


def rows_insert(model: type[models.Model], objects: list[models.Model],
                fields: list[str]) -> None:
    """INSERT objects without reading their ids back (bulk_create, or COPY on PostgreSQL)."""
    if not objects:
        return
    connection = connections[router.db_for_write(model)]
    if connection.vendor != "postgresql":
        model.objects.bulk_create(objects)
        return
    columns = [model._meta.get_field(name) for name in fields]
    quote = connection.ops.quote_name
    names = ", ".join(quote(column.column) for column in columns)
    with connection.cursor() as cursor, cursor.cursor.copy(
            f"COPY {quote(model._meta.db_table)} ({names}) FROM STDIN") as copy:
        for obj in objects:
            copy.write_row(_db_values(obj, columns, connection))


def rows_update(model: type[models.Model], objects: list[models.Model],
                fields: list[str]) -> None:
    """UPDATE each object's `fields` by primary key, fast.

    Django's bulk_update builds one CASE WHEN per field with a branch per row, which costs
    seconds per thousand rows. On PostgreSQL the rows are COPied into a temporary table and
    applied with one UPDATE ... FROM; elsewhere a single-row UPDATE runs as one executemany.
    Values go through each field's own get_db_prep_save, exactly as in save().
    """
    if not objects:
        return
    connection = connections[router.db_for_write(model)]
    quote = connection.ops.quote_name
    table, pk = quote(model._meta.db_table), quote(model._meta.pk.column)
    columns = [model._meta.get_field(name) for name in fields]
    if connection.vendor == "postgresql":
        _copy_update(connection, objects, table=table, pk=pk, columns=columns)
        return
    assignments = ", ".join(f"{quote(column.column)} = %s" for column in columns)
    sql = f"UPDATE {table} SET {assignments} WHERE {pk} = %s"  # noqa: S608 - quoted names
    params = [[*_db_values(obj, columns, connection), obj.pk] for obj in objects]
    with connection.cursor() as cursor:
        cursor.executemany(sql, params)


def _copy_update(connection: Any, objects: list[models.Model], *, table: str, pk: str,
                 columns: list) -> None:
    quote = connection.ops.quote_name
    names = [quote(column.column) for column in columns]
    assignments = ", ".join(f"{name} = staged.{name}" for name in names)
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE TEMPORARY TABLE staged ON COMMIT DROP AS "  # noqa: S608
                       f"SELECT {pk}, {', '.join(names)} FROM {table} WITH NO DATA")
        with cursor.cursor.copy(f"COPY staged ({pk}, {', '.join(names)}) FROM STDIN") as copy:
            for obj in objects:
                copy.write_row([obj.pk, *_db_values(obj, columns, connection)])
        cursor.execute(f"UPDATE {table} SET {assignments} FROM staged "  # noqa: S608
                       f"WHERE {table}.{pk} = staged.{pk}")
        cursor.execute("DROP TABLE staged")


def _db_values(obj: models.Model, columns: list, connection: Any) -> list:
    return [column.get_db_prep_save(getattr(obj, column.attname), connection)
            for column in columns]


PROFILE_COLUMNS = ("stage", "country", "language", "time_zone", "age", "attributes", "status")
CONTACT_COLUMNS = ["value_sealed", "blind_index", "consent_basis", "consent_source",
                   "consented_at", "verified", "updated_at"]


def _apply_profile(recipient: Recipient, row: RecipientRow) -> None:
    for column in PROFILE_COLUMNS:
        setattr(recipient, column, getattr(row, column))


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


# ---- suppressions -----------------------------------------------------------------------------


@transaction.atomic
def suppression_add(*, organisation: Organisation, channel: str, reason: str, actor: Actor,
                    value: str | None = None, recipient: Recipient | None = None,
                    note: str = "") -> tuple[Suppression, bool]:
    """Suppress a contact value (or a recipient's contact) on a channel. Idempotent.

    Returns (suppression, created). An existing suppression keeps its first reason.
    """
    if channel not in ContactChannel.values:
        raise InvalidInput(f"channel must be one of {', '.join(ContactChannel.values)}",
                           field="channel")
    if reason not in SuppressionReason.values:
        raise InvalidInput(f"reason must be one of {', '.join(SuppressionReason.values)}",
                           field="reason")
    index = _suppression_index(organisation=organisation, channel=channel, value=value,
                               recipient=recipient)
    suppression, created = Suppression.objects.get_or_create(
        organisation=organisation, channel=channel, blind_index=index,
        defaults={"reason": reason, "note": note, "recipient": recipient})
    if created:
        audit_record(organisation=organisation, actor=actor, action="suppression.add",
                     target=suppression, changes={"channel": channel, "reason": reason})
    return suppression, created


def _suppression_index(*, organisation: Organisation, channel: str, value: str | None,
                       recipient: Recipient | None) -> str:
    if (value is None) == (recipient is None):
        raise InvalidInput("give either a contact value or a recipient", field="value")
    if recipient is not None:
        point = recipient.contact_points.filter(channel=channel).first()
        if point is None:
            raise InvalidInput(f"the recipient has no {channel} contact", field="recipient")
        return point.blind_index
    normalised = contact_normalise(channel, value or "")
    if normalised is None:
        problem = EMAIL_PROBLEM if channel == ContactChannel.EMAIL else PHONE_PROBLEM
        raise InvalidInput(problem, field="value")
    return blind_index(normalised, purpose=contact_purpose(channel, organisation.pk))


@transaction.atomic
def suppression_remove(*, suppression: Suppression, actor: Actor) -> None:
    audit_record(organisation=suppression.organisation, actor=actor,
                 action="suppression.remove", target=suppression,
                 changes={"channel": suppression.channel, "reason": suppression.reason})
    suppression.delete()


def opt_out_apply(*, recipient: Recipient, channel: str) -> bool:
    """The recipient clicked an opt-out link: suppress that channel. True if now suppressed."""
    if not recipient.contact_points.filter(channel=channel).exists():
        return False  # erased or never had one: nothing left to contact
    # get_or_create inside makes a repeated or concurrent click a no-op.
    suppression_add(organisation=recipient.organisation, channel=channel,
                    reason=SuppressionReason.UNSUBSCRIBED, recipient=recipient,
                    actor=Actor.system(), note="one-click opt-out link")
    return True


STOP_WORDS = frozenset({"stop", "stopall", "unsubscribe", "cancel", "end", "quit", "optout"})


def sms_inbound(*, organisation: Organisation, sender: str, body: str) -> bool:
    """An inbound SMS: a STOP word suppresses the sender's number. True if it suppressed."""
    if body.strip().lower().replace("-", "").replace(" ", "") not in STOP_WORDS:
        return False
    normalised = contact_normalise(ContactChannel.SMS, sender)
    if normalised is None:
        raise InvalidInput("From must be an international number", field="From")
    suppression_add(organisation=organisation, channel=ContactChannel.SMS, value=normalised,
                    reason=SuppressionReason.UNSUBSCRIBED, actor=Actor.system(),
                    note="inbound SMS stop word")
    return True


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

"""The two batch writers of a recipient import: the ORM path and PostgreSQL's COPY path.

Both get checked rows (`segments.importing.RecipientRow`) and write one batch with a handful of
queries inside the import's transaction; `segments.recipients.recipients_import` picks one.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from core.crypto import NONCE_BYTES, DecryptionError, blind_index_many
from core.envelope import (
    DESTROYED,
    data_key_unwrap,
    data_keys_create,
    data_keys_unwrap,
    data_keys_wrap,
    seal_many,
)
from core.keys import period_of
from core.pseudonyms import pseudonym_candidates_many
from organisations.models import Organisation
from segments.bulk import default_columns, random_chunks, rows_insert, rows_update
from segments.envelope import contact_context, contact_purpose, data_key_context, reference_purpose
from segments.importing import ImportReport, RecipientRow, RowError
from segments.models import ContactChannel, ContactPoint, Recipient, RecipientStatus


class ImportBatch:
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


class CopyImport:
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
        self.recipient_extra = default_columns(Recipient, connection, RECIPIENT_COPY_COLUMNS)
        self.contact_extra = default_columns(ContactPoint, connection,
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
        nonces = iter(random_chunks(sum(len(row.contacts) for _, _, row in contacts),
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



PROFILE_COLUMNS = ("stage", "country", "language", "time_zone", "age", "attributes", "status")
CONTACT_COLUMNS = ["value_sealed", "blind_index", "consent_basis", "consent_source",
                   "consented_at", "verified", "updated_at"]


def _apply_profile(recipient: Recipient, row: RecipientRow) -> None:
    for column in PROFILE_COLUMNS:
        setattr(recipient, column, getattr(row, column))

"""Outcome reports from partners and helplines: single, NDJSON batch, and daily aggregates.

One parser checks an event the same way for the single and the batch form (a hand-written
one: a DRF serializer per line would cost more than the whole insert at 10,000 lines).

Idempotency: an event's key is unique per reporting organisation (the Outcome constraint), so a
replayed event is counted once; the first report of a key wins even if a replay differs.
Batch policy: valid lines are stored, invalid ones are reported by line number and skipped;
a batch over MAX_BATCH_LINES lines or MAX_BATCH_BYTES bytes is refused whole (413).
"""

from __future__ import annotations

import functools
import gc
import json
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, NamedTuple

import psycopg
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from core.bounds import EXISTENCE_TOLERANCE, day_problem, event_time_problem
from core.errors import InvalidInput, PayloadTooLarge
from core.vocabulary import OutcomeKind
from evaluation.models import Outcome
from interventions.models import DailyAggregate
from interventions.selectors import Owner, campaigns_by_referral_code, exposures_reportable_by
from organisations.models import Organisation, Partnership
from organisations.services import Actor, audit_record

REPORTABLE_KINDS = (
    OutcomeKind.HELP_CLICK, OutcomeKind.CHATBOT_ENGAGED, OutcomeKind.INFO_REQUESTED,
    OutcomeKind.HELPLINE_CONTACT, OutcomeKind.SELFHELP_SIGNUP, OutcomeKind.REPEAT_TRIGGER,
    OutcomeKind.SEARCH_ABANDONED,
)
_KINDS = frozenset(str(kind) for kind in REPORTABLE_KINDS)
MAX_KEY_CHARS = 120
KEY_PREFIX = "r:"  # separates reported keys from our own (click:…) under one reporter
MAX_BATCH_LINES = 10_000
MAX_BATCH_BYTES = 8 * 1024 * 1024
MAX_REPORTED_ERRORS = 200
MAX_AGGREGATE_ROWS = 1_000
_EVENT_FIELDS = frozenset({"kind", "idempotency_key", "intervention_id", "referral_code",
                           "occurred_at"})


@dataclass(frozen=True)
class OutcomeEvent:
    kind: str
    idempotency_key: str
    intervention_id: uuid.UUID | None
    referral_code: str | None
    occurred_at: datetime | None


@dataclass
class BatchReport:
    received: int = 0
    accepted: int = 0
    duplicates: int = 0
    rejected: int = 0
    errors: list[dict] = field(default_factory=list)
    errors_truncated: bool = False

    def reject(self, line: int, errors: dict) -> None:
        self.rejected += 1
        if len(self.errors) < MAX_REPORTED_ERRORS:
            self.errors.append({"line": line, "errors": errors})
        else:
            self.errors_truncated = True


@dataclass(frozen=True)
class OutcomeReceipt:
    outcome: Outcome
    duplicate: bool


# --- parsing -----------------------------------------------------------------------------------

Fields = tuple[str, str, "uuid.UUID | None", "str | None", "datetime | None"]
_NULLABLE = ("intervention_id", "occurred_at", "referral_code")  # sorted: the error order


def outcome_event_parse(raw: Any, *, at: datetime) -> OutcomeEvent:
    """Check one event; raise EventErrors naming each bad field."""
    return OutcomeEvent(*_event_fields(raw, at=at))


def _event_fields(raw: Any, *, at: datetime) -> Fields:
    """(kind, key, intervention id, referral code, occurred_at) of a valid event."""
    if not isinstance(raw, dict):
        raise EventErrors({"non_field_errors": ["Each event must be a JSON object."]})
    errors: dict[str, list[str]] = {}
    if not _EVENT_FIELDS.issuperset(raw):
        unknown = sorted(set(raw) - _EVENT_FIELDS)
        errors["non_field_errors"] = [f"Unknown field(s): {', '.join(unknown)}."]
    if None in raw.values():
        for name in _NULLABLE:  # leave a field out rather than sending null
            if name in raw and raw[name] is None:
                errors[name] = ["May not be null: leave the field out."]
    kind = raw.get("kind")
    if not isinstance(kind, str) or kind not in _KINDS:
        errors["kind"] = [f"Use one of: {', '.join(sorted(_KINDS))}."]
    key = raw.get("idempotency_key")
    if not isinstance(key, str) or not 0 < len(key) <= MAX_KEY_CHARS or not key.isprintable():
        errors["idempotency_key"] = [f"A printable string of 1 to {MAX_KEY_CHARS} characters."]
    intervention_id = _intervention_id(raw.get("intervention_id"), errors)
    code = _referral_code(raw.get("referral_code"), errors)
    if "intervention_id" not in errors and "referral_code" not in errors and \
            (intervention_id is None) == (code is None):
        errors["non_field_errors"] = ["Give either intervention_id or referral_code."]
    occurred_at = _occurred_at(raw.get("occurred_at"), errors, at=at)
    if errors:
        raise EventErrors(errors)
    return kind, key, intervention_id, code, occurred_at


class EventErrors(Exception):
    def __init__(self, errors: dict[str, list[str]]) -> None:
        super().__init__("invalid event")
        self.errors = errors


def _intervention_id(value: Any, errors: dict) -> uuid.UUID | None:
    if value is None:
        return None
    try:
        return uuid.UUID(value) if isinstance(value, str) else _bad()
    except ValueError:
        errors["intervention_id"] = ["Not a valid intervention id (a UUID)."]
        return None


def _bad() -> uuid.UUID:
    raise ValueError


def _referral_code(value: Any, errors: dict) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not 0 < len(value.strip()) <= 12:
        errors["referral_code"] = ["A referral code of at most 12 characters."]
        return None
    return value.strip().upper()


def _occurred_at(value: Any, errors: dict, *, at: datetime) -> datetime | None:
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        errors["occurred_at"] = ["An ISO 8601 date-time with a time zone."]
        return None
    problem = event_time_problem(moment, at=at)
    if problem:
        errors["occurred_at"] = [problem]
        return None
    return moment


def _too_early(occurred_at: datetime | None, owner: Owner, *, at: datetime) -> str | None:
    """Why an event cannot have happened then, given when its exposure or campaign existed."""
    if occurred_at is None:
        return None
    return event_time_problem(occurred_at, at=at, not_before=owner.since)


# --- resolving and storing one event ------------------------------------------------------------

class OutcomeRow(NamedTuple):
    """A resolved event, ready to store."""

    organisation_id: int
    reported_by_id: int
    campaign_id: int
    exposure_id: uuid.UUID | None
    kind: str
    idempotency_key: str
    occurred_at: datetime
    recorded_at: datetime

    def as_outcome(self) -> Outcome:
        return Outcome(**self._asdict())


def outcome_report(*, reporter: Organisation, raw: Any,
                   at: datetime | None = None) -> OutcomeReceipt:
    """Record one reported outcome; a replayed idempotency key returns the first one."""
    at = at or timezone.now()
    try:
        event = outcome_event_parse(raw, at=at)
    except EventErrors as error:
        raise ValidationError(error.errors) from None
    if event.intervention_id is not None:
        found = exposures_reportable_by(reporter=reporter, ids=[event.intervention_id])
        owner = found.get(event.intervention_id)
        if owner is None:
            raise InvalidInput("Unknown intervention id.", field="intervention_id")
    else:
        found = campaigns_by_referral_code(reporter=reporter, codes=[event.referral_code or ""])
        owner = found.get(event.referral_code or "")
        if owner is None:
            raise InvalidInput("Unknown referral code.", field="referral_code")
    problem = _too_early(event.occurred_at, owner, at=at)
    if problem:
        raise InvalidInput(problem, field="occurred_at")
    return _save_one(OutcomeRow(
        organisation_id=owner[0], reported_by_id=reporter.pk, campaign_id=owner[1],
        exposure_id=event.intervention_id, kind=event.kind,
        idempotency_key=KEY_PREFIX + event.idempotency_key,
        occurred_at=event.occurred_at or at, recorded_at=at).as_outcome())


def _save_one(outcome: Outcome) -> OutcomeReceipt:
    try:
        with transaction.atomic():
            outcome.save(force_insert=True)
        return OutcomeReceipt(outcome=outcome, duplicate=False)
    except IntegrityError:
        existing = Outcome.objects.get(reported_by_id=outcome.reported_by_id,
                                       idempotency_key=outcome.idempotency_key)
        return OutcomeReceipt(outcome=existing, duplicate=True)


# --- batches -----------------------------------------------------------------------------------
# A batch is kept as columns (one list per field) rather than an object per event: at 10,000
# events the objects cost more to build than the checks.

def outcomes_batch_ingest(*, reporter: Organisation, body: bytes, actor: Actor,
                          at: datetime | None = None) -> BatchReport:
    """Store an NDJSON upload: valid lines kept, bad ones reported by (1-based) line number."""
    at = at or timezone.now()
    if len(body) > MAX_BATCH_BYTES:
        raise PayloadTooLarge(f"A batch may hold at most {MAX_BATCH_BYTES} bytes.")
    lines = body.count(b"\n") + 1
    if lines > MAX_BATCH_LINES + 1 or (
            lines == MAX_BATCH_LINES + 1 and body[body.rfind(b"\n") + 1:].strip()):
        raise PayloadTooLarge(f"A batch may hold at most {MAX_BATCH_LINES} events; "
                              "split the upload. Nothing was stored.")
    report = BatchReport()
    with _cyclic_gc_paused(), transaction.atomic():  # the audit row commits with the rows
        _ingest(body, reporter=reporter, at=at, report=report)
        audit_record(organisation=reporter, actor=actor, action="outcomes.batch",
                     target=reporter, changes={"received": report.received,
                                               "accepted": report.accepted,
                                               "duplicates": report.duplicates,
                                               "rejected": report.rejected})
    return report


def _ingest(body: bytes, *, reporter: Organisation, at: datetime, report: BatchReport) -> None:
    # A function of its own so the batch is freed before the collector resumes.
    events = _parse_lines(body, at=at, report=report)
    _store_new(_resolve(events, reporter=reporter, at=at, report=report), reporter=reporter,
               report=report)


@contextmanager
def _cyclic_gc_paused() -> Iterator[None]:
    """Pause CPython's cycle collector while a batch is in memory.

    The ids of 10,000 events (and their owners) live until the batch is stored; without the
    pause they are promoted through the generations and set off a full collection of the
    whole heap (about 0.1 s, a third of a batch) every other batch. Nothing here makes
    cycles: reference counting frees it all, and the collector resumes afterwards.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


@dataclass
class _Events:
    """Valid events of a batch in line order, one list per field."""

    lines: list[int] = field(default_factory=list)
    kinds: list[str] = field(default_factory=list)
    keys: list[str] = field(default_factory=list)
    ids: list[uuid.UUID | None] = field(default_factory=list)
    codes: list[str | None] = field(default_factory=list)
    occurred: list[datetime | None] = field(default_factory=list)

    def add(self, line: int, fields: Fields) -> None:
        self.lines.append(line)
        self.kinds.append(fields[0])
        self.keys.append(fields[1])
        self.ids.append(fields[2])
        self.codes.append(fields[3])
        self.occurred.append(fields[4])


_BLANK = " \t\n\r\x0b\x0c"  # what bytes.strip() strips: a line of only these is no event
_JSON_SPACE = " \t\n\r"  # what json.loads allows around a value
_SCAN = json.JSONDecoder().scan_once
_NOT_PARSED = object()


def _parse_lines(body: bytes, *, at: datetime, report: BatchReport) -> _Events:
    try:  # one decode for the whole body; a body that is not UTF-8 is read line by line
        lines: list[str] | list[bytes] = body.decode().split("\n")
    except UnicodeDecodeError:
        lines = body.split(b"\n")
    events = _Events()
    for number, line in enumerate(lines, start=1):
        if not line.strip(_BLANK if isinstance(line, str) else None):  # type: ignore[arg-type]
            continue  # blank lines (and the final newline) are not events
        report.received += 1
        try:
            raw = _loads_object(line) if isinstance(line, str) else _NOT_PARSED
            if raw is _NOT_PARSED:  # json.loads on the bytes decides, as it always has
                raw = json.loads(line.encode() if isinstance(line, str) else line)
            events.add(number, _event_fields(raw, at=at))
        except (ValueError, UnicodeDecodeError):
            report.reject(number, {"non_field_errors": ["Not a JSON object on one line."]})
        except EventErrors as error:
            report.reject(number, error.errors)
    return events


def _loads_object(line: str) -> Any:
    """json.loads(line) for the common case (a line that is one JSON object), else _NOT_PARSED.

    Calls the C scanner directly: json.loads spends as long on its checks as on the parse.
    Anything unusual (leading space, a BOM, bad JSON) is left to json.loads on the bytes,
    which decides exactly as before.
    """
    if not line.startswith("{"):
        return _NOT_PARSED
    try:
        value, end = _SCAN(line, 0)
    except (StopIteration, ValueError):
        return _NOT_PARSED
    if end != len(line) and line[end:].strip(_JSON_SPACE):
        return _NOT_PARSED
    return value


@dataclass
class _Rows:
    """Resolved, unique-in-batch events ready to store, one list per column."""

    organisation_ids: list[int] = field(default_factory=list)
    campaign_ids: list[int] = field(default_factory=list)
    exposure_ids: list[uuid.UUID | None] = field(default_factory=list)
    kinds: list[str] = field(default_factory=list)
    keys: list[str] = field(default_factory=list)
    occurred: list[datetime] = field(default_factory=list)
    reported_by_id: int = 0
    recorded_at: datetime | None = None

    def __len__(self) -> int:
        return len(self.keys)

    def outcomes(self) -> list[Outcome]:
        return [Outcome(organisation_id=org, reported_by_id=self.reported_by_id,
                        campaign_id=campaign, exposure_id=exposure, kind=kind,
                        idempotency_key=key, occurred_at=occurred,
                        recorded_at=self.recorded_at)
                for org, campaign, exposure, kind, key, occurred in zip(
                    self.organisation_ids, self.campaign_ids, self.exposure_ids, self.kinds,
                    self.keys, self.occurred, strict=True)]


_UNKNOWN_ID = "Unknown intervention id."
_UNKNOWN_CODE = "Unknown referral code."


def _resolve(events: _Events, *, reporter: Organisation, at: datetime,
             report: BatchReport) -> _Rows:
    """Owners of the events; unknown (or not reportable) ids and codes are rejected, a key
    repeated within the batch is a duplicate (the first line wins)."""
    exposures = exposures_reportable_by(
        reporter=reporter, ids={i for i in events.ids if i is not None})
    campaigns = campaigns_by_referral_code(
        reporter=reporter, codes={c for c in events.codes if c is not None})
    rows = _Rows(reported_by_id=reporter.pk, recorded_at=at)
    seen: set[str] = set()
    for line, ident, code, kind, key, occurred in zip(
            events.lines, events.ids, events.codes, events.kinds, events.keys,
            events.occurred, strict=True):
        found = exposures.get(ident) if ident is not None else campaigns.get(code or "")
        if found is None:
            report.reject(line, {"intervention_id": [_UNKNOWN_ID]} if ident is not None
                          else {"referral_code": [_UNKNOWN_CODE]})
            continue
        problem = _too_early(occurred, found, at=at)
        if problem:
            report.reject(line, {"occurred_at": [problem]})
            continue
        key = KEY_PREFIX + key
        if key in seen:
            report.duplicates += 1
            continue
        seen.add(key)
        rows.organisation_ids.append(found[0])
        rows.campaign_ids.append(found[1])
        rows.exposure_ids.append(ident)
        rows.kinds.append(kind)
        rows.keys.append(key)
        rows.occurred.append(occurred or at)
    return rows


def _store_new(rows: _Rows, *, reporter: Organisation, report: BatchReport) -> None:
    if not rows:
        return
    if connection.vendor == "postgresql":
        accepted = _insert_unnest(rows)
        report.accepted += accepted
        report.duplicates += len(rows) - accepted
        return
    keys = rows.keys
    existing: set[str] = set()
    for start in range(0, len(keys), 5000):
        existing.update(Outcome.objects.filter(
            reported_by=reporter, idempotency_key__in=keys[start:start + 5000],
        ).values_list("idempotency_key", flat=True))
    new = [o for o in rows.outcomes() if o.idempotency_key not in existing]
    report.duplicates += len(rows) - len(new)
    # ignore_conflicts: a concurrent upload of the same keys still cannot double count.
    Outcome.objects.bulk_create(new, ignore_conflicts=True, batch_size=2000)
    report.accepted += len(new)


def _insert_unnest(rows: _Rows) -> int:
    """PostgreSQL: one INSERT … SELECT FROM unnest(column arrays) ON CONFLICT DO NOTHING.

    The same guarantee as bulk_create(ignore_conflicts=True) on the idempotency constraint,
    and the row count is exact even when a concurrent upload carries the same keys. One
    statement with one array per column: no scratch table (catalog churn), no COPY.
    """
    sql, fields = _insert_sql()
    columns = {"organisation_id": rows.organisation_ids, "campaign_id": rows.campaign_ids,
               "exposure_id": rows.exposure_ids, "kind": rows.kinds,
               "idempotency_key": rows.keys, "occurred_at": rows.occurred,
               "reported_by_id": rows.reported_by_id, "recorded_at": rows.recorded_at}
    params = [columns[f.attname] if f.attname in columns else f.get_default()
              for f in fields]
    connection.ensure_connection()
    # A server-side-binding psycopg cursor (Django's binds client-side, as SQL text): binary
    # arrays are several times cheaper to build and for the server to read.
    with psycopg.Cursor(connection.connection) as cursor:
        cursor.execute(sql, params)
        return cursor.rowcount


_PER_ROW = frozenset({"organisation_id", "campaign_id", "exposure_id", "kind",
                      "idempotency_key", "occurred_at"})


@functools.cache
def _insert_sql() -> tuple[str, list[Any]]:
    """The statement and the fields it fills, in parameter order, built once from the model
    (a new Outcome field is filled with its default)."""
    quote = connection.ops.quote_name
    fields = [f for f in Outcome._meta.concrete_fields if not f.primary_key]
    arrays = [f for f in fields if f.attname in _PER_ROW]
    scalars = [f for f in fields if f.attname not in _PER_ROW]
    names = ", ".join(quote(f.column) for f in arrays + scalars)
    unnest = ", ".join(f"%b::{f.db_type(connection)}[]" for f in arrays)  # binary arrays
    values = ", ".join([f"u.{quote(f.column)}" for f in arrays]
                       + [f"%s::{f.db_type(connection)}" for f in scalars])
    sql = (f"INSERT INTO {quote(Outcome._meta.db_table)} ({names}) "  # noqa: S608
           f"SELECT {values} FROM unnest({unnest}) "
           f"AS u({', '.join(quote(f.column) for f in arrays)}) "
           "ON CONFLICT (reported_by_id, idempotency_key) DO NOTHING")
    return sql, scalars + arrays  # the order of the placeholders in the text


# --- daily aggregates --------------------------------------------------------------------------

@dataclass(frozen=True)
class AggregateRow:
    day: date
    kind: str
    referral_source: str
    count: int


@dataclass
class AggregateReport:
    received: int = 0
    created: int = 0
    updated: int = 0
    linked_to_campaigns: int = 0


@transaction.atomic
def daily_aggregates_report(*, reporter: Organisation, rows: list[AggregateRow], actor: Actor,
                            at: datetime | None = None) -> AggregateReport:
    """Upsert a helpline's daily counts; a re-sent (day, kind, source) replaces its count.

    A source equal to a referral code of a campaign the reporter works with links the row to
    that campaign and its programme; other sources are kept as the helpline's own labels under
    its programme (the only one it partners with, or itself).
    """
    at = at or timezone.now()
    if len(rows) > MAX_AGGREGATE_ROWS:
        raise PayloadTooLarge(f"At most {MAX_AGGREGATE_ROWS} rows per report.")
    _check_days(rows, at=at)
    campaigns = campaigns_by_referral_code(reporter=reporter,
                                           codes={r.referral_source for r in rows})
    _check_linked_days(rows, campaigns)
    home = _home_programme(reporter)
    existing = set(DailyAggregate.objects.filter(
        reported_by=reporter, day__in={r.day for r in rows}).values_list(
        "day", "kind", "referral_source"))
    report = AggregateReport(received=len(rows))
    objects = {}
    for row in rows:
        found = campaigns.get(row.referral_source.upper())
        report.linked_to_campaigns += found is not None
        key = (row.day, row.kind, row.referral_source)
        objects[key] = DailyAggregate(
            organisation_id=found[0] if found else home, reported_by=reporter, day=row.day,
            kind=row.kind, referral_source=row.referral_source,
            campaign_id=found[1] if found else None, count=row.count, updated_at=at)
    report.updated = sum(1 for key in objects if key in existing)
    report.created = len(objects) - report.updated
    DailyAggregate.objects.bulk_create(
        list(objects.values()), update_conflicts=True,
        unique_fields=["reported_by", "day", "kind", "referral_source"],
        update_fields=["count", "campaign", "organisation", "updated_at"])
    audit_record(organisation=reporter, actor=actor, action="outcomes.aggregates",
                 target=reporter, changes={"rows": len(rows), "created": report.created,
                                           "updated": report.updated})
    return report


def _check_days(rows: list[AggregateRow], *, at: datetime) -> None:
    for index, row in enumerate(rows):
        problem = day_problem(row.day, at=at)
        if problem:
            raise InvalidInput(f"Row {index + 1}: day: {problem}", field="rows")
        if row.kind not in _KINDS:
            raise InvalidInput(f"Row {index + 1}: unknown kind.", field="rows")


def _check_linked_days(rows: list[AggregateRow], campaigns: dict[str, Owner]) -> None:
    """A row counted for a campaign cannot be dated before the campaign existed (less the
    tolerance of core.bounds)."""
    for index, row in enumerate(rows):
        found = campaigns.get(row.referral_source.upper())
        if found is not None and row.day < (found.since - EXISTENCE_TOLERANCE).date():
            raise InvalidInput(f"Row {index + 1}: day: cannot be before the campaign "
                               f"{row.referral_source.upper()} existed "
                               f"({found.since.date()}).", field="rows")


def _home_programme(reporter: Organisation) -> int:
    programmes = list(Partnership.objects.filter(partner=reporter)
                      .values_list("programme_id", flat=True)[:2])
    return programmes[0] if len(programmes) == 1 else reporter.pk

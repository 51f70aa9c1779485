"""The NDJSON batch form of outcome reports: up to MAX_BATCH_LINES events in one request.

Each line is checked by the same parser as a single report (`interventions.outcomes`); valid
lines are stored, invalid ones reported by line number and skipped.
"""

from __future__ import annotations

import functools
import gc
import json
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import psycopg
from django.db import connection, transaction
from django.utils import timezone

from core.edge import DEPTH_PROBLEM
from core.errors import PayloadTooLarge
from evaluation.idempotency import reported_keys
from evaluation.models import Outcome
from interventions.outcomes import (
    MAX_BATCH_BYTES,
    MAX_BATCH_LINES,
    BatchReport,
    EventErrors,
    Fields,
    event_fields,
    event_too_early,
)
from interventions.selectors import campaigns_by_referral_code, exposures_reportable_by
from organisations.models import Organisation
from organisations.services import Actor, audit_record

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
            events.add(number, event_fields(raw, at=at))
        except (ValueError, UnicodeDecodeError):
            report.reject(number, {"non_field_errors": ["Not a JSON object on one line."]})
        except RecursionError:  # one deep line fails alone; the others are kept
            report.reject(number, {"non_field_errors": [DEPTH_PROBLEM]})
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
    stored_keys = reported_keys(reporter.pk, events.keys)  # keyed hashes, never the keys
    for line, ident, code, kind, key, occurred in zip(
            events.lines, events.ids, events.codes, events.kinds, stored_keys,
            events.occurred, strict=True):
        found = exposures.get(ident) if ident is not None else campaigns.get(code or "")
        if found is None:
            report.reject(line, {"intervention_id": [_UNKNOWN_ID]} if ident is not None
                          else {"referral_code": [_UNKNOWN_CODE]})
            continue
        problem = event_too_early(occurred, found, at=at)
        if problem:
            report.reject(line, {"occurred_at": [problem]})
            continue
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


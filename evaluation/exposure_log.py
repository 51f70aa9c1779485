"""Exposures written in one statement each, unless the person is over the campaign's cap.

The live-intervention hot path writes an exposure on every request. Through the ORM that was
four round trips (cap count, BEGIN, INSERT, COMMIT) and most of the request's CPU time; here it
is one INSERT … SELECT … WHERE (prior exposures < cap), committed on its own.

On PostgreSQL, concurrent requests of one process share that statement (group commit): the
first thread to arrive writes every exposure queued by then, with its cap per row, in one
statement and one commit, and each waiting request returns once its own row is committed. Under
load that turns n statements and n WAL flushes into one; alone, a request writes just its row.
The rows travel as one JSON parameter and the statement is bound server-side, so its plan is
prepared once per connection whatever the batch size. Inside a transaction (tests, a caller's
atomic block) the row is written on the caller's own connection instead, so it commits or rolls
back with it.

The frequency cap, the one rule (docs/architecture.md): at most `frequency_cap_count` exposures
of one person to one campaign within `frequency_cap_days`, holdout exposures counted (a holdout
is an exposure to the experiment; not counting it would let the cap itself unbalance the arms).
`exposure_cap_for` turns a campaign into that cap; the intervention path applies it per row in
the insert, the delivery fan-out asks `capped_subjects` once per occurrence.

The cap is not a lock: two simultaneous requests for one person can both pass it (as with any
count-then-insert); it limits repetition, it does not guarantee a maximum.
"""

from __future__ import annotations

import functools
import json
import threading
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.db import connection
from django.db.models import Count, QuerySet

from core.db import server_bound_cursor
from evaluation.models import Exposure

# (column, PostgreSQL type)
_COLUMNS = (
    ("id", "uuid"), ("organisation_id", "bigint"), ("campaign_id", "bigint"),
    ("arm_id", "bigint"), ("schedule_id", "bigint"), ("segment_id", "bigint"),
    ("partner_id", "bigint"),
    ("message_id", "bigint"), ("source", "varchar"), ("channel", "varchar"),
    ("country", "varchar"), ("language", "varchar"), ("trigger", "varchar"),
    ("subject_key_id", "varchar"), ("subject_pseudonym", "varchar"), ("is_holdout", "boolean"),
    ("occurred_at", "timestamptz"),
)
_NAMES = [name for name, _ in _COLUMNS]


@dataclass(frozen=True)
class ExposureCap:
    """At most `count` exposures of one person to one campaign since `since` (holdouts too)."""

    count: int
    since: datetime


def exposure_cap_for(campaign: Any, at: datetime) -> ExposureCap | None:
    """The campaign's frequency cap as of `at`; None when it has none (a count of 0: the field
    cannot express "never show", that is what pausing is for)."""
    if not campaign.frequency_cap_count:
        return None
    return ExposureCap(count=campaign.frequency_cap_count,
                       since=at - timedelta(days=campaign.frequency_cap_days))


def capped_subjects(*, campaign_id: int, cap: ExposureCap | None) -> set[tuple[str, str]]:
    """(key id, pseudonym) of everyone who already had `cap.count` exposures to the campaign
    since `cap.since` (the same count the insert below makes per row)."""
    if cap is None:
        return set()
    rows = (_prior_exposures(campaign_id, cap.since)
            .values("subject_key_id", "subject_pseudonym")
            .annotate(n=Count("id")).filter(n__gte=cap.count))
    return {(row["subject_key_id"], row["subject_pseudonym"]) for row in rows}


def _prior_exposures(campaign_id: int, since: datetime) -> QuerySet[Exposure]:
    # Mirrors the WHERE of `_batch_statement` (kept in SQL there for the hot path).
    return Exposure.objects.filter(campaign_id=campaign_id, occurred_at__gte=since)


@dataclass(frozen=True)
class ExposureRow:
    id: uuid.UUID
    organisation_id: int
    campaign_id: int
    arm_id: int
    schedule_id: int | None
    segment_id: int | None
    partner_id: int | None
    message_id: int | None
    source: str
    channel: str
    country: str
    language: str
    trigger: str
    subject_key_id: str
    subject_pseudonym: str
    is_holdout: bool
    occurred_at: datetime


def exposure_insert_unless_capped(row: ExposureRow, *, cap: ExposureCap | None) -> bool:
    """Insert the row unless `cap` is reached; True when it was written (and committed, when
    called outside a transaction)."""
    if connection.vendor != "postgresql":
        return _insert_one(row, cap=cap)
    if connection.in_atomic_block:
        return row.id in _insert_batch([_Queued(row, cap)])
    return _group.write(_Queued(row, cap))


def exposures_insert_many(rows: list[ExposureRow]) -> None:
    """Insert rows in one statement on the caller's connection (and transaction); a row whose
    id exists already is skipped. For a sender's flush: no cap, the audience was capped at
    fan-out."""
    if connection.vendor == "postgresql":
        _insert_batch([_Queued(row, None) for row in rows])
        return
    Exposure.objects.bulk_create([exposure_model(row) for row in rows], ignore_conflicts=True)


# --- PostgreSQL: group commit ----------------------------------------------------------------

@dataclass(eq=False)
class _Queued:
    row: ExposureRow
    cap: ExposureCap | None
    done: threading.Event = field(default_factory=threading.Event)
    lead: bool = False
    written: bool = False
    error: BaseException | None = None


class _GroupWriter:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._queue: list[_Queued] = []
        self._writing = False

    def write(self, item: _Queued) -> bool:
        with self._lock:
            self._queue.append(item)
            leading = not self._writing
            self._writing = True
        if not leading:
            # Woken when our batch is committed, or to write the next batch ourselves. The
            # writer always wakes its batch and hands over (finally), so this cannot hang.
            item.done.wait()
            leading = item.lead
        if leading:
            self._lead()
        if item.error is not None:
            raise item.error
        return item.written

    def _lead(self) -> None:
        with self._lock:
            batch, self._queue = self._queue, []
        try:
            written = _insert_batch(batch)
            for queued in batch:
                queued.written = queued.row.id in written
        except BaseException as error:
            for queued in batch:
                queued.error = error
        finally:
            self._hand_over(batch)

    def _hand_over(self, batch: list[_Queued]) -> None:
        # Wake the batch, and make the oldest request that arrived meanwhile the next writer.
        with self._lock:
            if self._queue:
                self._queue[0].lead = True
                self._queue[0].done.set()
            else:
                self._writing = False
        for queued in batch:
            queued.done.set()


_group = _GroupWriter()


def _insert_batch(batch: list[_Queued]) -> set[uuid.UUID]:
    """Insert the batch's rows that are under their caps; the ids written."""
    # One JSON parameter: cheaper to send than an array per column (psycopg dumps each list
    # element in Python), and PostgreSQL parses it into typed columns.
    rows = json.dumps([_json_row(item) for item in batch], separators=(",", ":"))
    with server_bound_cursor(prepare=True) as cursor:
        cursor.execute(_batch_statement(), [rows])
        return {row[0] for row in cursor.fetchall()}


def _json_row(item: _Queued) -> dict[str, Any]:
    row = {name: getattr(item.row, name) for name in _NAMES}
    row["id"] = str(row["id"])
    row["occurred_at"] = row["occurred_at"].isoformat()
    if item.cap is not None:
        row["cap_count"] = item.cap.count
        row["cap_since"] = item.cap.since.isoformat()
    return row


@functools.cache
def _batch_statement() -> str:
    table = connection.ops.quote_name(Exposure._meta.db_table)
    names = ", ".join(connection.ops.quote_name(name) for name in _NAMES)
    typed = ", ".join(f"{connection.ops.quote_name(name)} {kind}" for name, kind in _COLUMNS)
    selected = ", ".join(f"v.{connection.ops.quote_name(name)}" for name in _NAMES)
    return (
        f"INSERT INTO {table} ({names}) SELECT {selected} "  # noqa: S608 (names are ours)
        f"FROM json_to_recordset(%s::json) AS v({typed}, cap_count integer, "
        "cap_since timestamptz) "
        "WHERE v.cap_count IS NULL OR (SELECT COUNT(*) FROM ("
        f"SELECT 1 FROM {table} AS e WHERE e.subject_key_id = v.subject_key_id "
        "AND e.subject_pseudonym = v.subject_pseudonym AND e.occurred_at >= v.cap_since "
        "AND e.campaign_id = v.campaign_id LIMIT v.cap_count) AS prior) < v.cap_count "
        # A fixed id that exists already (a message re-sent after a crash) counts once.
        "ON CONFLICT (id) DO NOTHING RETURNING id")


# --- other databases (SQLite for the demo): the ORM, one row at a time -----------------------

def exposure_model(row: ExposureRow) -> Exposure:
    """The row as an (unsaved) Exposure."""
    return Exposure(**{name: getattr(row, name) for name in _NAMES})


def _insert_one(row: ExposureRow, *, cap: ExposureCap | None) -> bool:
    if cap is not None and _prior_exposures(row.campaign_id, cap.since).filter(
            subject_key_id=row.subject_key_id,
            subject_pseudonym=row.subject_pseudonym)[:cap.count].count() >= cap.count:
        return False
    exposure_model(row).save(force_insert=True)
    return True

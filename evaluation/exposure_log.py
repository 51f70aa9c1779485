"""One exposure written in one statement, unless the person is over the campaign's cap.

The live-intervention hot path writes an exposure on every request. Through the ORM that was
four round trips (cap count, BEGIN, INSERT, COMMIT) and most of the request's CPU time; here it
is a single INSERT … SELECT … WHERE (prior exposures < cap), committed on its own outside a
transaction. On PostgreSQL the statement is bound server-side, so psycopg prepares it once
per connection and PostgreSQL plans it once. The cap is not a lock: two simultaneous requests
for one person can both pass it (as with any count-then-insert); it limits repetition, it does
not guarantee a maximum.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import connection

from evaluation.models import Exposure

# (column, PostgreSQL type for the explicit cast: an untyped NULL would not bind)
_COLUMNS = (
    ("id", "uuid"), ("organisation_id", "bigint"), ("campaign_id", "bigint"),
    ("arm_id", "bigint"), ("segment_id", "bigint"), ("partner_id", "bigint"),
    ("message_id", "bigint"), ("source", "varchar"), ("channel", "varchar"),
    ("country", "varchar"), ("language", "varchar"), ("trigger", "varchar"),
    ("subject_key_id", "varchar"), ("subject_pseudonym", "varchar"), ("is_holdout", "boolean"),
    ("occurred_at", "timestamptz"),
)


@dataclass(frozen=True)
class ExposureCap:
    """At most `count` exposures of one person to one campaign since `since` (holdouts too)."""

    count: int
    since: datetime


@dataclass(frozen=True)
class ExposureRow:
    id: uuid.UUID
    organisation_id: int
    campaign_id: int
    arm_id: int
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
    postgres = connection.vendor == "postgresql"
    values = [getattr(row, name) for name, _ in _COLUMNS]
    if not postgres:
        values = _adapted(values)
    sql = _statement(postgres=postgres, capped=cap is not None)
    if cap is not None:
        since = cap.since if postgres else connection.ops.adapt_datetimefield_value(cap.since)
        values += [row.subject_key_id, row.subject_pseudonym, since, row.campaign_id, cap.count,
                   cap.count]
    with _cursor(postgres) as cursor:
        cursor.execute(sql, values)
        return cursor.rowcount == 1


def _adapted(values: list[Any]) -> list[Any]:
    # SQLite stores UUIDs as 32 hex digits and datetimes as text: adapt as the ORM would.
    fields = [Exposure._meta.get_field(name) for name, _ in _COLUMNS]
    return [field.get_db_prep_save(value, connection) for field, value in
            zip(fields, values, strict=True)]


def _cursor(postgres: bool):  # type: ignore[no-untyped-def]
    if not postgres:
        return connection.cursor()
    # A server-side-binding cursor (Django's default binds client-side, which cannot prepare),
    # wrapped like Django's own so query logging and error translation still apply.
    import psycopg

    connection.ensure_connection()
    raw = psycopg.Cursor(connection.connection)
    if connection.queries_logged:
        return connection.make_debug_cursor(raw)
    return connection.make_cursor(raw)


_STATEMENTS: dict[tuple[bool, bool], str] = {}


def _statement(*, postgres: bool, capped: bool) -> str:
    key = (postgres, capped)
    if key not in _STATEMENTS:
        _STATEMENTS[key] = _build_statement(postgres=postgres, capped=capped)
    return _STATEMENTS[key]


def _build_statement(*, postgres: bool, capped: bool) -> str:
    table = connection.ops.quote_name(Exposure._meta.db_table)
    names = ", ".join(connection.ops.quote_name(name) for name, _ in _COLUMNS)
    placeholders = ", ".join(f"%s::{kind}" if postgres else "%s" for _, kind in _COLUMNS)
    sql = f"INSERT INTO {table} ({names}) SELECT {placeholders}"
    if capped:
        prior = (f"SELECT 1 FROM {table} WHERE subject_key_id = %s AND "  # noqa: S608
                 "subject_pseudonym = %s AND occurred_at >= %s AND campaign_id = %s LIMIT %s")
        sql += f" WHERE (SELECT COUNT(*) FROM ({prior}) AS prior) < %s"  # noqa: S608
    return sql

"""Raw SQL with the parameters bound by PostgreSQL, under Django's cursor wrappers.

Django's psycopg cursor binds client-side: it quotes every parameter (every element of an array)
into the SQL text in Python, and leaves psycopg's prepare_threshold at None, which turns
preparation off. The hot paths that send one statement for a batch (the exposure group writer,
the helpline relay) use this cursor instead: psycopg's server-binding cursor, optionally preparing
its statements, wrapped like `connection.cursor()` (execute wrappers, query logging, error
translation) with the connection's time zone. PostgreSQL only. (Behind PgBouncer in transaction
mode, `prepare=True` needs max_prepared_statements, PgBouncer 1.21+.)
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from django.db import connection
from django.db.backends.postgresql.base import TIMESTAMPTZ_OID, ServerBindingCursor
from django.db.backends.postgresql.psycopg_any import register_tzloader
from psycopg.pq import Format

# An unreachable threshold keeps automatic preparation off for every other query on the
# connection and lets a statement be prepared on request.
_ONLY_ON_REQUEST = 2**31 - 1


class _PreparingCursor(ServerBindingCursor):
    def execute(self, query, params=None, *, prepare=None, binary=None):  # type: ignore[no-untyped-def]
        return super().execute(query, params, prepare=True if prepare is None else prepare,
                               binary=binary)


@contextlib.contextmanager
def server_bound_cursor(*, prepare: bool = False) -> Iterator[Any]:
    """`connection.cursor()` that binds on the server, preparing each statement if `prepare`."""
    connection.validate_thread_sharing()
    connection.ensure_connection()
    raw_connection = connection.connection
    if prepare and raw_connection.prepare_threshold is None:
        raw_connection.prepare_threshold = _ONLY_ON_REQUEST
    raw = (_PreparingCursor if prepare else ServerBindingCursor)(raw_connection)
    if connection.timezone != raw.adapters.get_loader(TIMESTAMPTZ_OID, Format.TEXT).timezone:
        register_tzloader(connection.timezone, raw)  # as Django's create_cursor does
    with connection.wrap_database_errors:
        cursor = (connection.make_debug_cursor(raw) if connection.queries_logged
                  else connection.make_cursor(raw))
    with cursor:
        yield cursor

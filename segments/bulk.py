"""Generic bulk SQL: INSERT and UPDATE of many model rows (COPY on PostgreSQL).

Knows nothing of segments: any model's rows, values through each field's get_db_prep_save.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import Any

from django.db import connections, models, router


def default_columns(model: type[models.Model], connection: Any,
                    handled: Iterable[str]) -> dict[str, Any]:
    """column -> database value of the default, for every column the bulk path leaves out."""
    handled = set(handled)
    return {field.column: field.get_db_prep_save(field.get_default(), connection)
            for field in model._meta.concrete_fields if field.column not in handled}


def random_chunks(count: int, size: int) -> list[bytes]:
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

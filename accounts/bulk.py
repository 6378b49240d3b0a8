"""Bulk loading for seed and import commands: COPY, with indexes rebuilt afterwards.

Lives in the bottom app so that every app's seed module can use it. Row-by-row saves are
far too slow for a million tickets; COPY into tables without their secondary indexes, then
one CREATE INDEX per index, is how pg_restore does it.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from django.db import connection


def _secondary_indexes(cursor, tables: Sequence[str]) -> list[tuple[str, str]]:
    """(name, CREATE INDEX statement) of each non-unique index on `tables`."""
    cursor.execute(
        """
        SELECT ci.relname, pg_get_indexdef(i.indexrelid)
        FROM pg_index i
        JOIN pg_class ci ON ci.oid = i.indexrelid
        JOIN pg_class t ON t.oid = i.indrelid
        WHERE t.relname = ANY(%s) AND NOT i.indisunique AND NOT i.indisprimary
        ORDER BY ci.relname
        """,
        [list(tables)],
    )
    return cursor.fetchall()


def _is_superuser(cursor) -> bool:
    cursor.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
    row = cursor.fetchone()
    return bool(row and row[0])


@contextmanager
def bulk_load(tables: Sequence[str], *, on_rebuild=None) -> Iterator[None]:
    """Drop the secondary indexes of `tables`, run the block, then rebuild and analyse.

    As a superuser it also skips per-row foreign-key triggers (session_replication_role),
    which only a loader producing consistent rows may do: every seed row references rows
    the same run wrote first.
    """
    with connection.cursor() as cursor:
        indexes = _secondary_indexes(cursor, tables)
        for name, _ in indexes:
            cursor.execute(f'DROP INDEX IF EXISTS "{name}"')
        replica = _is_superuser(cursor)
        if replica:
            cursor.execute("SET session_replication_role = replica")
        cursor.execute("SET synchronous_commit = off")
        try:
            yield
        finally:
            if replica:
                cursor.execute("SET session_replication_role = DEFAULT")
            cursor.execute("SET maintenance_work_mem = '512MB'")
            cursor.execute("SET max_parallel_maintenance_workers = 2")
            for position, (name, statement) in enumerate(indexes, start=1):
                if on_rebuild:
                    on_rebuild(position, len(indexes), name)
                cursor.execute(statement)
            for table in tables:
                cursor.execute(f'ANALYZE "{table}"')


def copy_rows(table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> int:
    """COPY `rows` into `table`; returns how many were written."""
    count = 0
    column_list = ", ".join(f'"{c}"' for c in columns)
    with connection.cursor() as cursor:
        raw = cursor.cursor  # psycopg 3 cursor under Django's wrapper
        with raw.copy(f'COPY "{table}" ({column_list}) FROM STDIN') as copy:
            for row in rows:
                copy.write_row(row)
                count += 1
    return count


def reset_sequence(table: str, column: str = "id") -> None:
    """Move the id sequence past the ids a COPY wrote explicitly."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT setval(pg_get_serial_sequence(%s, %s), "
            f'COALESCE((SELECT MAX("{column}") FROM "{table}"), 0) + 1, false)',
            [table, column],
        )

"""Many rows in one statement on PostgreSQL: ``COPY`` and ``INSERT ... SELECT FROM unnest()``.

An ``executemany`` through psycopg runs one ``INSERT`` per row (pipelined, but each one parsed,
planned, routed to its partition and executed on its own); the collector writes a batch of up to
:data:`central.collect.BATCH_MAX` events, their ids and their rollups in every transaction. Here a
batch is one statement per table whatever its size (measured with the district load test:
docs/CENTRAL.md, "Ingest at district rate"):

- :func:`copy_rows`: ``COPY <table> (...) FROM STDIN``, for the events (payloads are JSON text,
  full of quotes that an array parameter would have to escape one by one in Python; psycopg
  formats COPY rows in C). A row the database refuses fails the whole ``COPY``, as it would an
  ``INSERT``: the caller isolates it (central/store/writer.py).
- :func:`unnest_select` with :func:`arrays`: ``INSERT ... SELECT ... FROM unnest(:arrays)`` as a
  SQLAlchemy construct, where a conflict clause or ``RETURNING`` is needed (event ids, rollups):
  the ``ON CONFLICT`` clauses are written once for SQLite and PostgreSQL, and the statement text
  is the same for every batch, so psycopg prepares it once per connection.

Errors arrive as SQLAlchemy's (a data error, a lost connection) as from any other statement.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, cast

import psycopg
from sqlalchemy import Connection, Select, Table, literal_column, select, text
from sqlalchemy.dialects import postgresql
from sqlalchemy.exc import DBAPIError

_PG = postgresql.dialect()  # type: ignore[no-untyped-call]


def _param(name: str) -> str:
    return f"u_{name}"


def unnest_select(table: Table, columns: Sequence[str]) -> Select[Any]:
    """``SELECT <columns> FROM unnest(CAST(:u_<c> AS <type>[]), ...) WITH ORDINALITY AS u(...)
    ORDER BY ordinality``: the rows of :func:`arrays`, in their order (writers that lock rows in
    a fixed order never deadlock each other)."""
    casts = ", ".join(
        f"CAST(:{_param(c)} AS {table.c[c].type.compile(dialect=_PG)}[])" for c in columns
    )
    source = text(f"unnest({casts}) WITH ORDINALITY AS u({', '.join(columns)}, u_n)")
    cols: list[Any] = [literal_column(f"u.{c}") for c in columns]
    return cast("Select[Any]", select(*cols).select_from(source).order_by(text("u.u_n")))


def arrays(rows: Sequence[Mapping[str, Any]], columns: Sequence[str]) -> dict[str, list[Any]]:
    """The parameters of :func:`unnest_select`: one list per column."""
    return {_param(c): [r[c] for r in rows] for c in columns}


def copy_rows(
    conn: Connection, table: Table, columns: Sequence[str], rows: Sequence[Sequence[Any]]
) -> None:
    """``COPY table (columns) FROM STDIN`` with ``rows`` (tuples in ``columns`` order), inside
    ``conn``'s transaction (PostgreSQL through psycopg 3)."""
    sql = f"COPY {table.name} ({', '.join(columns)}) FROM STDIN"
    driver = conn.connection.driver_connection
    if not isinstance(driver, psycopg.Connection):
        raise TypeError(f"COPY needs psycopg 3, not {type(driver).__name__}")
    try:
        with driver.cursor() as cur, cur.copy(sql) as copy:
            for row in rows:
                copy.write_row(row)
    except psycopg.Error as exc:  # as SQLAlchemy raises it for any statement: DataError, ...
        raise DBAPIError.instance(sql, None, exc, psycopg.Error, dialect=conn.dialect) from exc

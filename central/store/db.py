"""Opening the database: the engine for a URL or a file path, and migrating it to the newest schema.

A plain path (``central.sqlite3``) means SQLite in that file (WAL journal, so the dashboard reads
while the collector writes); anything with ``://`` is a SQLAlchemy URL, e.g.
``postgresql+psycopg://user@host/db``. :func:`open_db` runs the Alembic migrations shipped in
``central/migrations`` before returning (under an advisory lock on PostgreSQL, so several
collectors starting together migrate once).
"""

from __future__ import annotations

import fcntl
import logging
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from importlib import resources
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event, make_url, text
from sqlalchemy.exc import ArgumentError, InterfaceError, NoSuchModuleError, OperationalError

from central.config import ConfigError

log = logging.getLogger(__name__)

_MIGRATION_LOCK = 0x7472696167  # "triag": pg_advisory_lock key for migrations


def database_url(db: str) -> str:
    """A SQLAlchemy URL from ``--db``: a URL as is, a file path as SQLite."""
    if "://" in db:
        return db
    path = Path(db).expanduser().resolve()
    path.parent.mkdir(parents=True, exist_ok=True)
    return f"sqlite+pysqlite:///{path}"


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    if isinstance(dbapi_conn, sqlite3.Connection):
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA busy_timeout=10000")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.close()


def make_engine(db: str) -> Engine:
    """An engine for ``--db`` (not migrated: see :func:`open_db`)."""
    url = database_url(db)
    make_url(url)  # ArgumentError for a URL that does not parse
    engine = create_engine(url, pool_pre_ping=True)
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def alembic_config() -> Config:
    """The Alembic configuration pointing at the migration scripts inside the package."""
    cfg = Config()
    cfg.set_main_option("script_location", str(resources.files("central") / "migrations"))
    return cfg


@contextmanager
def sqlite_file_lock(engine: Engine, name: str) -> Iterator[None]:
    """For a SQLite file: an exclusive ``flock`` on ``<db>.<name>`` beside it while inside, for
    processes of one machine taking turns (migrating: ``migrate-lock``; a collector and a dashboard
    started together on a new file would otherwise both create the tables). Nothing to wait for
    on another database or in memory."""
    db = engine.url.database
    if engine.dialect.name != "sqlite" or not db or db == ":memory:":
        yield
        return
    with open(f"{db}.{name}", "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def migrate(engine: Engine) -> None:
    """Bring the database to the newest schema (idempotent, safe to run concurrently)."""
    cfg = alembic_config()
    with sqlite_file_lock(engine, "migrate-lock"), engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _MIGRATION_LOCK})
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "heads")  # features add branches from 0003; see versions/


def open_db(db: str) -> Engine:
    """An engine for ``--db``, migrated to the newest schema; a URL that does not parse, names no
    known database or cannot be reached is a :class:`ConfigError` naming the setting."""
    shown = _shown(db)
    try:
        engine = make_engine(db)
    except OSError as exc:
        raise ConfigError(f"db: cannot create the folder of {shown!r} ({exc.strerror})") from None
    except (ArgumentError, NoSuchModuleError, ValueError, ImportError) as exc:
        raise ConfigError(
            f"db: {shown!r} is not a database URL ({exc}); use a file path for SQLite or "
            "postgresql+psycopg://user:password@host:5432/name"
        ) from None
    try:
        migrate(engine)
    except (OperationalError, InterfaceError) as exc:
        first = str(exc.orig if exc.orig is not None else exc).strip().splitlines()[0]
        raise ConfigError(
            f"db: cannot open {engine.url.render_as_string()} ({first}); check the host, port, "
            "user, password and database name, and that the server runs"
        ) from None
    except OSError as exc:
        raise ConfigError(f"db: cannot open {shown!r} ({exc})") from None
    return engine


def _shown(db: str) -> str:
    """``db`` with any password hidden, for messages."""
    try:
        return make_url(db).render_as_string() if "://" in db else db
    except (ArgumentError, ValueError):
        return db.rsplit("@", maxsplit=1)[-1] if "@" in db else db

"""Fixtures for the central side: a real PostgreSQL per session, the database under test, and a
real local HTTP receiver for deliveries.

``db_url`` is parametrised: every test that takes it runs once on SQLite (a file) and once on
PostgreSQL (a fresh database in the session's private server); ``engine`` is an engine on it
(migrated; a module that needs data in it defines its own ``engine``).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from central.store.db import open_db
from tests.central.receivers import HttpReceiver
from tools.pgserver import Postgres, pg_bin


@pytest.fixture(scope="session")
def postgres() -> Iterator[Postgres]:
    bindir = pg_bin()
    if bindir is None:
        raise RuntimeError(
            "PostgreSQL binaries are missing: run `make setup` (apt package postgresql)"
        )
    server = Postgres(bindir).start()
    yield server
    server.stop()


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return str(tmp_path / "central.sqlite3")
    server: Postgres = request.getfixturevalue("postgres")
    return server.create_database()


@pytest.fixture
def engine(db_url: str) -> Engine:
    return open_db(db_url)


@pytest.fixture
def receiver() -> Iterator[HttpReceiver]:
    """A real HTTP server on a free local port recording each request (tests/central/receivers.py)."""
    r = HttpReceiver().start()
    yield r
    r.stop()

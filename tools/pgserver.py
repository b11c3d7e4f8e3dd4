"""A private, real PostgreSQL server for tests and the district load test: ``initdb`` into a
temporary folder, a free port.

Uses the Debian ``postgresql`` package's binaries (``/usr/lib/postgresql/<major>/bin``), never the
machine's own cluster. PostgreSQL refuses to run as root, so as root the data folder belongs to
``nobody`` and the server runs as that user (``runuser``). :meth:`Postgres.create_database` gives
each test its own empty database.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import psycopg


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def pg_bin() -> Path | None:
    """The newest installed PostgreSQL binaries folder, or None."""
    found = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4])
    )
    return Path(found[-1]).parent if found else None


@dataclass
class Postgres:
    """A running server (``start``/``stop``); the superuser is ``postgres`` with trust auth."""

    bindir: Path
    port: int = field(default_factory=free_port)
    root: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="central-pg-")))
    proc_user: str | None = None
    fsync: bool = False
    """Off for tests (speed); on for the load test, whose figures must be a real server's."""

    def _run(self, *cmd: str) -> subprocess.CompletedProcess[str]:
        full = list(cmd)
        if self.proc_user is not None:
            full = ["runuser", "-u", self.proc_user, "--", *full]
        return subprocess.run(full, capture_output=True, text=True, check=False, timeout=120)

    @property
    def data(self) -> Path:
        return self.root / "data"

    def start(self) -> Postgres:
        if os.geteuid() == 0:
            self.proc_user = "nobody"
            shutil.chown(self.root, "nobody")
        self.root.chmod(0o755)
        r = self._run(
            str(self.bindir / "initdb"),
            "-D", str(self.data),
            "-U", "postgres",
            "-A", "trust",
            "-E", "UTF8",
            "--no-sync",
        )  # fmt: skip
        if r.returncode != 0:
            raise RuntimeError(f"initdb failed: {r.stderr}")
        r = self._run(
            str(self.bindir / "pg_ctl"),
            "-D", str(self.data),
            "-l", str(self.root / "server.log"),
            "-o", f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync={'on' if self.fsync else 'off'}",
            "-w",
            "start",
        )  # fmt: skip
        if r.returncode != 0:
            log = (
                (self.root / "server.log").read_text()
                if (self.root / "server.log").exists()
                else ""
            )
            raise RuntimeError(f"pg_ctl start failed: {r.stderr}\n{log}")
        return self

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def create_database(self) -> str:
        """A new empty database; returns its SQLAlchemy URL."""
        name = f"t_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(
            host="127.0.0.1", port=self.port, user="postgres", dbname="postgres", autocommit=True
        ) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def stop(self) -> None:
        self._run(
            str(self.bindir / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w", "stop"
        )
        deadline = time.monotonic() + 10
        while (self.data / "postmaster.pid").exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        shutil.rmtree(self.root, ignore_errors=True)

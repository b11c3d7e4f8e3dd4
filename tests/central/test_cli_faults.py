"""``triage-central`` as a process: bad settings exit 78 naming the setting, a writer that cannot go
on exits 70 (systemd restarts it) and loses nothing, the quarantine is there to read, and events
lost on the way show as a figure on the fleet page."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import text

from central.collect import Collector
from central.config import BrokerSettings
from central.store.db import open_db
from tests.broker import Broker
from tests.central.browser import served
from tests.central.hostile import TOPIC, good
from tests.central.test_collect import wait_count
from tests.central.wire import Publisher
from tools.pgserver import Postgres

REPO = Path(__file__).resolve().parents[2]


def central(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "central", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.mark.parametrize(
    ("db", "says"),
    [
        ("postgresql+psycopg://u:hunter2@127.0.0.1:1/x", "cannot open"),
        ("postgresql+psycopg://u:hunter2@no-such-host.invalid/x", "cannot open"),
        ("postgres://%%%", "is not a database URL"),
        ("mysql+nosuchdriver://h/x", "is not a database URL"),
        ("/proc/no-such-folder/central.sqlite3", "cannot create the folder"),
    ],
)
@pytest.mark.parametrize("command", ["collect", "migrate", "report", "serve"])
def test_a_bad_database_setting_exits_78_naming_it(command: str, db: str, says: str) -> None:
    extra = ["--date", "today"] if command == "report" else []
    r = central(command, "--db", db, *extra)
    assert r.returncode == 78, r.stderr
    assert "config error: db: " in r.stderr
    assert says in r.stderr
    assert "Traceback" not in r.stderr
    assert "hunter2" not in r.stderr


@pytest.mark.broker
@pytest.mark.slow
def test_a_writer_that_cannot_go_on_exits_70_and_loses_nothing(
    postgres: Postgres, mosquitto: Broker, tmp_path: Path
) -> None:
    db = postgres.create_database()
    engine = open_db(db)
    log = tmp_path / "collect.log"
    cmd = [sys.executable, "-m", "central", "collect", "--db", db, "--port", str(mosquitto.port),
           "--client-id", "fatal-test"]  # fmt: skip
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    with log.open("ab") as out:
        proc = subprocess.Popen(cmd, cwd=REPO, stdout=out, stderr=subprocess.STDOUT, env=env)
    pub = Publisher(mosquitto.port)
    try:
        deadline = time.monotonic() + 30
        while "subscribed" not in log.read_text() and "collecting" not in log.read_text():
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.1)
        time.sleep(1.0)
        pub.raw(*good(1))
        assert wait_count(engine, 1) == 1
        # A schema that is not what the collector was started with: not the data's fault, not a
        # lost connection. The writer must stop the process, not retry or drop for ever.
        with engine.begin() as conn:
            conn.execute(text("ALTER TABLE events RENAME TO events_gone"))
        pub.raw(*good(2))
        assert proc.wait(30) == 70
        out_text = log.read_text()
        assert "the writer stopped" in out_text
        assert "exiting with status 70" in out_text
        with engine.begin() as conn:
            conn.execute(text("ALTER TABLE events_gone RENAME TO events"))
        # Started again (as systemd would), the event the broker kept is stored.
        with log.open("ab") as out:
            proc = subprocess.Popen(cmd, cwd=REPO, stdout=out, stderr=subprocess.STDOUT, env=env)
        assert wait_count(engine, 2) == 2
    finally:
        pub.close()
        proc.terminate()
        proc.wait(30)


@pytest.mark.broker
def test_refused_messages_are_listed_and_lost_events_shown(
    tmp_path: Path, mosquitto: Broker
) -> None:
    db = str(tmp_path / "central.sqlite3")
    engine = open_db(db)
    collector = Collector(BrokerSettings(port=mosquitto.port, client_id="gaps-test"), engine)
    collector.start()
    pub = Publisher(mosquitto.port)
    try:
        assert collector.subscribed.wait(10)
        for seq in (1, 2, 5, 6, 9):
            pub.raw(*good(seq))
        pub.raw(TOPIC, b"\x1b[2J{not json")
        assert wait_count(engine, 5) == 5
        deadline = time.monotonic() + 10
        while collector.stats.quarantined < 1 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert collector.stats.gaps.missing == 4
        assert "sequence numbers missing 4 on 1 desks" in collector.stats.summary()
    finally:
        pub.close()
        collector.stop()
    r = central("quarantine", "--db", db)
    assert r.returncode == 0, r.stderr
    assert "1 refused messages" in r.stdout
    assert "json" in r.stdout
    assert "\\x1b[2J{not json" in r.stdout
    assert "\x1b" not in r.stdout
    with served(engine, ZoneInfo("UTC")) as base:
        page = urllib.request.urlopen(base + "/", timeout=30).read().decode()
    assert "4 events lost" in page
    assert "(sequence numbers missing):" in page
    assert "json 1" in page

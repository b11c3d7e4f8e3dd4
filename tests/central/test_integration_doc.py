"""The minimal subscriber in docs/INTEGRATION.md, run as written against a real broker: each event
stored once, nothing lost when it is killed and started again."""

from __future__ import annotations

import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.broker import Broker
from tests.central.wire import Publisher, encoded, identity, temperature

REPO = Path(__file__).resolve().parents[2]
T0 = 1_795_000_000.0


def fenced(doc: str, heading: str, lang: str) -> list[str]:
    """The ``lang`` code blocks, as written, of the section of ``docs/<doc>`` whose heading starts
    with ``heading`` (up to the next heading of the same level): the tests run the doc's own text."""
    text = (REPO / "docs" / doc).read_text()
    level = heading.split(" ", 1)[0]
    parts = text.split("\n" + heading, 1)
    assert len(parts) == 2, f"{doc} has no section {heading!r}"
    section = parts[1].split("\n" + level + " ", 1)[0]
    blocks = re.findall(rf"^```{re.escape(lang)}\n(.*?)^```$", section, re.S | re.M)
    assert blocks, f"{doc}, {heading!r}: no {lang} block"
    return blocks


def _example() -> str:
    return fenced("INTEGRATION.md", "## A minimal subscriber", "python")[0]


def _rows(db: Path) -> int:
    if not db.exists():
        return 0
    with sqlite3.connect(db) as conn:
        try:
            return int(conn.execute("SELECT count(*) FROM events").fetchone()[0])
        except sqlite3.OperationalError:
            return 0


def _wait(db: Path, n: int, timeout: float = 20) -> int:
    deadline = time.monotonic() + timeout
    while _rows(db) < n and time.monotonic() < deadline:
        time.sleep(0.1)
    return _rows(db)


@pytest.mark.broker
@pytest.mark.slow
def test_the_documented_subscriber_stores_each_event_once(
    mosquitto: Broker, tmp_path: Path
) -> None:
    script = tmp_path / "subscriber.py"
    script.write_text(_example())
    db = tmp_path / "events.sqlite3"
    env = {**os.environ, "BROKER_PORT": str(mosquitto.port), "EVENTS_DB": str(db)}

    def start() -> subprocess.Popen[bytes]:
        proc = subprocess.Popen([sys.executable, str(script)], env=env, cwd=tmp_path)
        deadline = time.monotonic() + 20
        while mosquitto.log().count("Sending SUBACK to district-subscriber-1") < starts + 1:
            assert proc.poll() is None, "the subscriber exited"
            assert time.monotonic() < deadline, "the subscriber did not subscribe"
            time.sleep(0.05)
        return proc

    starts = 0
    proc = start()
    starts += 1
    box = identity("clinic-003", "desk-1")
    msgs = encoded([temperature(T0 + i) for i in range(30)], box)
    pub = Publisher(mosquitto.port)
    try:
        pub.send(msgs[:20])
        pub.send(msgs[:2])  # redelivered duplicates
        pub.raw("triage/v1/clinic-003/desk-1/diag", b'{"kind":"diag"}')
        assert _wait(db, 20) == 20
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        pub.send(msgs[20:])  # while the subscriber is down: queued in its session
        proc = start()
        assert _wait(db, 30) == 30
        time.sleep(0.5)
        assert _rows(db) == 30
    finally:
        pub.close()
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)

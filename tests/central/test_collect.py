"""The collector on a real mosquitto into SQLite and a real PostgreSQL: stored once, nothing lost."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select

from central.collect import Collector
from central.config import BrokerSettings
from central.store.db import make_engine, open_db
from central.store.tables import events
from tests.broker import Broker
from tests.central.wire import (
    Publisher,
    alert,
    encoded,
    identity,
    occupancy,
    status,
    summary,
    temperature,
)

pytestmark = pytest.mark.broker
REPO = Path(__file__).resolve().parents[2]
T0 = 1_795_000_000.0


def count(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(events)).scalar_one())


def wait_count(engine: Engine, n: int, timeout: float = 30) -> int:
    deadline = time.monotonic() + timeout
    got = count(engine)
    while got < n and time.monotonic() < deadline:
        time.sleep(0.1)
        got = count(engine)
    return got


@pytest.fixture
def collectors() -> Iterator[Callable[..., Collector]]:
    made: list[Collector] = []

    def make(port: int, engine: Engine, **kw: object) -> Collector:
        c = Collector(BrokerSettings(port=port, **kw), engine)  # type: ignore[arg-type]
        c.start()
        made.append(c)
        assert c.subscribed.wait(10), "collector did not subscribe"
        return c

    yield make
    for c in made:
        c.stop()


def test_events_stored_once_with_their_topic_identity(
    db_url: str, mosquitto: Broker, collectors: Callable[..., Collector]
) -> None:
    engine = open_db(db_url)
    box = identity("clinic-007", "desk-2")
    msgs = encoded(
        [
            status(T0, "online"),
            temperature(T0 + 1, "fever", 38.2),
            alert(T0 + 1, "fever", "raised", "a1b2c3d4", 38.2),
            occupancy(T0 + 2, 3, 3),
            alert(T0 + 5, "fever", "cleared", "a1b2c3d4"),
            summary(T0 + 60, 60.0, screened=1, fevers=1, max_occupancy=3),
        ],
        box,
    )
    pub = Publisher(mosquitto.port)
    pub.send(msgs[:1])  # the retained status is there before the collector subscribes
    collector = collectors(mosquitto.port, engine)
    pub.send(msgs[1:])
    pub.send(msgs[1:3])  # at-least-once: the same events again
    pub.raw("triage/v1/clinic-007/desk-2/diag", b'{"kind":"diag","device":"x","at":1}')
    pub.raw("triage/v1/clinic-007/desk-2/temperature", b"not json")
    pub.close()
    assert wait_count(engine, len(msgs)) == len(msgs)
    deadline = time.monotonic() + 10
    while collector.stats.received < len(msgs) + 4 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert collector.stats.duplicates == 2
    assert collector.stats.not_events == 2
    with engine.connect() as conn:
        rows = conn.execute(select(events).order_by(events.c.seq)).mappings().all()
    assert [r["kind"] for r in rows] == [
        "status", "temperature", "alert", "occupancy", "alert", "summary"
    ]  # fmt: skip
    assert {(r["site"], r["desk"], r["device"]) for r in rows} == {
        ("clinic-007", "desk-2", "clinic-007-desk-2")
    }
    assert [r["seq"] for r in rows] == list(range(1, 7))
    raised = rows[2]
    assert (raised["alert"], raised["state"], raised["alert_id"]) == ("fever", "raised", "a1b2c3d4")
    assert raised["ts"] == pytest.approx(T0 + 1)
    assert json.loads(raised["payload"])["value"] == 38.2
    assert [json.loads(r["payload"])["id"] for r in rows] == [
        json.loads(m.payload)["id"] for m in msgs
    ]


def _collector_process(db: str, port: int, log: Path, *extra: str) -> subprocess.Popen[bytes]:
    out = log.open("ab")
    return subprocess.Popen(
        [sys.executable, "-m", "central", "collect", "--db", db, "--port", str(port),
         "--client-id", "central-restart", "--log-level", "DEBUG", *extra],
        cwd=REPO,
        stdout=out,
        stderr=subprocess.STDOUT,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )  # fmt: skip


@pytest.mark.slow
def test_nothing_lost_when_the_collector_is_killed_and_restarted(
    db_url: str, mosquitto: Broker, tmp_path: Path
) -> None:
    engine = open_db(db_url)
    log = tmp_path / "collector.log"
    boxes = [identity("clinic-001", f"desk-{i}") for i in range(1, 5)]
    batches = [encoded([temperature(T0 + j) for j in range(150)], b, first_seq=2) for b in boxes]
    pub = Publisher(mosquitto.port)
    pub.send([encoded([status(T0, "online")], b)[0] for b in boxes])
    proc = _collector_process(db_url, mosquitto.port, log)
    try:
        assert wait_count(engine, 4, 20) == 4, log.read_text()

        def send_all() -> None:
            for i in range(0, 150, 10):
                for batch in batches:
                    pub.send(batch[i : i + 10])

        sender = threading.Thread(target=send_all)
        sender.start()
        while count(engine) < 150:
            time.sleep(0.01)
        proc.send_signal(signal.SIGKILL)  # mid-stream: no flush, no clean disconnect
        proc.wait(10)
        killed_at = count(engine)
        sender.join(60)
        assert killed_at < 604, "the kill came too late to test anything"
        proc = _collector_process(db_url, mosquitto.port, log)
        assert wait_count(engine, 604, 30) == 604, log.read_text()
        time.sleep(0.5)
        assert count(engine) == 604
        with engine.connect() as conn:
            ids = set(conn.execute(select(events.c.event_id)).scalars())
        sent = {json.loads(m.payload)["id"] for batch in batches for m in batch}
        assert sent <= ids
        assert "session resumed" in log.read_text()
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(20)
        pub.close()
    assert proc.returncode == 0


@pytest.mark.slow
def test_two_collectors_share_the_load_and_store_each_event_once(
    db_url: str, mosquitto: Broker, collectors: Callable[..., Collector]
) -> None:
    engine = open_db(db_url)
    pub = Publisher(mosquitto.port)
    boxes = [identity("clinic-002", f"desk-{i}") for i in range(1, 11)]
    pub.send([encoded([status(T0, "online")], b)[0] for b in boxes])
    a = collectors(mosquitto.port, engine, client_id="central-a", share_group="district")
    b = collectors(
        mosquitto.port, make_engine(db_url), client_id="central-b", share_group="district"
    )
    msgs = [m for box in boxes for m in encoded([temperature(T0 + j) for j in range(40)], box, 2)]
    pub.send(msgs)
    pub.close()
    total = len(msgs) + len(boxes)
    assert wait_count(engine, total) == total
    time.sleep(0.5)
    assert count(engine) == total
    # Both collectors took part; the retained status reached each (on the unshared status
    # subscription, and from mosquitto on the shared one too) and was stored once.
    assert a.stats.received > 50
    assert b.stats.received > 50
    assert a.stats.stored + b.stats.stored == total
    assert a.stats.received + b.stats.received >= len(msgs) + 2 * len(boxes)


def test_concurrent_starts_migrate_once(db_url: str) -> None:
    """A collector and a dashboard started together on a new database both migrate safely."""
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "central", "migrate", "--db", db_url],
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        for _ in range(4)
    ]
    outs = [p.communicate(timeout=60)[0].decode() for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0, 0], outs
    assert count(make_engine(db_url)) == 0

"""No box can stop the collector: every hostile message of issue 17, 10 good events around each, on
a real mosquitto into SQLite and a real PostgreSQL. Each bad one is counted by its reason, logged at
most once a minute per reason, quarantined and acknowledged (a restarted collector gets nothing
again); every good one is stored at once."""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select

from central.collect import Collector
from central.config import BrokerSettings
from central.store.db import open_db
from central.store.tables import events, quarantine
from tests.broker import Broker
from tests.central.hostile import bad_messages, good
from tests.central.wire import Publisher

pytestmark = [pytest.mark.broker, pytest.mark.slow]


def rows(engine: Engine, table: object = events) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())  # type: ignore[arg-type]


def wait(pred: Callable[[], bool], timeout: float = 30) -> bool:
    deadline = time.monotonic() + timeout
    while not pred():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


@pytest.fixture
def collector_for(mosquitto: Broker) -> Iterator[Callable[[Engine], Collector]]:
    made: list[Collector] = []

    def make(engine: Engine) -> Collector:
        c = Collector(BrokerSettings(port=mosquitto.port, client_id="hostile-test"), engine)
        c.start()
        made.append(c)
        assert c.subscribed.wait(10)
        return c

    yield make
    for c in made:
        c.stop()


def test_no_message_stops_storing_and_each_is_acknowledged(
    db_url: str,
    mosquitto: Broker,
    collector_for: Callable[[Engine], Collector],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="central.collect")
    engine = open_db(db_url)
    collector = collector_for(engine)
    bads = bad_messages()
    pub = Publisher(mosquitto.port)
    seq = 0
    for bad in bads:
        for _ in range(5):
            seq += 1
            pub.raw(*good(seq))
        pub.raw(bad.topic, bad.payload)
        for _ in range(5):
            seq += 1
            pub.raw(*good(seq))
    # Bigger than the collector's MQTT 5 Maximum Packet Size: the broker never sends it.
    pub.raw(good(0)[0], b"{" + b" " * (3 * 1024 * 1024) + b"}")
    seq += 1
    pub.raw(*good(seq))
    assert wait(lambda: rows(engine) == seq), f"stored {rows(engine)} of {seq} good events"
    assert wait(lambda: collector.stats.received == seq + len(bads))
    expected = Counter(str(b.reason) for b in bads)
    assert collector.stats.refused == dict(expected)
    assert collector.stats.quarantined == len(bads)
    assert rows(engine, quarantine) == len(bads)
    assert collector.stats.stored == seq
    assert collector.stats.gaps.missing == 0
    # Logged at most once a minute per reason.
    refusal_lines = Counter(
        r.getMessage().split(")")[0] for r in caplog.records if "refused (" in r.getMessage()
    )
    assert set(refusal_lines) == {f"refused ({k}" for k in expected}
    assert max(refusal_lines.values()) == 1
    summary = collector.stats.summary()
    assert f"refused {len(bads)} (" in summary
    assert "oversize" in summary
    with engine.connect() as conn:
        q = conn.execute(select(quarantine).order_by(quarantine.c.pk)).mappings().all()
    assert {r["reason"] for r in q} == set(expected)
    assert max(len(r["head"]) for r in q) <= 4 * 512
    big = [r for r in q if r["size"] > 100_000]
    assert big
    assert all(len(r["head"]) <= 2048 for r in big)
    pub.close()
    collector.stop()

    # A collector on the same persistent session: nothing is redelivered, the next event stored.
    again = Collector(BrokerSettings(port=mosquitto.port, client_id="hostile-test"), engine)
    again.start()
    try:
        assert again.subscribed.wait(10)
        pub = Publisher(mosquitto.port)
        pub.raw(*good(seq + 1))
        assert wait(lambda: rows(engine) == seq + 1)
        time.sleep(1.0)
        assert again.stats.received == 1
        assert again.stats.not_events == 0
        pub.close()
    finally:
        again.stop()


def test_the_quarantine_keeps_the_newest_only(tmp_path: Path, mosquitto: Broker) -> None:
    engine = open_db(str(tmp_path / "central.sqlite3"))
    collector = Collector(
        BrokerSettings(port=mosquitto.port, client_id="keep-test", quarantine_keep=100), engine
    )
    collector.start()
    try:
        assert collector.subscribed.wait(10)
        pub = Publisher(mosquitto.port)
        infos = [pub.client.publish(good(0)[0], f"junk {i}".encode(), qos=1) for i in range(250)]
        for info in infos:
            info.wait_for_publish(10)
        pub.raw(*good(1))
        assert wait(lambda: rows(engine) == 1)
        assert wait(lambda: collector.stats.quarantined == 250)
        assert rows(engine, quarantine) == 100
        with engine.connect() as conn:
            heads = [r[0] for r in conn.execute(select(quarantine.c.head))]
        assert "junk 249" in heads
        assert "junk 149" not in heads
        pub.close()
    finally:
        collector.stop()

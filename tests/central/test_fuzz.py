"""Property-based: random payloads and topics are stored or refused, never stop the collector, never
lose a good event, and never break a page, a CSV or a report (SQLite and PostgreSQL)."""

from __future__ import annotations

import contextlib
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, select

from central.collect import Collector
from central.config import BrokerSettings
from central.report.daily import daily_report
from central.report.days import parse_week, today
from central.report.render import day_csv, day_html, day_table, week_csv, week_html, week_table
from central.report.weekly import weekly_report
from central.store.db import open_db
from central.store.records import NotAnEventError, Refused, Row, to_row
from central.store.tables import events
from central.store.writer import store_isolating
from central.web.fleet import fleet
from tests.broker import Broker
from tests.central.browser import served
from tests.central.fuzz import message
from tests.central.hostile import good
from tests.central.test_collect import wait_count
from tests.central.wire import Publisher

TZ = ZoneInfo("Asia/Shanghai")
PAGES = ("/", "/day", "/day.csv", "/week", "/week.csv", "/clinic/clinic-001", "/clinic/clinic-002")


def render_everything(engine: Engine) -> None:
    """Every report in every format, and the fleet: any exception fails the property."""
    day = daily_report(engine, today(TZ), TZ)
    for fn in (day_table, day_csv, day_html):
        assert fn(day)
    for site in ("clinic-001", "clinic-002"):
        assert day_html(daily_report(engine, today(TZ), TZ, site))
    week = weekly_report(engine, *parse_week("this", TZ), TZ)
    for wfn in (week_table, week_csv, week_html):
        assert wfn(week)
    assert fleet(engine, TZ).window


def ids(engine: Engine) -> set[str]:
    with engine.connect() as conn:
        return {str(r[0]) for r in conn.execute(select(events.c.event_id))}


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def fuzz_engine(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Engine]:
    if request.param == "sqlite":
        yield open_db(str(tmp_path_factory.mktemp("fuzz") / "central.sqlite3"))
    else:
        yield open_db(request.getfixturevalue("postgres").create_database())


@given(msgs=st.lists(message(), min_size=1, max_size=20), seq=st.integers(1, 10**6))
@settings(
    max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
def test_random_messages_are_stored_or_refused_and_every_report_renders(
    fuzz_engine: Engine, msgs: list[tuple[str, bytes]], seq: int
) -> None:
    now = time.time()
    rows: list[Row] = []
    refused: list[Refused] = []
    goods = [good(seq), good(seq + 1)]
    for topic, payload in [goods[0], *msgs, goods[1]]:
        try:
            rows.append(to_row("triage/v1", topic, payload, now))
        except NotAnEventError as exc:
            refused.append(Refused.of(topic, payload, len(payload), exc, now))
    done = store_isolating(fuzz_engine, rows, refused)
    assert not done.refused  # everything the checks let through, the database can hold
    stored = ids(fuzz_engine)
    assert {r.event_id for r in rows[:1] + rows[-1:]} <= stored
    render_everything(fuzz_engine)


@pytest.mark.broker
@pytest.mark.slow
@given(msgs=st.lists(message(), min_size=5, max_size=30))
@settings(max_examples=5, deadline=None, suppress_health_check=list(HealthCheck))
def test_random_messages_through_the_real_collector_never_stop_it(
    db_url: str, mosquitto: Broker, tmp_path: Path, msgs: list[tuple[str, bytes]]
) -> None:
    engine = open_db(db_url)
    before = len(ids(engine))
    collector = Collector(BrokerSettings(port=mosquitto.port, client_id="fuzz-test"), engine)
    collector.start()
    pub = Publisher(mosquitto.port)
    try:
        assert collector.subscribed.wait(10)
        base = int(time.time() * 1000) % 10**9
        sent_good = 0
        for i, (topic, payload) in enumerate(msgs):
            pub.raw(*good(base + 2 * i))
            sent_good += 1
            with contextlib.suppress(ValueError):  # a topic paho itself refuses to publish
                pub.raw(topic, payload)
        pub.raw(*good(base + 2 * len(msgs) + 1))  # the last one: every message before it is done
        sent_good += 1
        stored_good = wait_count(engine, before + sent_good)
        assert stored_good >= before + sent_good
        assert collector.failed is None
        time.sleep(0.2)
        with served(engine, TZ) as url:
            for path in PAGES:
                with urllib.request.urlopen(url + path, timeout=30) as resp:
                    assert resp.status == 200, path
        render_everything(engine)
    finally:
        pub.close()
        collector.stop()

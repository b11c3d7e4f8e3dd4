"""Storage for a district: each event stored once on a partitioned table, the daily rollups written
with the events equal the ones rebuilt from them (and the reports' own counts), retention, and the
upgrade from the schema before it with data in it. On SQLite and PostgreSQL."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import date, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, func, select, text, update

from agent.flow.events import Event
from agent.wire.contract import Identity
from central.cli import main
from central.collect import Collector
from central.config import BrokerSettings, ConfigError
from central.report.counts import per_desk
from central.report.days import day_window
from central.store import reader
from central.store.db import alembic_config, make_engine, open_db
from central.store.partitions import (
    apply_retention,
    create_partition,
    day_partitions,
    ensure_partitions,
    utc_day,
)
from central.store.records import Row, to_row
from central.store.rollups import DayRollup, day_counts, ensure_tz, read, reconcile
from central.store.tables import event_ids, events, rollup_days
from central.store.writer import store, upkeep
from tests.broker import Broker
from tests.central.day_script import DAY, TZ, at, store_day
from tests.central.wire import Publisher, alert, encoded, identity, occupancy, status, temperature
from tools.pgserver import Postgres

REPO = Path(__file__).resolve().parents[2]
NAIROBI = "Africa/Nairobi"
DAYS = [DAY - timedelta(days=7), DAY - timedelta(days=1), DAY, DAY + timedelta(days=1)]


def count(engine: Engine, table: object = events) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())  # type: ignore[arg-type]


def stored_rows(engine: Engine) -> list[Row]:
    """Every stored event as the collector would receive it again (same id, same payload)."""
    with engine.connect() as conn:
        found = conn.execute(select(events).order_by(events.c.pk)).mappings().all()
    return [Row(**{k: m[k] for k in Row.__slots__}) for m in found]


def assert_rollups_are_the_reports_counts(engine: Engine, day: date) -> None:
    window = day_window(day, TZ)
    report = per_desk(reader.query(engine, window.start, window.end))
    rolled = day_counts(engine, day)
    assert report, day
    for key, c in report.items():
        r = rolled[key]
        got = (r.screened, r.fevers, r.invalid, r.arrivals, r.peak, r.raised)
        assert got == (c.screened, c.fevers, c.invalid, c.arrivals, c.peak, c.raised), key
    for key in set(rolled) - set(report):  # desks with events of other kinds only
        r = rolled[key]
        assert (r.screened, r.fevers, r.invalid, r.arrivals, r.peak, r.raised) == (
            0,
            0,
            0,
            0,
            0,
            {},
        )


def test_a_day_and_its_redeliveries_are_stored_once_and_rolled_up_as_rebuilt(db_url: str) -> None:
    engine = open_db(db_url)
    ensure_tz(engine, NAIROBI)
    store_day(engine)
    n = count(engine)
    assert n == count(engine, event_ids) == 41
    before = read(engine, DAYS[0], DAYS[-1])
    d1 = before[("clinic-001", "desk-1", DAY)]
    assert (d1.screened, d1.fevers, d1.invalid, d1.arrivals, d1.peak) == (6, 1, 1, 4, 8)
    assert d1.raised == {"crowding": 1, "fever": 1, "unmasked": 1}
    assert d1.last_status == "online"  # the Will (received 12:00) then online at 12:30
    assert d1.last_status_at == at(12, 30)
    c2 = before[("clinic-002", "desk-1", DAY)]
    assert (c2.last_status, c2.last_status_at) == ("offline", at(17, 0, 1))
    # Everything redelivered: in one batch, twice over, and again event by event.
    again = stored_rows(engine)
    assert store(engine, again + again) == 0
    for row in again[:10]:
        assert store(engine, [row]) == 0
    assert count(engine) == count(engine, event_ids) == n
    assert read(engine, DAYS[0], DAYS[-1]) == before
    done = reconcile(engine, DAYS, NAIROBI)
    assert done.matched, done.differences
    assert done.desk_days == len(before)
    assert read(engine, DAYS[0], DAYS[-1]) == before
    for day in (DAY, DAYS[0]):
        assert_rollups_are_the_reports_counts(engine, day)


def test_reconcile_lists_what_differed_and_exits_1_then_0(db_url: str) -> None:
    engine = open_db(db_url)
    ensure_tz(engine, NAIROBI)
    store_day(engine)
    with engine.begin() as conn:
        conn.execute(
            update(rollup_days)
            .where(rollup_days.c.site == "clinic-001", rollup_days.c.desk == "desk-1")
            .where(rollup_days.c.day == DAY)
            .values(screened=99)
        )
    cmd = [sys.executable, "-m", "central", "reconcile", "--db", db_url, "--tz", NAIROBI]
    first = subprocess.run([*cmd, "--date", str(DAY)], cwd=REPO, capture_output=True, text=True)
    assert first.returncode == 1, first.stdout + first.stderr
    assert "2026-11-23 clinic-001/desk-1: screened 99/6" in first.stdout
    second = subprocess.run(
        [*cmd, "--since", str(DAYS[0])], cwd=REPO, capture_output=True, text=True
    )
    assert second.returncode == 0, second.stdout + second.stderr
    assert "match the raw events" in second.stdout
    # The rollups are kept in one time zone: another one is refused, with what to do.
    other = subprocess.run(
        [*cmd[:-1], "UTC", "--date", str(DAY)], cwd=REPO, capture_output=True, text=True
    )
    assert other.returncode == 78
    assert "keeps its daily rollups in 'Africa/Nairobi'" in other.stderr
    with pytest.raises(ConfigError):
        store(engine, stored_rows(engine)[:1], tz="UTC")


def test_partitions_ahead_retention_and_no_second_copy_after_it(db_url: str) -> None:
    engine = open_db(db_url)
    now = time.time()
    today = utc_day(now)
    box = identity("clinic-009", "desk-1")
    rows = [
        _row(box, temperature(now - min(3600, (now % 86400) / 2)), 1),  # earlier today (UTC)
        _row(box, temperature(now - 3 * 86400), 2),
        _row(box, alert(now - 30 * 86400, "crowding", "raised", "c1000001", 9), 3),
    ]
    assert store(engine, rows) == 3
    postgres = engine.dialect.name == "postgresql"
    if postgres:
        days = day_partitions_of(engine)
        assert {today + timedelta(days=d) for d in range(-1, 8)} <= set(days)
        assert ensure_partitions(engine) == []  # already there
        assert where(engine) == {
            rows[0].event_id: f"events_p{today:%Y%m%d}",
            rows[1].event_id: "events_default",
            rows[2].event_id: "events_default",
        }
        # A day's partition created later takes over its rows from the default partition.
        with engine.begin() as conn:
            assert create_partition(conn, utc_day(rows[1].ts))
        assert where(engine)[rows[1].event_id] == f"events_p{utc_day(rows[1].ts):%Y%m%d}"
    old_day = read(engine, date(2020, 1, 1), today + timedelta(days=1))
    pruned = apply_retention(engine, days=2, now=now)
    assert pruned.horizon == day_window(today - timedelta(days=2), ZoneInfo("UTC")).start
    with engine.connect() as conn:
        left = set(conn.execute(select(events.c.event_id)).scalars())
        ids_left = {
            str(i).replace("-", "") for i in conn.execute(select(event_ids.c.event_id)).scalars()
        }
    assert left == {rows[0].event_id}
    assert ids_left == {rows[0].event_id, rows[1].event_id}  # ids kept a day longer
    if postgres:
        assert utc_day(rows[1].ts) in pruned.partitions_dropped
        assert pruned.rows_deleted == 1  # the 30-day-old row, from the default partition
    else:
        assert pruned.rows_deleted == 2
    assert pruned.ids_pruned == 1
    # Redelivered after their ids were pruned: older than the retention, not stored again.
    upkeep(engine, force=True)
    assert store(engine, rows) == 0
    assert count(engine) == 1
    # The rollups outlive the raw events, and reconcile leaves the days before the horizon alone.
    assert read(engine, date(2020, 1, 1), today + timedelta(days=1)) == old_day
    gone = [utc_day(rows[2].ts), utc_day(rows[1].ts)]
    done = reconcile(engine, [*gone, today], "UTC")
    assert done.skipped == tuple(gone)
    assert done.matched, done.differences
    assert read(engine, date(2020, 1, 1), today + timedelta(days=1)) == old_day


def _row(box: Identity, event: Event, seq: int) -> Row:
    msg = encoded([event], box, seq)[0]
    return to_row("triage/v1", msg.topic, msg.payload, time.time())


def day_partitions_of(engine: Engine) -> list[date]:
    with engine.connect() as conn:
        return day_partitions(conn)


def where(engine: Engine) -> dict[str, str]:
    with engine.connect() as conn:
        found = conn.execute(text("SELECT event_id, tableoid::regclass::text FROM events"))
        return {str(r[0]): str(r[1]) for r in found}


def test_upgrade_from_0002_with_events_in_it(db_url: str, tmp_path: Path) -> None:
    # Today's events, as a database at revision 0002 holds them.
    source = open_db(str(tmp_path / "source.sqlite3"))
    store_day(source)
    old = stored_rows(source)
    engine = make_engine(db_url)
    cfg = alembic_config()
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0002")
    with engine.begin() as conn:
        conn.execute(events.insert(), [r.as_dict() for r in old])
        pks = {r[0]: r[1] for r in conn.execute(select(events.c.event_id, events.c.pk))}
    engine = open_db(db_url)  # migrates to head
    with engine.connect() as conn:
        assert {r[0]: r[1] for r in conn.execute(select(events.c.event_id, events.c.pk))} == pks
        versions = set(conn.execute(text("SELECT version_num FROM alembic_version")).scalars())
        assert versions == set(ScriptDirectory.from_config(cfg).get_heads())  # every branch
        if engine.dialect.name == "postgresql":
            kind = conn.execute(text("SELECT relkind FROM pg_class WHERE relname = 'events'"))
            assert kind.scalar() == "p"
            homes = set(conn.execute(text("SELECT tableoid::regclass::text FROM events")).scalars())
            assert homes == {f"events_p{d:%Y%m%d}" for d in {utc_day(r.ts) for r in old}}
    assert count(engine, event_ids) == len(old)
    # No rollups yet (the migration does not know the district's zone): reconcile builds them.
    first = reconcile(engine, DAYS, NAIROBI)
    assert not first.matched
    assert first.desk_days > 0
    assert reconcile(engine, DAYS, NAIROBI).matched
    assert_rollups_are_the_reports_counts(engine, DAY)
    # The old events redelivered are duplicates; new ones go on being stored and rolled up.
    assert store(engine, old) == 0
    box = identity("clinic-001", "desk-1")
    assert store(engine, [_row(box, temperature(at(15, 0)), 900)]) == 1
    assert read(engine, DAY)[("clinic-001", "desk-1", DAY)].screened == 7
    assert reconcile(engine, DAYS, NAIROBI).matched
    with engine.connect() as conn:
        assert int(conn.execute(select(func.max(events.c.pk))).scalar_one()) > max(pks.values())


@pytest.fixture
def collectors() -> Iterator[Callable[..., Collector]]:
    made: list[Collector] = []

    def make(port: int, engine: Engine, **kw: object) -> Collector:
        c = Collector(BrokerSettings(port=port, **kw), engine, tz=NAIROBI)  # type: ignore[arg-type]
        c.start()
        made.append(c)
        assert c.subscribed.wait(10), "collector did not subscribe"
        return c

    yield make
    for c in made:
        c.stop()


@pytest.mark.broker
@pytest.mark.slow
def test_two_collectors_roll_up_a_day_as_rebuilt_with_redeliveries(
    db_url: str, mosquitto: Broker, collectors: Callable[..., Collector]
) -> None:
    engine = open_db(db_url)
    boxes = [identity("clinic-003", f"desk-{i}") for i in range(1, 9)]
    day: list[list[Event]] = []
    for i, _ in enumerate(boxes):
        evs: list[Event] = [status(at(7, 50), "online")]
        for m in range(60):
            t = at(8, 0) + m * 300 + i
            result = "fever" if m % 7 == 0 else "invalid" if m % 11 == 0 else "normal"
            evs.append(temperature(t, result, 38.3))
            evs.append(occupancy(t + 30, m % 5, m % 9, people=m % 3))
            if m % 10 == 0:
                evs.append(alert(t + 60, "crowding", "raised", f"{i:02d}{m:06d}", 8))
                evs.append(alert(t + 120, "crowding", "cleared", f"{i:02d}{m:06d}"))
        day.append(evs)
    msgs = [m for box, evs in zip(boxes, day, strict=True) for m in encoded(evs, box)]
    collectors(mosquitto.port, engine, client_id="roll-a", share_group="district")
    collectors(mosquitto.port, make_engine(db_url), client_id="roll-b", share_group="district")
    pub = Publisher(mosquitto.port)
    pub.send(msgs)
    pub.send(msgs[::3])  # the boxes' at-least-once replays
    pub.close()
    deadline = time.monotonic() + 60
    while count(engine) < len(msgs) and time.monotonic() < deadline:
        time.sleep(0.1)
    time.sleep(1.0)
    assert count(engine) == count(engine, event_ids) == len(msgs)
    done = reconcile(engine, [DAY], NAIROBI)
    assert done.matched, done.differences
    assert done.desk_days == len(boxes)
    assert_rollups_are_the_reports_counts(engine, DAY)
    r: DayRollup = read(engine, DAY)[("clinic-003", "desk-1", DAY)]
    assert (r.events, r.screened + r.invalid, r.raised) == (1 + 60 * 2 + 12, 60, {"crowding": 6})


def test_a_partition_waits_for_a_long_report_at_most_its_lock_timeout(postgres: Postgres) -> None:
    engine = open_db(postgres.create_database())
    later = time.time() + 20 * 86400  # days with no partition yet
    with engine.connect() as report:
        report.execute(select(func.count()).select_from(events))  # holds a lock on events
        t0 = time.monotonic()
        assert ensure_partitions(engine, now=later, lock_timeout_s=0.3) == []
        assert time.monotonic() - t0 < 5
        report.rollback()
    assert len(ensure_partitions(engine, now=later)) == 9


def test_maintain_creates_partitions_and_applies_the_retention(
    db_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    engine = open_db(db_url)
    box = identity("clinic-010", "desk-1")
    rows = [_row(box, temperature(time.time() - d * 86400), d + 1) for d in (0, 40)]
    assert store(engine, rows) == 2
    assert main(["maintain", "--db", db_url, "--retention-days", "30"]) == 0
    out = capsys.readouterr().out
    assert "(30 days)" in out
    assert count(engine) == count(engine, event_ids) == 1
    assert main(["maintain", "--db", db_url, "--retention-days", "0"]) == 78


def test_downgrade_to_0002_keeps_the_events(db_url: str) -> None:
    engine = open_db(db_url)
    store_day(engine)
    before = stored_rows(engine)
    cfg = alembic_config()
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0002")
    with engine.connect() as conn:
        assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar() == "0002"
    assert stored_rows(engine) == before
    engine = open_db(db_url)  # and up again
    assert stored_rows(engine) == before
    assert store(engine, before) == 0

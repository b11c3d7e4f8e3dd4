"""A mask alert raised for a mask worn wrong (its ``cause``, docs/EVENTS.md) in the rollups and the
weekly counts: ``rollup_alerts.worn_wrong`` (migration ``0009_worn_wrong_rollup``) counts the raises
of ``unmasked`` / ``staff_unmasked`` whose ``cause`` is exactly ``worn_wrong`` (no other value, no
other alert: box input is untrusted), written with the events, rebuilt equal by ``reconcile``; the
week shows "of which a mask worn incorrectly" under the alert, in English and Chinese. On SQLite
and PostgreSQL."""

from __future__ import annotations

import csv
import io
from datetime import date

from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, select, text, update

from central.i18n import translator
from central.report.counts import per_desk
from central.report.days import day_window
from central.report.render import week_csv, week_html, week_table
from central.report.weekly import weekly_report
from central.store import reader
from central.store.db import alembic_config, make_engine, open_db
from central.store.records import Row
from central.store.rollups import read, reconcile
from central.store.tables import events, rollup_alerts
from central.store.writer import store
from tests.central.day_script import DAY, TZ, Box, at

NAIROBI = "Africa/Nairobi"
LAST_WEEK = date(2026, 11, 16)
BOM = "\ufeff"
KEY = ("clinic-001", "desk-1", DAY)


def _alert(box: Box, ts: float, name: str, state: str, n: int, cause: object = None) -> Row:
    fields: dict[str, object] = {"kind": "alert", "alert": name, "state": state,
                                 "alert_id": f"a{n:07d}", "message": f"{name} {state}"}  # fmt: skip
    if cause is not None:
        fields["cause"] = cause
    return box.raw(ts, fields)


def _day_rows(box: Box) -> list[Row]:
    """The raises of :data:`DAY` at clinic-001 desk-1, with every kind of ``cause``."""
    causes: list[tuple[str, object]] = [
        ("unmasked", "worn_wrong"),
        ("unmasked", "worn_wrong"),
        ("unmasked", "no_mask"),
        ("unmasked", "Worn_Wrong"),  # not the contract's value
        ("unmasked", ["worn_wrong"]),  # not a string
        ("unmasked", None),  # an agent from before the field
        ("staff_unmasked", "worn_wrong"),
        ("crowding", "worn_wrong"),  # a cause means nothing on another alert
    ]
    rows = [
        _alert(box, at(9, i), name, "raised", i, cause) for i, (name, cause) in enumerate(causes)
    ]
    rows.append(_alert(box, at(10, 0), "unmasked", "cleared", 0, "worn_wrong"))  # a clear: no raise
    return rows


def test_rollups_count_the_raises_for_a_mask_worn_wrong_as_rebuilt(db_url: str) -> None:
    engine = open_db(db_url)
    rows = _day_rows(Box("clinic-001", "desk-1"))
    # Two batches (the second adds onto the stored rows), then the box's replays.
    assert store(engine, rows[:3], tz=NAIROBI) == 3
    assert store(engine, rows[3:], tz=NAIROBI) == len(rows) - 3
    assert store(engine, rows[:5], tz=NAIROBI) == 0
    r = read(engine, DAY)[KEY]
    assert r.raised == {"crowding": 1, "staff_unmasked": 1, "unmasked": 6}
    assert r.worn_wrong == {"staff_unmasked": 1, "unmasked": 2}
    # The reports' own counting from the raw events says the same.
    window = day_window(DAY, TZ)
    counted = per_desk(reader.query(engine, window.start, window.end))[KEY[:2]]
    assert (counted.raised, counted.worn_wrong) == (r.raised, r.worn_wrong)
    assert reconcile(engine, [DAY], NAIROBI).matched
    # A stored count that is not the raw events' is found and rebuilt.
    with engine.begin() as conn:
        conn.execute(update(rollup_alerts).where(rollup_alerts.c.alert == "unmasked")
                     .values(worn_wrong=5))  # fmt: skip
    done = reconcile(engine, [DAY], NAIROBI)
    assert done.differences == (f"{DAY} clinic-001/desk-1: worn_wrong:unmasked 5/2",)
    assert read(engine, DAY)[KEY].worn_wrong == {"staff_unmasked": 1, "unmasked": 2}
    assert reconcile(engine, [DAY], NAIROBI).matched


def test_the_migration_counts_none_then_reconcile_fills_it(db_url: str) -> None:
    """A database with rollups from before ``worn_wrong``: its rows read 0, reconcile fills them."""
    engine = make_engine(db_url)
    cfg = alembic_config()
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0003")
    rows = _day_rows(Box("clinic-001", "desk-1"))
    with engine.begin() as conn:
        conn.execute(events.insert(), [r.as_dict() for r in rows])
        conn.execute(
            text("INSERT INTO rollup_alerts (site, desk, day, alert, raised) "
                 "VALUES ('clinic-001', 'desk-1', :day, 'unmasked', 6)"),
            {"day": DAY},
        )  # fmt: skip
    engine = open_db(db_url)  # migrates to every head
    with engine.connect() as conn:
        versions = set(conn.execute(text("SELECT version_num FROM alembic_version")).scalars())
        assert "0009_worn_wrong_rollup" in versions
        assert versions == set(ScriptDirectory.from_config(cfg).get_heads())
        kept = conn.execute(select(rollup_alerts.c.raised, rollup_alerts.c.worn_wrong)).all()
        assert [tuple(r) for r in kept] == [(6, 0)]
    first = reconcile(engine, [DAY], NAIROBI)
    assert not first.matched
    assert "worn_wrong:unmasked 0/2" in first.differences[0]
    assert read(engine, DAY)[KEY].worn_wrong == {"staff_unmasked": 1, "unmasked": 2}
    assert reconcile(engine, [DAY], NAIROBI).matched


def _two_weeks(engine: Engine) -> None:
    """clinic-001: this week 3 patients unmasked (2 a mask worn wrong), 1 staff (no mask), 1
    crowding (a bogus cause); the week before 1 patient (a mask worn wrong), 1 staff (a mask worn
    wrong). clinic-002: one patient without a mask this week."""
    box, other = Box("clinic-001", "desk-1"), Box("clinic-002", "desk-1")
    rows = [
        _alert(box, at(9, 0, d=LAST_WEEK), "unmasked", "raised", 1, "worn_wrong"),
        _alert(box, at(9, 5, d=LAST_WEEK), "staff_unmasked", "raised", 2, "worn_wrong"),
        _alert(box, at(9, 0), "unmasked", "raised", 3, "worn_wrong"),
        _alert(box, at(9, 5), "unmasked", "raised", 4, "no_mask"),
        _alert(box, at(9, 10, d=date(2026, 11, 25)), "unmasked", "raised", 5, "worn_wrong"),
        _alert(box, at(9, 15), "staff_unmasked", "raised", 6, "no_mask"),
        _alert(box, at(9, 20), "crowding", "raised", 7, "worn_wrong"),
        _alert(other, at(9, 0), "unmasked", "raised", 8),
    ]
    assert store(engine, rows, tz=NAIROBI) == len(rows)


def test_the_week_shows_how_many_mask_problems_were_a_mask_worn_wrong(db_url: str) -> None:
    engine = open_db(db_url)
    _two_weeks(engine)
    report = weekly_report(engine, 2026, 48, TZ)
    c1 = [(ln.metric, ln.label, ln.this, ln.last, ln.change_text) for ln in report.lines
          if ln.site == "clinic-001" and ":" in ln.metric]  # fmt: skip
    assert c1 == [
        ("raised:crowding", "  Crowding", 1, 0, "+1"),
        ("raised:staff_unmasked", "  Staff without a mask", 1, 1, "0"),
        ("worn_wrong:staff_unmasked", "    of which a mask worn incorrectly", 0, 1, "-1 (-100%)"),
        ("raised:unmasked", "  Patient without a mask", 3, 1, "+2 (+200%)"),
        ("worn_wrong:unmasked", "    of which a mask worn incorrectly", 2, 1, "+1 (+100%)"),
    ]
    # No mask worn wrong at clinic-002 in either week: no line.
    assert [ln.metric for ln in report.lines if ln.site == "clinic-002" and ":" in ln.metric] == [
        "raised:unmasked"
    ]
    assert [ln.metric for ln in weekly_report(engine, 2026, 48, TZ, "clinic-002").lines
            if ln.metric.startswith("worn_wrong:")] == []  # fmt: skip

    table = week_table(report)
    assert "  Patient without a mask" in table
    assert "\n      of which a mask worn incorrectly  2          1          +1 (+100%)\n" in table
    rows = list(csv.DictReader(io.StringIO(week_csv(report).removeprefix(BOM))))
    assert {"week": "2026-W48", "site": "clinic-001", "metric": "worn_wrong:unmasked",
            "this_week": "2", "last_week": "1", "change": "1"} in rows  # fmt: skip
    html = week_html(report)
    assert html.count('<tr class="worn-wrong">') == 2
    assert (
        '<tr class="worn-wrong"><td>\u00a0\u00a0\u00a0\u00a0of which a mask worn incorrectly</td>'
        '<td class="num">2</td><td class="num">1</td><td class="num">+1 (+100%)</td></tr>'
    ) in html

    zh = translator("zh_CN")
    assert "其中口罩佩戴不规范" in week_table(report, zh)
    zh_html = week_html(report, t=zh)
    assert zh_html.count("其中口罩佩戴不规范") == 2
    assert "of which" not in zh_html

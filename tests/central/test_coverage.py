"""Screening coverage on the district side (central/store/coverage.py): old and new summaries and
the new ``coverage`` kind are collected and kept whole, a desk's day coverage read from them."""

from __future__ import annotations

import csv
import io
import json
import re
import urllib.request
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, delete, func, select, update

from agent.flow.events import CoverageEvent, SummaryEvent
from agent.wire.contract import Identity, encode
from central.i18n import translator
from central.report import coverage as coverage_words
from central.report import notification_render
from central.report.coverage import desk_coverage
from central.report.notification import all_clinics, notification
from central.report.render import week_csv, week_table
from central.report.safe import BOM
from central.report.weekly import weekly_report
from central.store.coverage import Coverage, day_coverage, of_summary
from central.store.db import open_db
from central.store.records import Row, to_row
from central.store.rollups import reconcile
from central.store.tables import events, rollup_coverage
from central.store.writer import store
from tests.central.browser import served
from tests.central.day_script import TZ, Box, at

ID = Identity("triage/v1", "clinic-7", "desk-1", "clinic-7-desk-1")
AT = 1_795_000_000.0


def summary(period: str, start: str, seq: int, **facts: Any) -> dict[str, Any]:
    event = SummaryEvent(
        AT, 900.0, 10, 0, 0, 12, 0, 3, period=period, date="2026-11-18", start=start, **facts
    )
    msg = encode(event, ID, seq=seq)
    row = to_row("triage/v1", msg.topic, msg.payload, AT + 1)  # what the collector stores
    doc: dict[str, Any] = json.loads(row.payload)
    return doc


def test_new_summary_fields_and_the_coverage_kind_are_kept_whole() -> None:
    doc = summary("15min", "10:00", 5, arrivals_screened=9, arrivals_unscreened=3, scans=7)
    assert (doc["arrivals_screened"], doc["arrivals_unscreened"], doc["scans"]) == (9, 3, 7)
    old = summary("15min", "10:15", 6)
    assert not {"arrivals_screened", "arrivals_unscreened", "scans"} & set(old)
    msg = encode(CoverageEvent(AT, 60.0, 2, 1, 0, 4), ID, seq=8)
    row = to_row("triage/v1", msg.topic, msg.payload, AT + 1)
    assert row.kind == "coverage"
    assert json.loads(row.payload)["scans"] == 4


def test_a_day_reads_the_day_summary_else_the_periods_so_far() -> None:
    periods = [
        summary("15min", "10:00", 5, arrivals_screened=9, arrivals_unscreened=3),
        summary("15min", "10:00", 7, arrivals_screened=9, arrivals_unscreened=3),  # same period
        summary("15min", "10:15", 6, arrivals_screened=1, arrivals_unscreened=0, scans=2),
        summary("15min", "10:30", 8),  # a period before the box had coverage
    ]
    during = day_coverage(periods, "2026-11-18")
    assert during == Coverage(10, 3, 2)
    assert during.percent == 76.9
    day = summary("day", "00:00", 99, arrivals_screened=40, arrivals_unscreened=10, scans=30)
    final = day_coverage([*periods, day], "2026-11-18")
    assert (final.screened, final.unscreened, final.scans, final.percent) == (40, 10, 30, 80.0)
    assert day_coverage(periods, "2026-11-19") == Coverage()


def test_old_boxes_and_empty_days_have_no_coverage() -> None:
    old = day_coverage([summary("day", "00:00", 3)], "2026-11-18")
    assert (old.arrivals, old.percent) == (None, None)
    nobody = of_summary({"arrivals_screened": 0, "arrivals_unscreened": 0})
    assert (nobody.arrivals, nobody.percent) == (0, None)
    junk = of_summary({"arrivals_screened": -1, "arrivals_unscreened": True, "scans": "9"})
    assert junk == Coverage()
    week = Coverage(10, 0, None) + Coverage(None, None, 3) + Coverage(5, 5, 1)
    assert (week.screened, week.unscreened, week.scans, week.percent) == (15, 5, 4, 75.0)


# --- the district's reports and pages (issue 23 item 3) -----------------------------------------
DAY = date(2026, 11, 23)  # a Monday (2026-W48), Africa/Nairobi


def _summary(box: Box, d: date, period: str, start: str, **facts: Any) -> Row:
    """A box's summary of local date ``d`` encoded by the agent's encoder and stored as the
    collector stores it: a 15-min period ending ``start`` + 15 min, or the day (ts = its end)."""
    if period == "day":
        end, window = at(0, 0, d=d + timedelta(days=1)), 86400.0
    else:
        hh, mm = (int(x) for x in start.split(":"))
        end, window = at(hh, mm, d=d) + 900.0, 900.0
    event = SummaryEvent(
        end, window, 10, 0, 0, 12, 0, 3, period=period, date=d.isoformat(), start=start, **facts
    )
    return box.row(event)


def store_coverage(engine: Engine) -> None:
    """clinic-a: desk-1 sent its day summary (its 15-min ones say less: the day wins), desk-2 only
    15-min summaries (one sent twice); clinic-b: a box from before issue 23 (no figures); clinic-c:
    nobody arrived. Last week clinic-a desk-1 screened 30 of 50."""
    a1, a2 = Box("clinic-a", "desk-1"), Box("clinic-a", "desk-2")
    b1, c1 = Box("clinic-b", "desk-1"), Box("clinic-c", "desk-1")
    last = date(2026, 11, 16)
    rows = [
        _summary(a1, last, "day", "00:00", arrivals_screened=30, arrivals_unscreened=20, scans=9),
        _summary(a1, DAY, "15min", "10:00", arrivals_screened=5, arrivals_unscreened=5),
        _summary(a1, DAY, "day", "00:00", arrivals_screened=40, arrivals_unscreened=10, scans=30),
        _summary(a2, DAY, "15min", "10:00", arrivals_screened=9, arrivals_unscreened=3),
        _summary(a2, DAY, "15min", "10:00", arrivals_screened=9, arrivals_unscreened=3),
        _summary(a2, DAY, "15min", "10:15", arrivals_screened=1, arrivals_unscreened=0, scans=2),
        _summary(b1, DAY, "15min", "09:00"),
        _summary(b1, DAY, "day", "00:00"),
        _summary(c1, DAY, "15min", "09:00", arrivals_screened=0, arrivals_unscreened=0),
        _summary(c1, DAY, "day", "00:00", arrivals_screened=0, arrivals_unscreened=0),
    ]
    store(engine, rows, tz=TZ.key)


def test_the_day_report_shows_each_clinics_coverage(db_url: str) -> None:
    engine = open_db(db_url)
    store_coverage(engine)
    n = notification(engine, DAY, TZ, now=at(18, 0))
    got = {c.site: c.coverage for c in n.clinics}
    # desk-1's day summary (40/10) and desk-2's periods so far (9/3 once, 1/0): 50 of 63.
    assert got["clinic-a"] == Coverage(50, 13, 32)
    assert got["clinic-a"].percent == 79.4
    assert got["clinic-b"] == Coverage()  # not reported
    assert (got["clinic-c"].arrivals, got["clinic-c"].percent) == (0, None)  # not applicable
    assert n.headline.coverage == Coverage(50, 13, 32)
    en, zh = translator("en"), translator("zh_CN")
    out = io.StringIO()
    notification_render.write_table(*all_clinics(engine, DAY, TZ, now=at(18, 0)), out, en)
    text = out.getvalue()
    assert "Screening coverage: 79.4% (50 of 63 arrivals screened); registration scans 32" in text
    assert "Screening coverage: not reported" in text
    assert "Screening coverage: no arrivals" in text
    assert "0%" not in text
    assert coverage_words.text(got["clinic-a"], zh) == (
        "筛查覆盖率: 79.4%（到诊 63 人，已测温 50 人）；扫码登记 32 次"  # noqa: RUF001
    )
    assert coverage_words.text(got["clinic-b"], zh) == "筛查覆盖率: 未上报"
    assert coverage_words.text(got["clinic-c"], zh) == "筛查覆盖率: 无到诊人员"
    head, clinics = all_clinics(engine, DAY, TZ, now=at(18, 0))
    body = "".join(notification_render.csv_rows(head, clinics, en)).removeprefix(BOM)
    rows = {(r["site"], r["desk"]): r for r in csv.DictReader(io.StringIO(body))}
    figures = ("arrivals_screened", "arrivals_unscreened", "coverage_pct", "scans")
    assert [rows[("clinic-a", "desk-1")][f] for f in figures] == ["40", "10", "80.0", "30"]
    assert [rows[("clinic-a", "desk-2")][f] for f in figures] == ["10", "3", "76.9", "2"]
    assert [rows[("clinic-b", "desk-1")][f] for f in figures] == ["", "", "", ""]
    assert [rows[("clinic-c", "desk-1")][f] for f in figures] == ["0", "0", "", ""]


def test_the_week_report_compares_coverage_with_the_week_before(db_url: str) -> None:
    engine = open_db(db_url)
    store_coverage(engine)
    report = weekly_report(engine, 2026, 48, TZ)
    assert report.coverage["clinic-a"] == (Coverage(50, 13, 32), Coverage(30, 20, 9))
    assert report.coverage["clinic-b"] == (Coverage(), Coverage())
    text = week_table(report)
    line = next(ln for ln in text.splitlines() if "Screening coverage" in ln).split()
    assert line[-3:] == ["60%", "+19.4", "pt"]
    assert "79.4%" in line
    assert "Registration scans" in text
    assert "19.4 个百分点" in week_table(report, translator("zh_CN"))
    rows = list(csv.DictReader(io.StringIO(week_csv(report).removeprefix(BOM))))
    pct = {r["site"]: r for r in rows if r["metric"] == "coverage_pct"}
    assert (pct["clinic-a"]["this_week"], pct["clinic-a"]["last_week"]) == ("79.4", "60.0")
    assert (pct["clinic-b"]["this_week"], pct["clinic-b"]["change"]) == ("", "")


def _get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=30) as resp:
        body: str = resp.read().decode("utf-8")
        return body


def test_the_pages_show_coverage_per_clinic(tmp_path: Path) -> None:
    engine = open_db(str(tmp_path / "central.sqlite3"))
    store_coverage(engine)
    with served(engine, TZ, language="en") as base:
        day = _get(f"{base}/day?date={DAY}")
        assert "Screening coverage: 79.4% (50 of 63 arrivals screened)" in day
        assert day.count("Screening coverage: not reported") == 1
        assert "Screening coverage: no arrivals" in day
        assert ",40,10,80.0,30" in _get(f"{base}/day.csv?date={DAY}")
        week = _get(f"{base}/week?week=2026-W48")
        assert re.search(
            r'<tr class="coverage"><td>Screening coverage</td><td class="num">79.4%'
            r'</td><td class="num">60%</td><td class="num">\+19.4 pt</td>',
            week,
        )
        clinic = _get(f"{base}/clinic/clinic-a?date={DAY}")
        assert "Screening coverage: 79.4% (50 of 63 arrivals screened)" in clinic  # the clinic
        assert "Screening coverage: 80% (40 of 50 arrivals screened)" in clinic  # desk-1
        assert "Screening coverage: not reported" in _get(f"{base}/clinic/clinic-b?date={DAY}")
    with served(engine, TZ, language="zh_CN") as base:
        assert "筛查覆盖率: 79.4%" in _get(f"{base}/day?date={DAY}")
        assert "筛查覆盖率" in _get(f"{base}/week?week=2026-W48")


def _raw_reading(engine: Engine, d: date) -> dict[tuple[str, str], Coverage]:
    """What the reports read before the rollup: every stored summary of local date ``d`` per desk,
    read by central/store/coverage.py's rules."""
    docs: dict[tuple[str, str], list[dict[str, Any]]] = {}
    with engine.connect() as conn:
        stmt = select(events.c.site, events.c.desk, events.c.payload).where(
            events.c.kind == "summary"
        )
        for site, desk, payload in conn.execute(stmt):
            docs.setdefault((site, desk), []).append(json.loads(payload))
    got = {k: day_coverage(v, d.isoformat()) for k, v in docs.items()}
    return {k: c for k, c in got.items() if c != Coverage()}


def _rollup(engine: Engine, d: date) -> dict[tuple[str, str], Coverage]:
    with engine.connect() as conn:
        return desk_coverage(conn, d, TZ)


def test_the_rollup_is_the_raw_summaries_reading(db_url: str) -> None:
    engine = open_db(db_url)
    store_coverage(engine)
    for d in (DAY, date(2026, 11, 16), date(2026, 11, 24)):
        assert _rollup(engine, d) == _raw_reading(engine, d)
    got = _rollup(engine, DAY)
    assert got[("clinic-a", "desk-1")] == Coverage(40, 10, 30)  # its day summary
    assert got[("clinic-a", "desk-2")] == Coverage(10, 3, 2)  # its periods, 10:00 once
    assert got[("clinic-c", "desk-1")] == Coverage(0, 0, None)
    assert ("clinic-b", "desk-1") not in got
    with engine.connect() as conn:  # scoped to the viewer's clinics
        assert set(desk_coverage(conn, DAY, TZ, {"clinic-c"})) == {("clinic-c", "desk-1")}
        rows = conn.execute(select(rollup_coverage.c.site)).scalars().all()
    assert "clinic-b" not in rows  # an old box's summaries write nothing


def test_a_period_sent_again_with_a_higher_seq_replaces_a_lower_one_does_not(db_url: str) -> None:
    engine = open_db(db_url)
    box = Box("clinic-a", "desk-2", seq=10)
    first = _summary(box, DAY, "15min", "10:00", arrivals_screened=9, arrivals_unscreened=3)
    other = _summary(box, DAY, "15min", "10:15", arrivals_screened=1, scans=2)
    store(engine, [first, other], tz=TZ.key)
    assert _rollup(engine, DAY) == {("clinic-a", "desk-2"): Coverage(10, 3, 2)}
    box.seq = 20  # the box sent the period again, counted since (a higher seq): it replaces
    again = _summary(box, DAY, "15min", "10:00", arrivals_screened=11, arrivals_unscreened=4)
    store(engine, [again], tz=TZ.key)
    assert _rollup(engine, DAY) == {("clinic-a", "desk-2"): Coverage(12, 4, 2)}
    box.seq = 15  # an older copy arriving late (a lower seq): it does not
    late = _summary(box, DAY, "15min", "10:00", arrivals_screened=1, arrivals_unscreened=1)
    store(engine, [late], tz=TZ.key)
    assert _rollup(engine, DAY) == {("clinic-a", "desk-2"): Coverage(12, 4, 2)}
    box.seq = 30  # in one batch: the higher seq of the two, whatever their order
    hi = _summary(box, DAY, "15min", "10:15", arrivals_screened=3, scans=4)
    box.seq = 25
    lo = _summary(box, DAY, "15min", "10:15", arrivals_screened=2, scans=3)
    store(engine, [hi, lo], tz=TZ.key)
    assert _rollup(engine, DAY) == {("clinic-a", "desk-2"): Coverage(14, 4, 4)}
    assert _rollup(engine, DAY) == _raw_reading(engine, DAY)
    old = Box("clinic-b", "desk-1")
    store(engine, [_summary(old, DAY, "15min", "10:00"), _summary(old, DAY, "day", "00:00")],
          tz=TZ.key)  # fmt: skip
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(rollup_coverage)).scalar_one() == 2
    junk = Box("clinic-c", "desk-1")  # fields present but not counts: NULL, no coverage
    store(engine, [_summary(junk, DAY, "day", "00:00", arrivals_screened=-1)], tz=TZ.key)
    assert ("clinic-c", "desk-1") not in _rollup(engine, DAY)


def test_reconcile_rebuilds_the_coverage_rollup_and_reports_a_tampered_one(db_url: str) -> None:
    engine = open_db(db_url)
    store_coverage(engine)
    days = [date(2026, 11, 16), DAY]
    expected = {d: _rollup(engine, d) for d in days}
    assert reconcile(engine, days, TZ.key).matched
    with engine.begin() as conn:  # as after the migration: summaries stored, no rollup
        conn.execute(delete(rollup_coverage))
    done = reconcile(engine, days, TZ.key)
    assert not done.matched
    assert all(" coverage " in d for d in done.differences)
    assert {d: _rollup(engine, d) for d in days} == expected  # rebuilt
    assert reconcile(engine, days, TZ.key).matched
    with engine.begin() as conn:
        conn.execute(
            update(rollup_coverage)
            .where(rollup_coverage.c.site == "clinic-a", rollup_coverage.c.desk == "desk-2")
            .values(screened=99)
        )
    assert _rollup(engine, DAY)[("clinic-a", "desk-2")].screened == 99 * 2
    done = reconcile(engine, [DAY], TZ.key)
    assert [d.split(": ")[0] for d in done.differences] == [
        f"{DAY} clinic-a/desk-2",
        f"{DAY} clinic-a/desk-2",
    ]
    assert (
        "15min 10:00 (seq, screened, unscreened, scans) (2, 99, 3, None)/(2, 9, 3, None)"
        in done.differences[0]
    )
    assert _rollup(engine, DAY) == expected[DAY]

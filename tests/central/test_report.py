"""The daily notification and weekly counts from stored events, on SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import io
import subprocess
import sys
from pathlib import Path

from central.i18n import translator
from central.report.daily import daily_report
from central.report.render import day_csv, day_html, day_table, week_csv, week_table
from central.report.rows import check_text, minutes_text, status_text
from central.report.safe import BOM
from central.report.weekly import weekly_report
from central.store.db import open_db
from central.web.fleet import fleet
from tests.central.day_script import DAY, TZ, at, store_day

REPO = Path(__file__).resolve().parents[2]


def test_daily_notification_lists_each_problem_with_its_times_and_outcome(db_url: str) -> None:
    engine = open_db(db_url)
    store_day(engine)
    report = daily_report(engine, DAY, TZ, now=at(18, 0))
    text = day_table(report)
    assert [(d.site, d.desk) for d in report.desks] == [
        ("clinic-001", "desk-1"), ("clinic-001", "desk-2"), ("clinic-002", "desk-1"),
        ("clinic-002", "desk-2"),
    ]  # fmt: skip
    d1, d2, _, _ = report.desks
    c = d1.counts
    assert (c.screened, c.fevers, c.invalid, c.arrivals, c.peak) == (6, 1, 1, 4, 8)
    assert c.raised == {"crowding": 1, "fever": 1, "unmasked": 1}
    lines = text.splitlines()

    def line(*parts: str) -> str:
        found = [ln for ln in lines if all(p in ln for p in parts)]
        assert len(found) == 1, (parts, text)
        return found[0]

    assert "1 min" in line("Fever", "09:10", "09:11", "38.4 °C", "put right")
    assert "25 min" in line("Crowding", "10:01", "10:26", "8 people", "put right")
    assert "1 h 30 min so far" in line("Patient without a mask", "16:30", "45 s", "still open")
    assert "30 min" in line("Box offline (connection lost)", "12:00", "12:30", "back online")
    assert "counts: screened 6, fevers 1, invalid 1, arrivals 4, peak occupancy 8" in text
    assert d1.check is not None
    assert d1.check.consistent, d1.check
    assert d1.online is True
    # desk-2: yesterday's open problem put right today; one screening never arrived.
    assert "raised before this day" in line("Patient without a mask", "2026-11-22 17:00", "08:20")
    assert d2.check is not None
    assert d2.check.differences == ("screened: box counted 3, stored 2",)
    assert d2.check.missing_seq == 1
    assert (
        "DIFFERS from the box's own counts over 1 h 00 min: screened: box counted 3, stored 2 (1 sequence number missing"
        in text
    )
    # clinic-002: one 15-min summary sent twice counts once; a day summary covers the whole day.
    assert "matches the box's own counts (1 summary covering 15 min)" in text
    assert "matches the box's own counts (1 summary covering 24 h 00 min)" in text
    # The technician's lines in the reader's language (a Translator passed in).
    zh = translator("zh_CN")
    assert check_text(d2, zh).startswith("与设备自身统计不一致（覆盖 1小时00分）")  # noqa: RUF001
    assert "缺失 1 个序号" in check_text(d2, zh)
    assert check_text(d1, zh).startswith("与设备自身统计一致")
    assert status_text(d1, report, zh).startswith("在线，最近数据 ")  # noqa: RUF001
    assert status_text(d1, report).startswith("online, last event ")
    boxed = [minutes_text(d, zh) for d in report.desks if minutes_text(d)]
    assert boxed == [
        "预检分诊点无人值守 13分钟、人员聚集 0分钟、摄像头或体温计不可用 3分钟、设备离线 30分钟"
    ]
    assert (
        "the box reported: desk unattended 13 min, crowding 0 min, "
        "camera or thermometer not usable 3 min, agent offline 30 min" in text
    )
    # Alerts other engineers are adding, read generically: a label, the zone, the box's family.
    assert "15 min" in line("Camera covered", "11:30", "11:45", "put right")
    assert "6 h 20 min so far" in line("Staff without a mask (desk)", "11:40", "40 s unmasked")
    # A clean stop (stopping, then offline with reason stopped) is an offline period "stopped".
    assert "1 h 00 min" in line("Box offline (stopped)", "17:00", "still offline")


def test_daily_csv_and_html_carry_the_same_rows(db_url: str) -> None:
    engine = open_db(db_url)
    store_day(engine)
    report = daily_report(engine, DAY, TZ, now=at(18, 0))
    text = day_csv(report)
    assert text.startswith(BOM)  # spreadsheet programs in a Chinese locale read it as UTF-8
    rows = list(csv.DictReader(io.StringIO(text.removeprefix(BOM))))
    problems = [r for r in rows if r["record"] == "problem"]
    assert [(r["desk"], r["what"], r["raised"], r["cleared"], r["duration_min"], r["status"]) for r in problems if r["site"] == "clinic-001"] == [
        ("desk-1", "Fever", "09:10", "09:11", "1", "put right"),
        ("desk-1", "Crowding", "10:01", "10:26", "25", "put right"),
        ("desk-1", "Box offline (connection lost)", "12:00", "12:30", "30", "back online"),
        ("desk-1", "Patient without a mask", "16:30", "", "90", "still open"),
        ("desk-2", "Patient without a mask", "2026-11-22 17:00", "08:20", "920", "put right"),
    ]  # fmt: skip
    counts = {(r["site"], r["desk"]): r for r in rows if r["record"] == "counts"}
    assert counts[("clinic-001", "desk-1")]["screened"] == "6"
    assert counts[("clinic-002", "desk-1")]["screened"] == "2"
    html = day_html(report)
    assert "<h1>Daily notification 2026-11-23</h1>" in html
    assert html.count('<tr class="open">') == 3  # two open problems, one desk still offline
    assert "Box offline (connection lost)" in html


def test_weekly_counts_per_clinic_with_the_change(db_url: str) -> None:
    engine = open_db(db_url)
    store_day(engine)
    report = weekly_report(engine, 2026, 48, TZ)
    got = {(ln.site, ln.metric): (ln.this, ln.last, ln.change_text) for ln in report.lines}
    assert got[("clinic-001", "screened")] == (8, 3, "+5 (+167%)")
    assert got[("clinic-001", "fevers")] == (2, 0, "+2")
    # desk-2 raised one on Sunday; the fever is a screening result, not a problem (issue 21).
    assert got[("clinic-001", "problems")] == (2, 1, "+1 (+100%)")
    assert got[("clinic-001", "fevers_alerted")] == (1, 0, "+1")
    assert got[("clinic-001", "raised:crowding")] == (1, 0, "+1")
    assert got[("clinic-002", "screened")] == (3, 1, "+2 (+200%)")
    assert got[("clinic-002", "fevers")] == (0, 1, "-1 (-100%)")
    assert "Weekly counts 2026-W48 (2026-11-23 to 2026-11-29, Africa/Nairobi)" in week_table(report)
    rows = list(csv.DictReader(io.StringIO(week_csv(report).removeprefix(BOM))))
    assert {
        "week": "2026-W48",
        "site": "clinic-001",
        "metric": "screened",
        "this_week": "8",
        "last_week": "3",
        "change": "5",
    } in rows


def test_report_command_prints_the_day(db_url: str, tmp_path: Path) -> None:
    engine = open_db(db_url)
    store_day(engine)
    out = subprocess.run(
        [sys.executable, "-m", "central", "report", "--language", "en", "--db", db_url, "--tz", "Africa/Nairobi",
         "--date", "2026-11-23", "--site", "clinic-001"],
        cwd=REPO, capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert "Daily notification 2026-11-23 (Africa/Nairobi)" in out.stdout
    assert "clinic-002" not in out.stdout
    html = tmp_path / "w.html"
    subprocess.run(
        [sys.executable, "-m", "central", "report", "--language", "en", "--db", db_url, "--tz", "Africa/Nairobi",
         "--week", "2026-W48", "--format", "html", "-o", str(html)],
        cwd=REPO, check=True,
    )  # fmt: skip
    assert "Weekly counts 2026-W48" in html.read_text()
    bad = subprocess.run(
        [sys.executable, "-m", "central", "report", "--db", db_url, "--tz", "Mars/Base", "--date", "today"],
        cwd=REPO, capture_output=True, text=True,
    )  # fmt: skip
    assert bad.returncode == 78
    assert "tz" in bad.stderr


def test_fleet_shows_open_problems_oldest_first_and_silent_desks(db_url: str) -> None:
    engine = open_db(db_url)
    store_day(engine)
    f = fleet(engine, TZ, now=at(18, 0))
    by_desk = {(d.site, d.desk): d for d in f.desks}
    # desk-1 says online but its last event was at 16:30 (received then): silent for 1 h 30 min.
    assert by_desk[("clinic-001", "desk-1")].online is True
    assert by_desk[("clinic-001", "desk-1")].silent_s == 90 * 60
    assert by_desk[("clinic-002", "desk-1")].online is False  # stopped cleanly at 17:00
    assert by_desk[("clinic-002", "desk-1")].status_since == at(17, 0, 1)
    assert [(p.site, p.alert) for p in f.open_problems] == [
        ("clinic-002", "staff_unmasked"),  # 11:40, oldest first
        ("clinic-001", "unmasked"),  # 16:30
    ]
    assert f.silent == 2  # clinic-001 desk-2 (online at 07:50) has been quiet since 09:00 too
    assert by_desk[("clinic-002", "desk-1")].silent_s is None  # offline, so not "silent"

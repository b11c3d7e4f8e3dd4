"""Notices over a scripted district week (tests/central/district_week.py) on SQLite and
PostgreSQL: one per clinic with problems, numbered per year, never for fevers, the unregistered
clinic flagged; drop with a reason; issued notices immutable; text and HTML in both languages."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DatabaseError

from central.audit.trail import entries
from central.i18n import translator
from central.loop.notices import (
    NoticeError,
    draft_day,
    drafts,
    drop_problem,
    issue,
    issued_since,
    notice,
    notices_of_day,
    notices_of_week,
)
from central.loop.render import notice_html, notice_text
from central.loop.settings import LoopSettings, LoopSettingsError, settings_from
from central.store.db import open_db
from tests.central.district_week import DAYS, MONDAY, TZ, at, registry, run_week, store_week


def test_a_week_of_notices(db_url: str) -> None:
    engine = open_db(db_url)
    store_week(engine)
    registry(engine)
    settings = LoopSettings()
    found = draft_day(
        engine, MONDAY, TZ, settings, actor="zhou", role="officer", now=at(MONDAY, 20)
    )
    by_site = {d.site: d for d in found}
    # One draft per clinic with problems; the fever-only clinic has none; x-99 is flagged.
    assert sorted(by_site) == ["c-01", "c-02", "c-03", "c-04", "x-99"]
    assert by_site["c-01"].clinic_name == "阳光诊所"
    assert by_site["c-01"].registered
    assert not by_site["x-99"].registered
    assert by_site["x-99"].clinic_name == "x-99"
    assert [p.kind for p in by_site["c-02"].problems] == ["not_working", "not_working"]
    assert {p.kind for d in found for p in d.problems} == {
        "not_working", "unmasked", "crowding", "staff"
    }  # fmt: skip
    assert all(p.alert != "fever" for d in found for p in d.problems)
    # The officer drops x-99's problem (a trial desk), with a reason; without one it is refused.
    with engine.begin() as conn:
        key = by_site["x-99"].problems[0].key
        with pytest.raises(NoticeError, match="reason"):
            drop_problem(conn, by_site["x-99"].id, key, "  ", actor="zhou", role="officer")
        drop_problem(conn, by_site["x-99"].id, key, "试运行设备", actor="zhou", role="officer")
        issued = issue(conn, MONDAY, settings, actor="zhou", role="officer", now=at(MONDAY, 20, 5))
    assert [n.number for n in issued] == ["2026-0001", "2026-0002", "2026-0003", "2026-0004"]
    assert [n.site for n in issued] == ["c-01", "c-02", "c-03", "c-04"]
    n1 = issued[0]
    assert n1.deadline == DAYS[3]
    assert n1.written_report
    assert not n1.summoned
    assert n1.problems[0].duration_s == pytest.approx(20 * 60)
    # Drafting again the same day changes nothing issued; the rest of the week.
    draft_day(engine, MONDAY, TZ, settings, now=at(MONDAY, 21))
    run_week(engine, settings, DAYS[1:6])
    with engine.connect() as conn:
        monday = notices_of_day(conn, MONDAY)
        week = notices_of_week(conn, 2026, 48)
        since = issued_since(conn, at(DAYS[2], 0))
        third = [n for n in week if n.site == "c-01"][-1]
        assert [d.issued_number for d in drafts(conn, MONDAY)][-1] is None  # x-99: all dropped
        trail = entries(conn, target_kind="notice")
    assert len(monday) == 4
    assert [n.number for n in week] == [f"2026-{i:04d}" for i in range(1, 9)]
    assert {n.site for n in week} == {"c-01", "c-02", "c-03", "c-04"}
    assert [n.site for n in since] == ["c-01", "c-02", "c-01"]
    assert third.notices_in_window == 3
    assert third.summoned
    assert third.written_report
    assert any("summoned" in a for a in third.required_actions)
    assert len(trail) == 8
    assert {e.actor for e in trail} == {"zhou"}


def test_issued_notices_are_immutable(db_url: str) -> None:
    engine = open_db(db_url)
    store_week(engine)
    run_week(engine, LoopSettings(), [MONDAY])
    for sql in (
        "UPDATE notices SET site = 'c-09'",
        "DELETE FROM notices",
        "UPDATE notice_problems SET kind = 'crowding'",
        "DELETE FROM notice_problems",
    ):
        with pytest.raises(DatabaseError, match="immutable"), engine.begin() as conn:
            conn.execute(text(sql))
    with engine.connect() as conn:
        assert len(notices_of_day(conn, MONDAY)) == 5


def test_notice_text_and_html_in_both_languages(tmp_path: object) -> None:
    engine = open_db(str(tmp_path) + "/n.sqlite3")
    store_week(engine)
    registry(engine)
    run_week(engine, LoopSettings(), [MONDAY])
    with engine.connect() as conn:
        n = notice(conn, "2026-0002")
    assert n is not None
    assert n.site == "c-02"
    zh = notice_text(n, translator("zh_CN"), TZ)
    en = notice_text(n, translator("en"), TZ)
    assert "监督意见通知 2026-0002" in zh
    assert "仁和门诊部" in zh
    assert "2026年11月26日" in zh
    assert "08:30\u201309:10" in zh
    assert "40分钟" in zh
    assert "书面报告" in zh
    assert "预检分诊点" in zh
    assert "Supervision notice 2026-0002" in en
    assert "Rectification deadline" in en
    assert "8:30" in en
    assert "40 min" in en
    html = notice_html(n, translator("zh_CN"), TZ)
    assert '<html lang="zh-CN">' in html
    assert "整改期限" in html
    assert "<style>" in html


def test_settings_are_checked() -> None:
    with pytest.raises(LoopSettingsError, match="summon_at"):
        LoopSettings(report_at=3, summon_at=2)
    with pytest.raises(LoopSettingsError, match="draft_at"):
        LoopSettings(draft_at="25:00")
    with pytest.raises(LoopSettingsError, match="window_days"):
        settings_from({"window_days": "thirty"})
    assert settings_from({"auto_issue": "1", "deadline_days": "5"}).deadline_days == 5


def test_the_command_line(tmp_path: object, capsys: pytest.CaptureFixture[str]) -> None:
    from central.cli import main

    db = str(tmp_path) + "/cli.sqlite3"
    engine = open_db(db)
    store_week(engine)
    registry(engine)
    common = ["--db", db, "--tz", TZ.key]
    assert main(["notices", *common, "draft", "--date", str(MONDAY)]) == 0
    assert "阳光诊所" in capsys.readouterr().out
    assert main(["notices", *common, "issue", "--date", str(MONDAY), "--site", "c-01"]) == 0
    assert "2026-0001\tc-01" in capsys.readouterr().out
    assert main(["notices", *common, "--language", "zh_CN", "show", "--date", str(MONDAY)]) == 0
    assert "监督意见通知 2026-0001" in capsys.readouterr().out
    assert (
        main(["notices", *common, "--auto-verify-days", "3", "verify", "--date", str(DAYS[6])]) == 0
    )
    assert main(["notices", *common, "--summon-at", "0", "draft"]) == 78
    assert "summon_at" in capsys.readouterr().err

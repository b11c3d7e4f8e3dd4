"""The daily notification and the fleet at a glance from the rollups (central/report/notification.py,
central/web/glance.py): kinds, filters, search, paging, scope, both languages; on SQLite and
PostgreSQL."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest

from central.config import ConfigError
from central.i18n import translator
from central.report import notification_render as nr
from central.report.notification import Filters, all_clinics, notification
from central.store.db import open_db
from central.web.glance import GlanceFilters, glance
from tests.central.day_script import DAY, TZ, at, store_day


def test_notification_headline_filters_and_pages(db_url: str) -> None:
    engine = open_db(db_url)
    store_day(engine)
    n = notification(engine, DAY, TZ, now=at(18, 0))
    h = n.headline
    assert h.problems == {"not_working": 3, "staff": 1, "crowding": 1, "unmasked": 2, "other": 0}
    assert (h.total, h.open, h.offline_periods, h.screened, h.fevers) == (7, 3, 2, 11, 2)
    assert h.offline_s == 90 * 60  # 30 min back online + 1 h still offline at 18:00
    assert [c.site for c in n.clinics] == ["clinic-002", "clinic-001"]  # most open first
    c1 = n.clinics[1]
    assert (c1.screened, c1.fevers, len(c1.problems), c1.open) == (8, 2, 4, 1)
    assert [f.value for f in c1.fever_list] == [38.4]  # listed as screenings, not problems
    only = notification(engine, DAY, TZ, filters=Filters(kind="crowding"), now=at(18, 0))
    assert [(c.site, [p.alert for p in c.problems]) for c in only.clinics] == [
        ("clinic-001", ["crowding"])
    ]
    assert only.headline.total == 7  # the headline is the whole district's day
    opened = notification(engine, DAY, TZ, filters=Filters(only_open=True), now=at(18, 0))
    assert sum(len(c.problems) for c in opened.clinics) == 3
    off = notification(engine, DAY, TZ, filters=Filters(offline=True), now=at(18, 0))
    assert [c.site for c in off.clinics] == ["clinic-002", "clinic-001"]
    named = notification(engine, DAY, TZ, filters=Filters(q="东区"), now=at(18, 0),
                         names={"clinic-001": "东区诊所"})  # fmt: skip
    assert [(c.site, c.name) for c in named.clinics] == [("clinic-001", "东区诊所")]
    paged = notification(engine, DAY, TZ, filters=Filters(page=2, per_page=1), now=at(18, 0))
    assert (paged.matched, paged.pages, [c.site for c in paged.clinics]) == (2, 2, ["clinic-001"])
    scoped = notification(engine, DAY, TZ, sites=frozenset({"clinic-001"}), now=at(18, 0))
    assert [c.site for c in scoped.clinics] == ["clinic-001"]
    assert scoped.headline.total == 4
    with pytest.raises(ConfigError, match="page"):
        Filters.from_query({"page": "0"})
    with pytest.raises(ConfigError, match="kind"):
        Filters.from_query({"kind": "fever"})


def test_notification_text_csv_html_in_both_languages(db_url: str) -> None:
    engine = open_db(db_url)
    store_day(engine)
    en, zh = translator("en"), translator("zh_CN")
    out = io.StringIO()
    head, clinics = all_clinics(engine, DAY, TZ, now=at(18, 0))
    nr.write_table(head, clinics, out, en)
    text = out.getvalue()
    assert "Daily notification 2026-11-23 (Africa/Nairobi)" in text
    assert "7 problems at 2 clinics of 2; 3 still open." in text
    assert (
        "Triage point not set up, not staffed or not working: 3 (of which box offline 2 times, 1 h 30 min)"
        in text
    )
    assert "Staff without protection: 1" in text
    assert "clinic-001: 4 problems (1 open); screened 8, fevers 2" in text
    assert "1 problems" not in text
    assert "sequence number" not in text
    out = io.StringIO()
    head, clinics = all_clinics(engine, DAY, TZ, now=at(18, 0))
    nr.write_table(head, clinics, out, zh)
    text = out.getvalue()
    assert "每日通报 2026-11-23" in text
    assert "人员聚集: 1" in text
    assert "医护人员安全防护不到位: 1" in text
    assert "测温 11 人;发热 2 人" in text
    head, clinics = all_clinics(engine, DAY, TZ, now=at(18, 0))
    rows = list(csv.DictReader(io.StringIO("".join(nr.csv_rows(head, clinics, en))[1:])))
    assert [r["kind"] for r in rows if r["record"] == "problem" and r["site"] == "clinic-001"] == [
        "unmasked", "crowding", "not_working", "unmasked"]  # fmt: skip
    assert [r["screened"] for r in rows if r["record"] == "counts"][:2] == ["6", "2"]
    assert [r["what"] for r in rows if r["record"] == "fever"] == ["Fever"]
    zero = [r for r in rows if r["record"] == "counts" and r["site"] == "clinic-002"]
    assert zero[0]["fevers"] == "0"  # 0 is shown, not blank
    page = nr.html(notification(engine, DAY, TZ, now=at(18, 0)), zh)
    assert "每日通报" in page
    assert 'class="problems stack"' in page


def test_glance_groups_worst_first(db_url: str) -> None:
    engine = open_db(db_url)
    store_day(engine)
    g = glance(engine, TZ, now=at(18, 0))
    assert g.groups == {"offline": 1, "silent": 2, "sources": 0, "problems": 0, "ok": 1}
    assert next((d.site, d.desk, d.group) for d in g.desks) == ("clinic-002", "desk-1", "offline")
    offline = [p for p in g.open_problems if p.alert == "offline"]
    assert [(p.site, p.desk) for p in offline] == [("clinic-002", "desk-1")]
    only = glance(engine, TZ, filters=GlanceFilters(group="offline"), now=at(18, 0))
    assert [d.desk for d in only.desks] == ["desk-1"]
    assert only.matched == 1
    scoped = glance(engine, TZ, sites=frozenset({"clinic-001"}), now=at(18, 0))
    assert {d.site for d in scoped.desks} == {"clinic-001"}


def test_district_week_by_kind_ranking_and_trend(db_url: str) -> None:
    from central.report.trends import district_week, trend_svg

    engine = open_db(db_url)
    store_day(engine)
    d = district_week(engine, 2026, 48, TZ)
    # W48: crowding, unmasked x1 (desk-1), camera_covered, staff_unmasked; the Will at 12:00;
    # the clean stop at 17:00; the fever is no problem.
    assert d.this.per_kind == {"not_working": 3, "staff": 1, "crowding": 1, "unmasked": 1,
                               "other": 0}  # fmt: skip
    assert d.last.per_kind["unmasked"] == 1  # desk-2's raise on Sunday 2026-11-22
    assert [(c.site, c.total) for c in d.ranking] == [("clinic-001", 3), ("clinic-002", 3)]
    assert len(d.trend) == 8
    assert d.trend[-1].week == 48
    assert d.trend[0].week == 41
    svg = trend_svg(d, translator("zh_CN"))
    assert svg.startswith("<svg") and svg.count("<polyline") == 4  # noqa: PT018
    assert "人员聚集" in svg
    scoped = district_week(engine, 2026, 48, TZ, frozenset({"clinic-002"}))
    assert [c.site for c in scoped.ranking] == ["clinic-002"]


@pytest.mark.slow
def test_pages_on_a_phone_show_every_column(tmp_path: Path) -> None:
    """At 390 px the notification's and the fleet's tables fold into labelled cards: the status of
    every problem is on screen, nothing is cut off to the right (real Chromium)."""
    from selenium.webdriver.common.by import By

    from tests.central.browser import chromium, served

    engine = open_db(str(tmp_path / "c.sqlite3"))
    store_day(engine)
    with served(engine, TZ, language="zh_CN") as url, chromium() as browser:
        browser.set_window_size(390, 844)
        browser.get(url + "/day?date=2026-11-23")
        assert "每日通报" in browser.find_element(By.TAG_NAME, "h1").text
        width = browser.execute_script("return document.documentElement.clientWidth")
        statuses = browser.find_elements(By.CSS_SELECTOR, "table.problems td.status")
        assert len(statuses) == 7
        for cell in statuses:
            assert cell.is_displayed()
            assert cell.rect["x"] + cell.rect["width"] <= width + 1, cell.rect
        assert browser.execute_script("return document.documentElement.scrollWidth") <= width + 1
        assert "未整改" in statuses[-1].text or "仍离线" in statuses[-1].text
        browser.save_screenshot(str(tmp_path / "day-390.png"))
        browser.get(url + "/")
        assert browser.find_element(By.TAG_NAME, "h1").text == "设备总览"
        assert browser.execute_script("return document.documentElement.scrollWidth") <= width + 1

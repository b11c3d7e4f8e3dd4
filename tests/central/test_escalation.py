"""Escalation over the scripted district week: notices counted in the rolling window (written
report from 1, leaders summoned from 3, both configurable), the week's escalations for the weekly
report, a closure order with its dates, and the alert when the closed clinic's desk still sees
people; every step audited; SQLite and PostgreSQL."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from central.accounts import users as accounts
from central.audit.trail import entries
from central.loop import escalation
from central.loop.cases import open_per_site
from central.loop.settings import LoopSettings
from central.registry.clinics import get
from central.store.db import open_db
from tests.central.browser import served
from tests.central.district_week import DAYS, TZ, registry, run_week, store_week
from tests.central.test_accounts import ADMIN, PASSWORD, Client


def test_the_district_rules(db_url: str) -> None:
    engine = open_db(db_url)
    store_week(engine)
    registry(engine)
    settings = LoopSettings()
    run_week(engine, settings)
    saturday = DAYS[5]
    with engine.connect() as conn:
        standing = {s.site: s for s in escalation.standing(conn, saturday, settings)}
        week = escalation.escalations_of_week(conn, 2026, 48)
        raised = entries(conn, target_kind="clinic")
    assert {s: v.notices for s, v in standing.items()} == {"c-01": 3, "c-02": 3, "c-03": 1,
                                                            "c-04": 1, "x-99": 1}  # fmt: skip
    assert standing["c-01"].summoned
    assert standing["c-01"].clinic_name == "阳光诊所"
    assert standing["c-03"].written_report
    assert not standing["c-03"].summoned
    assert len(week.notices) == 9  # x-99's too: shown by its id
    assert [n.site for n in week.summoned] == ["c-02", "c-01"]
    assert len(week.written_reports) == 9
    # escalation.raised at the first notice (written report) and the third (summoned)
    levels = [(e.site, e.detail["in_window"]) for e in raised if e.action == "escalation.raised"]
    assert sorted(levels) == sorted([("c-01", 1), ("c-01", 3), ("c-02", 1), ("c-02", 3),
                                     ("c-03", 1), ("c-04", 1), ("x-99", 1)])  # fmt: skip
    # A shorter window forgets Monday's notices; other thresholds change the level.
    short = LoopSettings(window_days=3, report_at=2, summon_at=5)
    with engine.connect() as conn:
        again = {s.site: s for s in escalation.standing(conn, saturday, short)}
    assert again["c-01"].notices == 1
    assert not again["c-01"].written_report


def test_ordered_to_close_and_still_admitting(db_url: str) -> None:
    engine = open_db(db_url)
    store_week(engine)
    registry(engine)
    run_week(engine, LoopSettings())
    thursday, sunday = DAYS[3], DAYS[6]
    with engine.begin() as conn:
        with pytest.raises(escalation.EscalationError, match="reason"):
            escalation.order_closure(conn, "c-04", thursday, " ", actor="zhou", role="officer")
        with pytest.raises(escalation.EscalationError, match="not in the registry"):
            escalation.order_closure(conn, "x-99", thursday, "r", actor="zhou", role="officer")
        order = escalation.order_closure(conn, "c-04", thursday, "多次通报未整改",
                                         actor="zhou", role="officer", until=sunday)  # fmt: skip
        with pytest.raises(escalation.EscalationError, match="already"):
            escalation.order_closure(conn, "c-04", thursday, "again", actor="zhou", role="officer")
        clinic = get(conn, "c-04")
        breaches = escalation.closure_breaches(conn, DAYS[0], sunday)
    assert clinic is not None
    assert clinic.status == "ordered_to_close"
    assert [(b.site, b.day, b.arrivals, b.screened) for b in breaches] == [
        ("c-04", DAYS[4], 5, 4),
        ("c-04", DAYS[5], 5, 4),
    ]
    assert breaches[0].clinic_name == "百草堂诊所"
    assert breaches[0].order_id == order.id
    with engine.begin() as conn:
        lifted = escalation.lift_closure(conn, order.id, DAYS[5], actor="zhou", role="officer")
        after = escalation.closure_breaches(conn, DAYS[0], sunday)
        week = escalation.escalations_of_week(conn, 2026, 48)
        clinic = get(conn, "c-04")
        trail = [e.action for e in entries(conn, target_kind="clinic", target_id="c-04")]
    assert lifted.lifted == DAYS[5]
    assert [b.day for b in after] == [DAYS[4]]  # Saturday is after the lifting
    assert clinic is not None
    assert clinic.status == "open"
    assert [o.id for o in week.closures] == [order.id]
    assert {"closure.ordered", "closure.lifted", "registry.edited"} <= set(trail)
    with engine.begin() as conn, pytest.raises(escalation.EscalationError, match="lifted"):
        escalation.lift_closure(conn, order.id, DAYS[5] + timedelta(days=1), actor="z", role="o")


def test_the_week_page_shows_notices_escalations_and_open_cases(db_url: str) -> None:
    """``/week`` (issue 21 item 7): the week's notices and escalations and the open cases per
    ranked clinic, for an officer (every clinic) and a clinic user (their own only)."""
    engine = open_db(db_url)
    store_week(engine)
    registry(engine)
    run_week(engine, LoopSettings())
    with engine.begin() as conn:
        escalation.order_closure(conn, "c-04", DAYS[3], "整改", actor="zhou", role="officer")
        for name, role, site in [("zhou", "officer", None), ("clin", "clinic", "c-01")]:
            accounts.add(conn, ADMIN, username=name, role=role, password=PASSWORD, site=site)
    with engine.connect() as conn:
        week = escalation.escalations_of_week(conn, 2026, 48)
        open_cases = open_per_site(conn)
    assert open_cases["c-01"] > 0
    with served(engine, TZ) as url:
        officer, clinic = Client(url), Client(url)
        assert officer.sign_in("zhou") == 303
        assert clinic.sign_in("clin") == 303
        status, _, body = officer.call("/week?week=2026-W48")
        assert status == 200
        notices = re.findall(r'<a href="/notice/([0-9-]+)">', body)
        assert notices == [n.number for n in week.notices]
        assert len(notices) == 9
        summoned = re.findall(r'class="summoned" href="/notice/([0-9-]+)"', body)
        assert summoned == [n.number for n in week.summoned]
        assert 'class="closure" href="/clinic/c-04/loop"' in body
        ranked = dict(re.findall(r"<tr><td data-label=\"Clinic\">(\S+?)[ <].*?"
                                 r'class="num open-cases">(\d+)</td></tr>', body))  # fmt: skip
        assert {s: int(n) for s, n in ranked.items()} == {s: open_cases.get(s, 0) for s in ranked}
        assert ranked["c-01"] == str(open_cases["c-01"])
        status, _, mine = clinic.call("/week?week=2026-W48")
        assert status == 200
        own = [n.number for n in week.notices if n.site == "c-01"]
        assert re.findall(r'<a href="/notice/([0-9-]+)">', mine) == own
        for other in ("c-02", "c-03", "c-04", "x-99", "仁和门诊部", "百草堂诊所"):
            assert other not in mine, other

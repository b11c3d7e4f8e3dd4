"""The daily loop's scheduler and sender on SQLite and PostgreSQL, end to end through real local
receivers: a scripted clinic day is stored, the worker drafts and issues at the configured local
time, each clinic's recipients get their full notice (robot Markdown, e-mail HTML) in their own
language, the district groups get one short summary once issuing settled (a supplement for notices
issued later), the notices' cases become notified, a clinic under a closure order that admits
patients raises an alert, and nothing is sent twice, across ticks or a restart."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import date

import pytest
from sqlalchemy import Engine

from central.delivery import queue
from central.delivery.destinations import check_destination
from central.delivery.mail import SmtpSettings
from central.delivery.settings import DeliverySettings
from central.delivery.worker import Worker
from central.loop.cases import list_cases
from central.loop.escalation import order_closure
from central.loop.notices import issue, notices_of_day
from central.loop.registry_edits import save_clinic
from central.loop.settings import LoopSettings
from central.registry.clinics import Recipient, check_clinic
from central.store.db import open_db
from tests.central.day_script import DAY, TZ, at, store_day
from tests.central.receivers import HttpReceiver, SmtpReceiver

BASE = "https://triage.district.example"


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def http() -> Iterator[HttpReceiver]:
    r = HttpReceiver().start()
    yield r
    r.stop()


@pytest.fixture
def smtp() -> Iterator[SmtpReceiver]:
    r = SmtpReceiver().start()
    yield r
    r.stop()


@pytest.fixture
def engine(db_url: str) -> Engine:
    e = open_db(db_url)
    store_day(e)
    return e


def registry(engine: Engine, http: HttpReceiver) -> None:
    with engine.begin() as conn:
        save_clinic(conn, check_clinic(
            "clinic-001", "阳光社区诊所", recipients=[
                Recipient("wecom", http.url("/wecom/send?key=CLINIC1KEY")),
                Recipient("email", "clinic1@district.example", "en"),
            ]), actor="admin", role="admin")  # fmt: skip
        save_clinic(conn, check_clinic(
            "clinic-002", "康宁门诊部",
            recipients=[Recipient("feishu", http.url("/feishu/open-apis/bot/v2/hook/c2hook0000"))],
        ), actor="admin", role="admin")  # fmt: skip


def settings(http: HttpReceiver, smtp: SmtpReceiver, auto_issue: bool) -> DeliverySettings:
    return DeliverySettings(
        base_url=BASE,
        groups=(
            check_destination(
                "wecom", http.url("/wecom/send?key=GROUPKEY01"), "zh_CN", name="监督群"
            ),
            check_destination(
                "dingtalk",
                http.url("/dingtalk/robot/send?access_token=DT01"),
                "en",
                secret="SECdingtalk",
                name="english group",
            ),
        ),
        smtp=SmtpSettings(host="127.0.0.1", port=smtp.port, sender="triage@district.example"),
        policy=queue.Policy(max_attempts=3, base_s=10, cap_s=60),
        loop=LoopSettings(auto_issue=auto_issue, draft_at="18:00"),
        settle_s=60,
    )


def wecom(http: HttpReceiver, key: str) -> list[str]:
    return [h.json()["markdown"]["content"] for h in http.taken()
            if h.path.startswith("/wecom") and h.query.get("key") == key]  # fmt: skip


def test_the_day_reaches_clinics_and_groups_once(
    engine: Engine, http: HttpReceiver, smtp: SmtpReceiver
) -> None:
    registry(engine, http)
    clock = Clock(at(17, 59))
    w = Worker(engine, settings(http, smtp, auto_issue=True), TZ, "zh_CN", name="w1", clock=clock)
    assert w.tick().drafted is None  # before draft_at: nothing
    clock.now = at(18, 5)
    t1 = w.tick()
    assert t1.drafted == DAY
    assert t1.drafts == 2
    with engine.connect() as conn:
        issued = notices_of_day(conn, DAY)
    numbers = {n.site: n.number for n in issued}
    assert set(numbers) == {"clinic-001", "clinic-002"}
    # the clinics' own notices went at once, each in its recipient's language
    (clinic1,) = wecom(http, "CLINIC1KEY")
    assert numbers["clinic-001"] in clinic1
    assert "阳光社区诊所" in clinic1
    assert f"({BASE}/notice/{numbers['clinic-001']})" in clinic1
    (mail,) = smtp.box
    assert mail["To"] == "clinic1@district.example"
    assert mail["Subject"].startswith(f"Supervision notice {numbers['clinic-001']}")
    html = mail.get_body(preferencelist=("html",))
    assert html is not None
    assert "<html" in html.get_content()
    assert numbers["clinic-001"] in html.get_content()
    (card,) = [h.json() for h in http.taken() if h.path.startswith("/feishu")]
    assert card["msg_type"] == "interactive"
    assert numbers["clinic-002"] in card["card"]["header"]["title"]["content"]
    assert wecom(http, "GROUPKEY01") == []  # the summary waits for the issuing to settle
    clock.now += 61
    t2 = w.tick()
    assert t2.drained.sent == 2
    (group,) = wecom(http, "GROUPKEY01")
    assert group.startswith("**每日通报")
    assert "阳光社区诊所" in group
    assert "康宁门诊部" in group
    for number in numbers.values():
        assert f"[通报 {number}]({BASE}/notice/{number})" in group
    assert f"({BASE}/loop?date={DAY.isoformat()})" in group
    assert len(group.encode()) < 4096
    (ding,) = [h for h in http.taken() if h.path.startswith("/dingtalk")]
    assert ding.json()["markdown"]["title"].startswith("Daily notification")
    assert "sign" in ding.query
    assert "timestamp" in ding.query
    with engine.connect() as conn:
        states = {c.state for c in list_cases(conn)}
    assert states == {"notified"}
    hits = len(http.taken())
    clock.now += 600
    assert w.tick().drained.attempts == 0
    again = Worker(
        engine, settings(http, smtp, auto_issue=True), TZ, "zh_CN", name="w2", clock=clock
    )
    assert again.tick().drained.attempts == 0  # restarted: drafts again, sends nothing twice
    assert len(http.taken()) == hits
    assert len(smtp.box) == 1
    with engine.connect() as conn:
        assert queue.counts(conn) == {"queued": 0, "sending": 0, "sent": 5, "retry": 0, "dead": 0}


def test_manual_issuing_gets_a_summary_and_a_supplement(
    engine: Engine, http: HttpReceiver, smtp: SmtpReceiver
) -> None:
    registry(engine, http)
    s = replace(settings(http, smtp, auto_issue=False), clinic_notices=False)
    clock = Clock(at(18, 0))
    w = Worker(engine, s, TZ, "zh_CN", name="w1", clock=clock)
    assert w.tick().drafts == 2
    clock.now += 3600
    w.tick()
    assert wecom(http, "GROUPKEY01") == []  # drafts only: nothing to tell yet
    with engine.begin() as conn:
        (first,) = issue(
            conn, DAY, s.loop, actor="li", role="officer", sites=["clinic-002"], now=clock.now
        )
    w.tick()
    assert wecom(http, "GROUPKEY01") == []
    clock.now += 61
    w.tick()
    (summary,) = wecom(http, "GROUPKEY01")
    assert first.number in summary
    assert "阳光社区诊所" not in summary
    with engine.begin() as conn:
        (second,) = issue(conn, DAY, s.loop, actor="li", role="officer", now=clock.now)
    clock.now += 61
    w.tick()
    assert len(wecom(http, "GROUPKEY01")) == 2
    supplement = wecom(http, "GROUPKEY01")[1]
    assert "\uff08补充通报 1\uff09" in supplement.splitlines()[0]
    assert second.number in supplement
    assert first.number not in supplement


def test_a_closed_clinic_admitting_patients_is_an_alert(
    engine: Engine, http: HttpReceiver, smtp: SmtpReceiver
) -> None:
    registry(engine, http)
    with engine.begin() as conn:
        order_closure(
            conn, "clinic-001", date(2026, 11, 20), "三次通报", actor="li", role="officer"
        )
    s = settings(http, smtp, auto_issue=False)
    clock = Clock(at(12, 0))
    w = Worker(engine, s, TZ, "zh_CN", name="w1", clock=clock)
    w.tick()
    (alert,) = wecom(http, "GROUPKEY01")
    assert "阳光社区诊所" in alert
    assert "责令停业整顿" in alert
    clock.now += 120
    w.tick()
    assert len(wecom(http, "GROUPKEY01")) == 1

"""The whole loop over the scripted district week (tests/central/district_week.py), through every
real part in turn (issue 21 item 10):

1. a private mosquitto and ``triage-central collect`` as a process, into a private PostgreSQL;
2. the six boxes' messages (the agent's own encoder) published at QoS 1 on the box topics, day by
   day, c-02's Will when its connection was lost; the test waits until every one is stored;
3. the registry imported with ``triage-central registry import``; ``triage-central deliver`` as a
   process drafts each evening at 18:00; the officer issues the drafts clinic by clinic and orders
   c-04 to close on Thursday through the dashboard's routes (``triage-central serve``); the
   notices and the groups' summaries and alerts reach real local receivers (WeCom, Feishu and
   DingTalk robots over HTTP, e-mail over SMTP), the DingTalk group down on Monday and back on
   Tuesday (Monday's summary retried);
4. the week's outcomes: c-01's third notice summons its leaders, c-04's desk seen busy while
   ordered to close raises "order not kept", c-03's case is verified automatically, c-05's fevers
   are never a problem, the unregistered desk x-99 gets a notice under its id;
5. the dashboard in real Chromium, signed in as the district officer, in Chinese and English.

The collector, the dashboard and the worker run under libfaketime (tests/test_clock_faketime.py)
with wall clocks the test steps through the week: the district's evenings, and for the collector
the moments the messages arrived; the browser, the broker and the receivers keep the real clock.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from datetime import date, datetime
from pathlib import Path
from typing import TypeVar

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait
from sqlalchemy import Engine, func, select

from agent.wire.contract import WireMessage
from central.accounts import users as accounts
from central.delivery import queue
from central.i18n import translator
from central.loop import cases, escalation, notices
from central.loop.settings import LoopSettings
from central.report.kinds import KINDS
from central.store.db import open_db
from central.store.tables import events
from tests.broker import Broker, free_port
from tests.central.browser import chromium
from tests.central.district_week import DAYS, REGISTRY_CSV, TZ, at, week_messages
from tests.central.receivers import Hit, HttpReceiver, SmtpReceiver
from tests.central.test_accounts import ADMIN, PASSWORD, Client
from tests.central.test_accounts_browser import sign_in
from tests.central.wire import Publisher
from tests.test_clock_faketime import libfaketime
from tools.pgserver import Postgres

pytestmark = [pytest.mark.broker, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]
BASE = "https://triage.district.example"
MON, TUE, WED, THU, FRI, SAT, SUN = DAYS
T = TypeVar("T")
SUMMONED = "The clinic's leaders are summoned to the district office for a talk."
CLOSURE_ALERT = "责令停业整顿未执行\uff1a百草堂诊所"  # the title of the alert, zh_CN


class Clock:
    """A wall clock for child processes under libfaketime: the real one plus an offset that
    :meth:`to` sets (re-read on every call; the monotonic clock is left alone)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.to(time.time())

    def to(self, moment: float) -> None:
        self.path.write_text(f"{round(moment - time.time()):+d}\n")

    def env(self) -> dict[str, str]:
        return {
            "LD_PRELOAD": libfaketime(),
            "FAKETIME_TIMESTAMP_FILE": str(self.path),
            "FAKETIME_NO_CACHE": "1",
            "FAKETIME_DONT_FAKE_MONOTONIC": "1",
        }


def wait_for(what: str, found: Callable[[], T | None], timeout: float = 30) -> T:
    deadline = time.monotonic() + timeout
    while True:
        got = found()
        if got:
            return got
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


@contextmanager
def process(args: list[str], log: Path, env: dict[str, str]) -> Iterator[subprocess.Popen[bytes]]:
    """``triage-central ARGS`` as a child process while the block runs (SIGTERM at the end)."""
    with log.open("ab") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "central", *args], cwd=REPO, stdout=out,
            stderr=subprocess.STDOUT, env={**os.environ, "PYTHONUNBUFFERED": "1", **env},
        )  # fmt: skip
        try:
            yield proc
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def cli(clock: Clock, *args: str) -> str:
    done = subprocess.run([sys.executable, "-m", "central", *args], cwd=REPO, capture_output=True,
                          text=True, timeout=120, env={**os.environ, **clock.env()})  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


@contextmanager
def dashboard(common: list[str], clock: Clock, log: Path) -> Iterator[str]:
    """``triage-central serve`` on a free port; yields its URL once it answers."""
    port = free_port()
    with process(["serve", *common, "--http-port", str(port)], log, clock.env()):
        url = f"http://127.0.0.1:{port}"
        wait_for("the dashboard", lambda: answers(Client(url)))
        yield url


def answers(client: Client) -> bool:
    try:
        return client.call("/healthz")[0] == 200
    except OSError:  # not listening yet
        return False


def stored(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(events)).scalar_one())


def is_will(msg: WireMessage) -> bool:
    doc = json.loads(msg.payload)
    return bool(doc["kind"] == "status" and doc["state"] == "offline")


def lose_connection(port: int, will: WireMessage) -> None:
    """A box whose connection dies: it registered ``will`` when it connected (as the agent
    does), and mosquitto publishes it when the socket closes without a DISCONNECT."""
    box = mqtt.Client(callback_api_version=CallbackAPIVersion.VERSION2,
                      client_id=f"will-{free_port()}", protocol=mqtt.MQTTv5)  # fmt: skip
    box.will_set(will.topic, will.payload, qos=1, retain=will.retain)
    box.connect("127.0.0.1", port)
    wait_for("the box's connection", lambda: box.loop(0.1) == 0 and box.is_connected())
    sock = box.socket()
    assert isinstance(sock, socket.socket)
    sock.shutdown(socket.SHUT_RDWR)
    sock.close()


def publish_week(engine: Engine, broker: Broker, clock: Clock) -> int:
    """Publish the week as the boxes did, with the collector's clock at the time each batch
    arrived: a day's messages together; Tuesday's up to c-02's lost connection, whose Will the
    broker publishes (its arrival is when the connection was lost), then the rest of the day."""
    batches: list[list[tuple[WireMessage, float]]] = []
    day, closed = None, False
    for msg, received in week_messages():
        d = datetime.fromtimestamp(received, TZ).date()
        if not batches or d != day or closed:
            batches.append([])
        batches[-1].append((msg, received))
        day, closed = d, is_will(msg)
    pub = Publisher(broker.port)
    sent = 0
    try:
        for batch in batches:
            clock.to(max(r for _, r in batch))
            will = batch[-1][0] if is_will(batch[-1][0]) else None
            pub.send([m for m, _ in batch if m is not will])
            if will is not None:
                lose_connection(broker.port, will)
            sent += len(batch)
            wait_for(f"{sent} events stored", lambda n=sent: stored(engine) >= n)  # type: ignore[misc]
    finally:
        pub.close()
    return sent


def registry_csv(path: Path, robot: HttpReceiver) -> Path:
    """The week's registry, c-01 with a WeCom robot and e-mail, c-02 with a Feishu robot."""
    text = REGISTRY_CSV.replace(
        "email:c01@example.cn", f"wecom:{robot.url('/wecom/send?key=C01KEY')}; email:c01@example.cn"
    ).replace("赵社,13900000002,\n", f"赵社,13900000002,feishu:{robot.url('/feishu/hook/C02')}\n")
    path.write_text(text, encoding="utf-8")
    return path


def delivery_toml(path: Path, robot: HttpReceiver, ding: HttpReceiver, smtp: SmtpReceiver) -> Path:
    path.write_text(
        f'base_url = "{BASE}"\npoll_s = 0.3\nsettle_s = 60\n'
        f'[[groups]]\nname = "监督群"\nchannel = "wecom"\nurl = "{robot.url("/wecom/send?key=GROUP")}"\n'
        f'[[groups]]\nname = "district"\nchannel = "dingtalk"\nlanguage = "en"\nsecret = "SECding"\n'
        f'url = "{ding.url("/dingtalk/robot/send?access_token=DT")}"\n'
        '[[groups]]\nchannel = "email"\naddress = "office@district.example"\n'
        f'[smtp]\nhost = "127.0.0.1"\nport = {smtp.port}\nsender = "triage@district.example"\n'
        "[retry]\nmax_attempts = 5\nbase_s = 600\ncap_s = 3600\n"
        '[loop]\ndraft_at = "18:00"\n',
        encoding="utf-8",
    )
    return path


def robot(hits: list[Hit], prefix: str, key: str | None = None) -> list[str]:
    """The Markdown (or card title) of each message a robot got, in its documented format."""
    out = []
    for h in hits:
        if not h.path.startswith(prefix) or (key and key not in h.query.values()):
            continue
        doc = h.json()
        if prefix == "/feishu":
            assert doc["msg_type"] == "interactive"
            out.append(doc["card"]["header"]["title"]["content"])
        elif prefix == "/dingtalk":
            assert doc["msgtype"] == "markdown"
            out.append(doc["markdown"]["title"] + "\n" + doc["markdown"]["text"])
        else:
            assert doc["msgtype"] == "markdown"
            out.append(doc["markdown"]["content"])
    return out


EVERYTHING_SENT = {"queued": 0, "sending": 0, "sent": 3 * 2 + 3 + 7 * 3, "retry": 0, "dead": 0}
"""c-01: 3 notices to its robot and mailbox, c-02: 3 to its robot; 7 messages (5 summaries and 2
closure alerts) to 3 groups."""


def queue_counts(engine: Engine) -> dict[str, int]:
    with engine.connect() as conn:
        return queue.counts(conn)


def summary_with(http: HttpReceiver, numbers: list[str]) -> list[str]:
    group = robot(http.taken(), "/wecom", "GROUP")
    return [m for m in group if all(n in m for n in numbers)]


def retrying(engine: Engine) -> list[queue.Row]:
    with engine.connect() as conn:
        return queue.rows(conn, states=["retry"])


def numbers(engine: Engine, day: date) -> dict[str, str]:
    with engine.connect() as conn:
        return {n.site: n.number for n in notices.notices_of_day(conn, day)}


def test_the_district_week_through_every_real_part(
    tmp_path: Path, mosquitto: Broker, postgres: Postgres
) -> None:
    db = postgres.create_database()
    engine = open_db(db)
    with engine.begin() as conn:
        accounts.add(conn, ADMIN, username="zhou", role="officer", password=PASSWORD)
    received, district = Clock(tmp_path / "received.rc"), Clock(tmp_path / "district.rc")
    common = ["--db", db, "--tz", TZ.key, "--language", "zh_CN"]
    http, ding, smtp = HttpReceiver().start(), HttpReceiver(), SmtpReceiver().start()
    with ExitStack() as stack:
        stack.callback(http.stop)
        stack.callback(ding.stop)
        stack.callback(smtp.stop)
        # 1-2. The collector stores the week as the boxes published it.
        stack.enter_context(process(
            ["collect", *common, "--port", str(mosquitto.port), "--client-id", "district"],
            tmp_path / "collect.log", received.env()))  # fmt: skip
        subscribed = "Received SUBSCRIBE from district"
        wait_for("the collector's subscription", lambda: subscribed in mosquitto.log())
        sent = publish_week(engine, mosquitto, received)
        assert stored(engine) == sent == 188
        # 3. The registry, the dashboard, the worker; the evenings of the week.
        district.to(at(MON, 7))
        csv = registry_csv(tmp_path / "r.csv", http)
        out = cli(district, "registry", *common, "import", str(csv))
        assert "5 clinics read" in out
        url = stack.enter_context(dashboard(common, district, tmp_path / "serve.log"))
        config = delivery_toml(tmp_path / "delivery.toml", http, ding, smtp)
        stack.enter_context(process(["deliver", *common, "--delivery-config", str(config)],
                                    tmp_path / "deliver.log", district.env()))  # fmt: skip
        issued: dict[date, dict[str, str]] = {}
        for d in DAYS[:5]:
            district.to(at(d, 19))
            with engine.connect() as conn:
                drafted = wait_for(f"the drafts of {d}", lambda: notices.drafts(conn, d))  # noqa: B023
            officer = Client(url)  # each evening a new session (yesterday's has expired)
            assert officer.sign_in("zhou") == 303
            token = officer.csrf(f"/loop?date={d}")
            for draft in drafted:
                form = {"date": str(d), "site": draft.site, "csrf_token": token}
                assert officer.call("/loop/issue", form)[0] == 303, draft.site
            if d == THU:
                form = {"starts": str(THU), "reason": "三次通报仍未整改", "csrf_token": token}
                assert officer.call("/clinic/c-04/closure", form)[0] == 303
            issued[d] = numbers(engine, d)
            assert set(issued[d]) == {x.site for x in drafted}
            district.to(at(d, 19, 5))  # the issuing settled: the groups' summary
            wanted = list(issued[d].values())
            wait_for(f"the summary of {d}", lambda: summary_with(http, wanted))  # noqa: B023
            if d == MON:  # DingTalk down on Monday, back on Tuesday: Monday's summary is retried
                (failed,) = wait_for("the DingTalk summary to fail", lambda: retrying(engine))
                assert failed.channel == "dingtalk"
                assert "cannot reach the receiver" in (failed.last_error or "")
                ding.start()
        district.to(at(SAT, 19))
        # Saturday: no problem, but c-04's desk is busy again; then everything has been sent.
        wait_for("every delivery sent", lambda: queue_counts(engine) == EVERYTHING_SENT)
        assert_deliveries(engine, issued, http, ding, smtp)
        assert_outcomes(engine, issued)
        # 5. Sunday morning, the officer looks back on the week, in Chinese and in English.
        district.to(at(SUN, 10))
        english = [*common[:-1], "en"]
        url_en = stack.enter_context(dashboard(english, district, tmp_path / "serve-en.log"))
        assert_pages({"zh_CN": url, "en": url_en}, issued)


def assert_deliveries(
    engine: Engine, issued: dict[date, dict[str, str]], http: HttpReceiver, ding: HttpReceiver,
    smtp: SmtpReceiver,
) -> None:  # fmt: skip
    """Each clinic's notices reached its robot and mailbox; each evening's summary and each
    closure alert reached the groups (DingTalk signed and in English; Monday's retried)."""
    of = {site: [issued[d][site] for d in sorted(issued) if site in issued[d]]
          for site in ("c-01", "c-02")}  # fmt: skip
    c01 = robot(http.taken(), "/wecom", "C01KEY")
    assert [m.split("**")[1] for m in c01] == [f"监督意见通知 {n}" for n in of["c-01"]]
    assert all("诊所: **阳光诊所 (c-01)**" in m for m in c01)
    assert "该诊所30天内第3次被通报" in c01[2]
    assert "约谈诊所主要负责同志" in c01[2]
    assert "约谈" not in c01[0] + c01[1]
    c02 = robot(http.taken(), "/feishu")
    assert c02 == [f"监督意见通知 {n} · 仁和门诊部" for n in of["c-02"]]
    group = robot(http.taken(), "/wecom", "GROUP")
    summaries = [m for m in group if m.startswith("**每日通报")]
    alerts = [m for m in group if m.startswith(f"**{CLOSURE_ALERT}**")]
    assert len(summaries) == 5
    assert len(alerts) == 2
    assert "2026年11月27日" in alerts[0]
    assert "2026年11月28日" in alerts[1]
    for d, text in zip(sorted(issued), summaries, strict=True):
        assert f"**每日通报 {d.year}年{d.month}月{d.day}日" in text
        for site, number in issued[d].items():
            assert f"[通报 {number}]({BASE}/notice/{number})" in text, (site, text)
    assert "1. 阳光诊所 · [通报 2026-0001]" in summaries[0]
    assert "5. x-99 · [通报 2026-0005]" in summaries[0]  # not registered: named by its id
    assert "约谈" in summaries[4]  # Friday: c-01's third notice
    assert not any("安心诊所" in m for m in group)  # c-05's fevers are no problem
    signed = ding.taken()
    assert all({"timestamp", "sign"} <= set(h.query) for h in signed)
    titles = [m.splitlines()[0] for m in robot(signed, "/dingtalk")]
    assert titles[0] == "Daily notification November 23, 2026 Monday"
    assert titles.count("Closure order not kept: 百草堂诊所") == 2
    assert len(titles) == 7
    with engine.connect() as conn:
        rows = queue.rows(conn, limit=100)
    (retried,) = [r for r in rows if r.attempts > 1]
    assert (retried.channel, retried.kind, retried.day, retried.attempts) == (
        "dingtalk", "summary", str(MON), 2)  # fmt: skip
    mails = [(m["To"], str(m["Subject"])) for m in smtp.box]
    assert [s for to, s in mails if to == "c01@example.cn"] == [
        f"监督意见通知 {n} · 阳光诊所" for n in of["c-01"]
    ]
    office = [s for to, s in mails if to == "office@district.example"]
    assert office.count(CLOSURE_ALERT) == 2
    assert len(office) == 7
    for m in smtp.box:
        body = m.get_body(preferencelist=("html", "plain"))
        assert body is not None
        text = body.get_content()
        if m["To"] == "c01@example.cn":  # the full notice, as HTML
            assert "<html" in text
            assert "阳光诊所" in text
        elif "每日通报" in str(m["Subject"]):
            assert "阳光诊所" in text or "仁和门诊部" in text
        else:
            assert "百草堂诊所" in text


def assert_outcomes(engine: Engine, issued: dict[date, dict[str, str]]) -> None:
    """What the week came to: escalation, the closure not kept, automatic verification, no
    problem from fevers, the unknown desk flagged."""
    assert {d: set(s) for d, s in issued.items()} == {
        MON: {"c-01", "c-02", "c-03", "c-04", "x-99"}, TUE: {"c-02"}, WED: {"c-01"},
        THU: {"c-02"}, FRI: {"c-01"},
    }  # fmt: skip
    settings = LoopSettings()
    with engine.connect() as conn:
        standing = {s.site: s for s in escalation.standing(conn, SAT, settings)}
        third = notices.notice(conn, issued[FRI]["c-01"])
        lost = notices.notice(conn, issued[TUE]["c-02"])
        unknown = notices.notice(conn, issued[MON]["x-99"])
        breaches = escalation.closure_breaches(conn, MON, SUN)
        (order,) = escalation.closure_orders_of(conn, ["c-04"])
        c03 = cases.list_cases(conn, sites=["c-03"])
        drafted = {x.site for d in DAYS for x in notices.drafts(conn, d)}
        fevers = conn.execute(select(func.count()).select_from(events).where(
            events.c.site == "c-05", events.c.kind == "temperature")).scalar_one()  # fmt: skip
    assert {s: v.notices for s, v in standing.items()} == {
        "c-01": 3, "c-02": 3, "c-03": 1, "c-04": 1, "x-99": 1}  # fmt: skip
    assert standing["c-01"].summoned
    assert third is not None
    assert (third.summoned, third.notices_in_window, third.kinds) == (True, 3, ("crowding",))
    assert lost is not None
    (offline,) = lost.problems
    assert offline.alert == "offline"
    assert offline.duration_s == pytest.approx(40 * 60, abs=60)  # the Will's arrival to online
    assert (order.starts, order.ordered_by) == (THU, "zhou")
    assert [(b.site, b.day, b.arrivals, b.screened) for b in breaches] == [
        ("c-04", FRI, 5, 4), ("c-04", SAT, 5, 4)]  # fmt: skip
    assert [(c.kind, c.state, c.verified_how) for c in c03] == [
        ("crowding", "verified", "automatic")]  # fmt: skip
    assert "c-05" not in drafted
    assert fevers == 6 * 4  # three normal screenings and a fever a day, stored
    assert unknown is not None
    assert unknown.clinic_name == "x-99"


def assert_pages(urls: dict[str, str], issued: dict[date, dict[str, str]]) -> None:
    """The week, c-01's and c-04's clinic pages, c-01's third notice and Monday's loop page in
    Chromium, signed in as the officer, on the Chinese dashboard and on an English one."""
    third, week = issued[FRI]["c-01"], [n for d in sorted(issued) for n in issued[d].values()]
    with chromium() as browser:
        for language, url in urls.items():
            t = translator(language)
            kind = {k.key: t.gettext(k.label) for k in KINDS}
            browser.get(url + "/login")
            sign_in(browser, url, "zhou")
            WebDriverWait(browser, 15).until(lambda b: not b.current_url.endswith("/login"))

            def page(path: str) -> str:
                browser.get(url + path)  # noqa: B023
                return str(browser.find_element(By.TAG_NAME, "main").text)

            text = page("/week?week=2026-W48")
            assert all(n in text for n in week), text
            lines = {line.split(" ", 1)[0]: line for line in text.splitlines()}
            assert "c-01 阳光诊所" in lines[third]
            assert t.gettext("Leaders summoned") in lines[third]
            assert "x-99" in lines[issued[MON]["x-99"]]
            assert "c-04 百草堂诊所" in text  # its running closure order
            assert all(kind[k] in text for k in ("not_working", "staff", "crowding", "unmasked"))
            text = page("/clinic/c-01/loop")
            assert text.startswith("阳光诊所 c-01")
            assert t.gettext("Notices within %(days)d days: %(n)d") % {"days": 30, "n": 3} in text
            assert t.gettext("Leaders summoned") in text
            assert all(issued[d]["c-01"] in text for d in (MON, WED, FRI))
            assert all(kind[k] in text for k in ("staff", "crowding", "unmasked"))
            text = page("/clinic/c-04/loop")
            assert t.gettext("Ordered to close, but the desks see people") in text
            seen = f"{t.gettext('arrivals')} 5 · {t.gettext('screened')} 4"
            assert text.count(seen) == 2, text
            text = page(f"/notice/{third}")
            assert f"{t.gettext('Supervision notice')} {third}" in text
            assert "阳光诊所 (c-01)" in text
            assert kind["crowding"] in text
            assert t.gettext(SUMMONED) in text
            text = page(f"/loop?date={MON}")
            unknown = text.split(t.gettext("Desks of clinics not in the registry"), 1)[1]
            assert unknown.split("\n")[1] == "x-99"
            assert "安心诊所" not in text

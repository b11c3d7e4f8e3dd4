"""What ``make central`` adds to the live chain so that a newcomer sees the product at work.

- :func:`scripted_day`: a second desk of the demo clinic (``demo-clinic/desk-2``) over one opening
  day, encoded by the agent's own contract encoder and published to the broker as a box with a
  backlog would publish it: a believable arrival rate (one patient every few minutes, a lull at
  lunch, about 100 screenings) and a few problems of each of the district's four kinds.
- :class:`Receiver`: a tiny local HTTP receiver that answers as a WeCom group robot and records
  every message in ``receiver.jsonl``.
- :func:`close_day`: what the district does the morning after: the day's notices drafted and
  issued (``triage-central notices draft|issue``), delivered to the receiver
  (``triage-central deliver --once``), and one case followed to verification (the clinic reports
  its rectification, the officer verifies it: :mod:`central.loop.cases`).
"""

from __future__ import annotations

import json
import random
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from zoneinfo import ZoneInfo

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from agent.flow.events import (
    AlertEvent,
    AvailabilityEvent,
    Event,
    MaskCause,
    OccupancyEvent,
    SummaryEvent,
    TemperatureEvent,
)
from agent.wire.contract import Identity, WireMessage, encode
from central.loop import cases
from central.store.db import open_db

PREFIX = "triage/v1"
SITE, DESK = "demo-clinic", "desk-2"

PROBLEMS: tuple[tuple[str, tuple[int, int], int, float], ...] = (
    # (alert, (hh, mm) raised, minutes until cleared, value)
    ("staff_unmasked", (9, 12), 14, 840.0),
    ("camera_covered", (10, 5), 17, 0.97),
    ("crowding", (10, 35), 20, 9.0),
    ("unmasked", (11, 2), 9, 45.0),
    ("desk_unattended", (12, 50), 25, 3.0),
    ("staff_unmasked", (14, 40), 11, 660.0),
    ("crowding", (15, 10), 15, 8.0),
    ("unmasked", (16, 5), 6, 30.0),
)
"""The scripted desk's problems: two of each kind (not working: the camera covered, the desk left
unattended)."""
WORN_WRONG = {("unmasked", (16, 5)), ("staff_unmasked", (14, 40))}
"""The mask problems raised for a mask worn wrong (``cause``); the others for no mask."""


def _cause(alert: str, hm: tuple[int, int]) -> MaskCause | None:
    """A mask alert's cause (see :data:`WORN_WRONG`); None for other alerts."""
    if alert not in ("unmasked", "staff_unmasked"):
        return None
    return "worn_wrong" if (alert, hm) in WORN_WRONG else "no_mask"


def _at(day: date, tz: ZoneInfo, hh: int, mm: int, ss: int = 0) -> float:
    return datetime(day.year, day.month, day.day, hh, mm, ss, tzinfo=tz).timestamp()


def _events(day: date, tz: ZoneInfo, rng: random.Random) -> Iterator[Event]:
    opens, closes = _at(day, tz, 8, 0), _at(day, tz, 17, 0)
    yield AvailabilityEvent(at=opens - 300, state="online", reason=None, health_every_s=None)
    crowded = {
        _at(day, tz, *hm) for alert, hm, _, _ in PROBLEMS if alert == "crowding"
    }  # fmt: skip
    t, hour_start, screened, fevers, people, peak = opens, opens, 0, 0, 0, 0
    alerts_in_hour: dict[str, int] = {}
    pending = sorted(
        (
            (_at(day, tz, *hm), alert, i, mins, value, _cause(alert, hm))
            for i, (alert, hm, mins, value) in enumerate(PROBLEMS)
        ),
        key=lambda p: p[0],
    )
    clears: list[tuple[float, str, str]] = []
    while t < closes:
        lunch = _at(day, tz, 12, 0) <= t < _at(day, tz, 13, 30)
        t += rng.uniform(4, 14) * 60 if lunch else rng.uniform(2, 7) * 60
        while hour_start + 3600 <= min(t, closes):
            hour_start += 3600
            yield SummaryEvent(at=hour_start, window_s=3600.0, screened=screened, fevers=fevers,
                               invalid=0, people=people, mask_violations=alerts_in_hour.get(
                                   "unmasked", 0), max_occupancy=peak,
                               alerts=dict(alerts_in_hour))  # fmt: skip
            screened, fevers, people, peak, alerts_in_hour = 0, 0, 0, 0, {}
        for when, alert, i, mins, value, cause in [p for p in pending if p[0] <= t]:
            pending.remove((when, alert, i, mins, value, cause))
            aid = f"d2{i:06d}"
            if when in crowded:
                yield OccupancyEvent(at=when - 30, count=int(value), max=int(value), limit=5)
            yield AlertEvent(at=when, alert=alert, state="raised", alert_id=aid,
                             message=f"{alert} raised", value=value, cause=cause)  # fmt: skip
            alerts_in_hour[alert] = alerts_in_hour.get(alert, 0) + 1
            clears.append((when + mins * 60, alert, aid))
        for c in [c for c in clears if c[0] <= t]:
            clears.remove(c)
            yield AlertEvent(at=c[0], alert=c[1], state="cleared", alert_id=c[2],
                             message=f"{c[1]} cleared")  # fmt: skip
        if t >= closes:
            break
        fever = rng.random() < 0.03
        estimate = round(rng.uniform(37.6, 38.6) if fever else rng.uniform(36.1, 37.0), 1)
        yield TemperatureEvent(at=t, result="fever" if fever else "normal",
                               object_c=round(estimate - 2.2, 1), ambient_c=24.0,
                               estimate_c=estimate, threshold_c=37.3, plateau_s=1.1,
                               samples=11)  # fmt: skip
        screened, fevers, people = screened + 1, fevers + fever, people + 1
        waiting = rng.choice((1, 1, 2, 2, 3, 4))
        peak = max(peak, waiting)
        if screened % 3 == 0:
            yield OccupancyEvent(at=t + 5, count=waiting, max=waiting, limit=5)
    for c in clears:
        yield AlertEvent(at=c[0], alert=c[1], state="cleared", alert_id=c[2],
                         message=f"{c[1]} cleared")  # fmt: skip
    yield AvailabilityEvent(at=closes + 600, state="stopping", reason=None, health_every_s=None)
    yield AvailabilityEvent(at=closes + 601, state="offline", reason="stopped", health_every_s=None)


def scripted_day(day: date, tz: ZoneInfo, seed: int = 7) -> list[WireMessage]:
    """The wire messages of ``demo-clinic/desk-2`` over ``day`` (08:00-17:00 in ``tz``), in time
    order with consecutive seq numbers."""
    ident = Identity(PREFIX, SITE, DESK, f"{SITE}-{DESK}")
    events = sorted(_events(day, tz, random.Random(seed)), key=lambda e: e.at)
    return [encode(e, ident, i + 1) for i, e in enumerate(events)]


def publish(port: int, messages: list[WireMessage], timeout: float = 30) -> None:
    """Publish ``messages`` (QoS 1) to the broker on 127.0.0.1:``port``; waits for every PUBACK."""
    client = mqtt.Client(callback_api_version=CallbackAPIVersion.VERSION2,
                         client_id="make-central-desk-2", protocol=mqtt.MQTTv5)  # fmt: skip
    client.max_inflight_messages_set(100)
    client.max_queued_messages_set(0)
    client.connect("127.0.0.1", port)
    client.loop_start()
    try:
        infos = [client.publish(m.topic, m.payload, qos=1, retain=m.retain) for m in messages]
        for info in infos:
            info.wait_for_publish(timeout)
    finally:
        client.disconnect()
        client.loop_stop()


@dataclass
class Receiver:
    """A local WeCom group robot: records every POST (path and JSON body) in ``log``, one JSON
    line each, and answers ``{"errcode": 0, "errmsg": "ok"}``."""

    log: Path
    port: int = 0
    _server: ThreadingHTTPServer | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/cgi-bin/webhook/send?key=make-central-demo"

    def start(self) -> Receiver:
        rec = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", "0")))
                try:
                    doc = json.loads(body)
                except ValueError:
                    doc = body.decode(errors="replace")
                with rec._lock, rec.log.open("a", encoding="utf-8") as out:
                    out.write(json.dumps({"path": self.path, "body": doc}, ensure_ascii=False))
                    out.write("\n")
                reply = b'{"errcode": 0, "errmsg": "ok"}'
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.port = int(self._server.server_address[1])
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()


@dataclass(frozen=True)
class ClosedDay:
    """What :func:`close_day` did: the notices issued, and the case followed to verification."""

    notices: list[str]
    case_id: int | None
    output: str


def _central(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "central", *args], capture_output=True,
                          text=True, check=False, timeout=120)  # fmt: skip


def close_day(
    run: Path, db: str, tz: str, language: str, day: date, base_url: str, receiver: Receiver
) -> ClosedDay:
    """Draft and issue ``day``'s notices, deliver them once to ``receiver``, then report and verify
    the rectification of the first case."""
    cfg = run / "delivery.toml"
    cfg.write_text(
        f'base_url = "{base_url.rstrip("/")}"\nsettle_s = 0\n'
        f'[[groups]]\nname = "demo"\nchannel = "wecom"\nurl = "{receiver.url()}"\n'
        f'language = "{language}"\n'
    )
    common = ["--db", db, "--tz", tz, "--language", language]
    out: list[str] = []
    notices: list[str] = []
    for step in (
        ["notices", *common, "draft", "--date", day.isoformat()],
        ["notices", *common, "issue", "--date", day.isoformat()],
        ["deliver", *common, "--delivery-config", str(cfg), "--once"],
    ):
        r = _central(*step)
        out.append(f"$ triage-central {' '.join(step)}\n{r.stdout}{r.stderr}")
        if "issue" in step:
            notices = [line.split("\t")[0] for line in r.stdout.splitlines() if "\t" in line]
    engine = open_db(db)
    case_id = None
    with engine.begin() as conn:
        found = cases.list_cases(conn, sites=[SITE]) if notices else []
        if found:
            c = cases.report(conn, found[0].id, "已补发口罩并重新培训值班人员。",
                             actor="clinic-demo", role="clinic")  # fmt: skip
            c = cases.verify(conn, c.id, actor="officer-demo", role="officer",
                             note="复查录像后确认整改到位。")  # fmt: skip
            case_id = c.id
    engine.dispose()
    return ClosedDay(notices, case_id, "".join(out))

"""A scripted clinic day, encoded by the agent's own contract encoder and stored as the collector
stores it: the known truth the report tests check against (times are Africa/Nairobi, UTC+3)."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import Engine

from agent.flow.events import Event
from agent.wire.contract import WireMessage, encode, iso_ms
from central.store.records import Row, to_row
from central.store.writer import store
from tests.central.wire import PREFIX, alert, identity, occupancy, status, summary, temperature

TZ = ZoneInfo("Africa/Nairobi")
DAY = date(2026, 11, 23)  # a Monday: ISO week 2026-W48


def at(hh: int, mm: int, ss: int = 0, d: date = DAY) -> float:
    return datetime(d.year, d.month, d.day, hh, mm, ss, tzinfo=TZ).timestamp()


@dataclass
class Box:
    """One desk publishing in seq order; ``skip`` loses the next event (evicted, never delivered).
    ``sent``: each message :meth:`row` made, with the time the collector received it."""

    site: str
    desk: str
    seq: int = 1
    sent: list[tuple[WireMessage, float]] = field(default_factory=list)

    def wire(self, event: Event) -> WireMessage:
        msg = encode(event, identity(self.site, self.desk), self.seq)
        self.seq += 1
        return msg

    def raw(self, at_ts: float, fields: dict[str, object]) -> Row:
        """An event with fields other engineers are adding to the contract (zones, families)."""
        doc = {"v": 1, "id": uuid.uuid4().hex, "seq": self.seq, "ts": iso_ms(at_ts),
               "device": f"{self.site}-{self.desk}", **fields}  # fmt: skip
        self.seq += 1
        topic = f"{PREFIX}/{self.site}/{self.desk}/{fields['kind']}"
        return to_row(PREFIX, topic, json.dumps(doc).encode(), at_ts)

    def row(self, event: Event, received: float | None = None) -> Row:
        msg = self.wire(event)
        self.sent.append((msg, received if received else event.at))
        return to_row(PREFIX, msg.topic, msg.payload, self.sent[-1][1])


def store_day(engine: Engine) -> None:
    """Two desks of clinic-001 and one of clinic-002 over 2026-11-16 and 2026-11-23."""
    d1, d2, c2 = (
        Box("clinic-001", "desk-1"),
        Box("clinic-001", "desk-2"),
        Box("clinic-002", "desk-1"),
    )
    last_week = date(2026, 11, 16)
    rows: list[Row] = [d1.row(temperature(at(9, i, d=last_week))) for i in range(3)]
    rows.append(c2.row(temperature(at(9, 0, d=last_week), "fever", 38.0)))
    rows.append(d1.row(status(at(7, 55), "online")))
    will = d1.row(status(at(7, 55), "offline"), received=at(12, 0))  # the Will: ts = start
    rows += [d1.row(temperature(at(8, i + 1))) for i in range(5)]
    rows.append(d1.row(occupancy(at(8, 30), 3, 3, people=4)))
    rows.append(d1.row(summary(at(9, 0), 3600.0, screened=5, people=4, max_occupancy=3)))
    rows.append(d1.row(temperature(at(9, 10), "fever", 38.4)))
    rows.append(d1.row(alert(at(9, 10), "fever", "raised", "f0000001", 38.4)))
    rows.append(d1.row(alert(at(9, 11), "fever", "cleared", "f0000001")))
    rows.append(d1.row(temperature(at(9, 20), "invalid", 31.0)))
    # A box before issue 11 counts invalid readings in `screened`: 2 here, 1 valid.
    rows.append(
        d1.row(summary(at(10, 0), 3600.0, screened=2, fevers=1, invalid=1, alerts={"fever": 1}))
    )
    rows.append(d1.row(occupancy(at(10, 0, 30), 8, 8)))
    rows.append(d1.row(alert(at(10, 1), "crowding", "raised", "c0000001", 8)))
    rows.append(d1.row(alert(at(10, 26), "crowding", "cleared", "c0000001")))
    rows.append(will)
    rows.append(d1.row(status(at(12, 30), "online")))
    rows.append(d1.row(alert(at(16, 30), "unmasked", "raised", "u0000001", 45)))
    # desk-2: a problem left open yesterday, a fever summary with one screening never delivered.
    rows.append(
        d2.row(alert(at(17, 0, d=date(2026, 11, 22)), "unmasked", "raised", "a0000002", 30))
    )
    rows.append(d2.row(status(at(7, 50), "online")))
    rows.append(d2.row(temperature(at(8, 1), "fever", 38.9)))
    d2.wire(temperature(at(8, 5)))  # published by the box, never stored
    rows.append(d2.row(temperature(at(8, 10))))
    rows.append(d2.row(alert(at(8, 20), "unmasked", "cleared", "a0000002")))
    rows.append(d2.row(summary(at(9, 0), 3600.0, screened=3, fevers=1, max_occupancy=0)))
    # clinic-002: a box of the current contract, stopped cleanly at 17:00 (stopping, offline+stopped).
    rows.append(c2.row(status(at(7, 0), "online", health_every_s=60)))
    rows += [c2.row(temperature(at(11, i))) for i in range(2)]
    # Its 15-min summary of 11:00-11:15, sent twice under two ids (counted once, higher seq).
    quarter = {"kind": "summary", "window_s": 900.0, "screened": 2, "fevers": 0, "invalid": 0,
               "people": 0, "mask_violations": 0, "max_occupancy": 0, "alerts": {},
               "period": "15min", "date": "2026-11-23", "start": "11:00"}  # fmt: skip
    rows.append(c2.raw(at(11, 15), quarter))
    rows.append(c2.raw(at(11, 15), quarter))
    # clinic-002 desk-2: one screening and the box's day summary, sent just after midnight.
    c22 = Box("clinic-002", "desk-2")
    rows.append(c22.row(temperature(at(14, 0))))
    day = {**quarter, "window_s": 86400.0, "screened": 1, "period": "day", "start": "00:00",
           "minutes": {"desk": 12.5, "crowding": 0, "setup": 3, "offline": 30}}  # fmt: skip
    rows.append(c22.raw(at(0, 0, 0, DAY + timedelta(days=1)), day))
    rows.append(c2.row(status(at(17, 0), "stopping")))
    rows.append(c2.row(status(at(17, 0, 1), "offline", reason="stopped")))
    setup = {"kind": "alert", "alert": "camera_covered", "family": "setup", "alert_id": "cc000001"}
    rows.append(c2.raw(at(11, 30), {**setup, "state": "raised", "message": "Camera covered"}))
    rows.append(c2.raw(at(11, 45), {**setup, "state": "cleared", "message": "Camera clear"}))
    staff = {"kind": "alert", "alert": "staff_unmasked", "zone": "desk", "alert_id": "55000001"}
    rows.append(c2.raw(at(11, 40), {**staff, "state": "raised", "message": "Staff", "value": 40}))
    store(engine, rows)

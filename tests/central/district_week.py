"""A scripted district week for the loop's tests (2026-11-23 Monday to 11-29, Asia/Shanghai):
real contract events (the agent's encoder, tests/central/day_script.Box) stored as the collector
stores them, and a registry of five clinics (one desk each) plus a desk of a clinic not in it.

- ``c-01`` 阳光诊所, the repeat offender: patients without masks Monday, staff without masks
  Wednesday, crowding Friday -> three notices in the window (leaders summoned);
- ``c-02`` 仁和门诊部: the desk left unattended and the camera covered Monday, a lost connection
  of 40 min Tuesday, unattended again Thursday (the Monday case recurred; three notices);
- ``c-03`` 康宁诊所: crowding Monday, then open Tuesday to Saturday without a recurrence
  (verified automatically);
- ``c-04`` 百草堂诊所: a patient without a mask Monday; ordered to close from Thursday, its desk
  still screens and counts arrivals Friday and Saturday (the order is not kept);
- ``c-05`` 安心诊所: a fever every day and nothing else (a fever is no problem);
- ``x-99``: a desk of a clinic nobody registered, with a problem (flagged, never dropped).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import Engine

from agent.wire.contract import WireMessage
from central.store.records import Row
from central.store.writer import store
from tests.central.day_script import Box
from tests.central.wire import alert, occupancy, status, temperature

TZ = ZoneInfo("Asia/Shanghai")
MONDAY = date(2026, 11, 23)
DAYS = [MONDAY + timedelta(days=i) for i in range(7)]

REGISTRY_CSV = (
    "\ufeffsite,name,address,sub_district,community,status,"
    "health_bureau_person,health_bureau_phone,health_bureau_email,"
    "sub_district_person,sub_district_username,community_person,community_phone,recipients\n"
    "c-01,阳光诊所,幸福路1号,东湖街道,花园社区,open,张卫,13800000001,zhang@example.cn,"
    "王街,wang,李社,13900000001,email:c01@example.cn\n"
    "c-02,仁和门诊部,和平路2号,东湖街道,河畔社区,open,张卫,13800000001,zhang@example.cn,"
    "王街,wang,赵社,13900000002,\n"
    "c-03,康宁诊所,建设路3号,西山街道,松林社区,open,张卫,13800000001,,刘街,liu,钱社,,\n"
    "c-04,百草堂诊所,人民路4号,西山街道,松林社区,open,张卫,13800000001,,刘街,liu,钱社,,\n"
    "c-05,安心诊所,解放路5号,西山街道,竹园社区,open,张卫,13800000001,,刘街,liu,孙社,,\n"
)


def at(d: date, hh: int, mm: int = 0) -> float:
    return datetime(d.year, d.month, d.day, hh, mm, tzinfo=TZ).timestamp()


def _open_day(b: Box, d: date, screened: int = 3) -> list[Row]:
    """A desk open 08:00-17:00 with a few normal screenings and arrivals."""
    rows = [b.row(status(at(d, 8), "online"))]
    rows += [b.row(temperature(at(d, 9, i * 7))) for i in range(screened)]
    rows.append(b.row(occupancy(at(d, 10), 2, 3, people=screened + 1)))
    return rows


def _problem(b: Box, d: date, name: str, h0: int, m0: int, h1: int, m1: int, aid: str,
             value: float | None = None) -> list[Row]:  # fmt: skip
    return [
        b.row(alert(at(d, h0, m0), name, "raised", aid, value)),
        b.row(alert(at(d, h1, m1), name, "cleared", aid)),
    ]


def week_rows(boxes: list[Box] | None = None) -> list[Row]:
    """The week's rows; ``boxes``: six fresh boxes (c-01..c-05, x-99) to record what they sent."""
    c1, c2, c3, c4, c5, x = boxes or _boxes()
    mon, tue, wed, thu, fri, sat, _sun = DAYS
    rows: list[Row] = []
    for d in DAYS[:6]:
        for b in (c1, c2, c3, c5):
            rows += _open_day(b, d)
    for d in DAYS[:3]:
        rows += _open_day(c4, d)
    # c-01: three notices in the week, one kind each time.
    rows += _problem(c1, mon, "unmasked", 9, 30, 9, 50, "a1000001", 40)
    rows += _problem(c1, wed, "staff_unmasked", 10, 0, 10, 45, "a1000002", 60)
    rows += _problem(c1, fri, "crowding", 11, 0, 11, 20, "a1000003", 9)
    # c-02: not staffed and the camera covered, then a lost connection (the Will) of 40 min.
    rows += _problem(c2, mon, "desk_unattended", 8, 30, 9, 10, "a2000001", 3)
    rows += _problem(c2, mon, "camera_covered", 14, 0, 14, 30, "a2000002")
    rows.append(c2.row(status(at(tue, 8), "offline"), received=at(tue, 13)))
    rows.append(c2.row(status(at(tue, 13, 40), "online")))
    rows += _problem(c2, thu, "desk_unattended", 8, 20, 8, 50, "a2000003", 2)
    # c-03: crowding once.
    rows += _problem(c3, mon, "crowding", 10, 0, 10, 25, "a3000001", 8)
    # c-04: a patient without a mask Monday; Friday and Saturday people at the closed desk.
    rows += _problem(c4, mon, "unmasked", 15, 0, 15, 20, "a4000001", 30)
    for d in (fri, sat):
        rows += [c4.row(temperature(at(d, 9, i * 5))) for i in range(4)]
        rows.append(c4.row(occupancy(at(d, 10), 3, 3, people=5)))
    # c-05: a fever a day (sent to the fever clinic: no problem).
    for i, d in enumerate(DAYS[:6]):
        rows.append(c5.row(temperature(at(d, 11), "fever", 38.5)))
        rows += _problem(c5, d, "fever", 11, 0, 11, 1, f"a50000{i:02d}", 38.5)
    # x-99: not registered, one problem.
    rows += _open_day(x, mon)
    rows += _problem(x, mon, "staff_unmasked", 9, 0, 9, 30, "a9000001", 50)
    return rows


def _boxes() -> list[Box]:
    return [Box(s, "desk-1") for s in ("c-01", "c-02", "c-03", "c-04", "c-05", "x-99")]


def week_messages() -> list[tuple[WireMessage, float]]:
    """The week as the boxes publish it: every MQTT message with the time the collector received
    it (the event's own time, but for c-02's Will, published by the broker when the connection
    was lost), in the order received."""
    boxes = _boxes()
    week_rows(boxes)
    return sorted((m for b in boxes for m in b.sent), key=lambda m: m[1])


def store_week(engine: Engine) -> None:
    store(engine, week_rows(), tz=TZ.key)


def registry(engine: Engine) -> None:
    """Import the five clinics (as the district's administrator)."""
    from central.loop.registry_edits import import_csv

    with engine.begin() as conn:
        import_csv(conn, REGISTRY_CSV, actor="admin", role="admin")


def run_week(engine: Engine, settings: object, days: list[date] | None = None) -> None:
    """Each evening of the week: draft the day's notices and issue them all (officer ``zhou``)."""
    from central.loop.notices import draft_day, issue
    from central.loop.settings import LoopSettings

    assert isinstance(settings, LoopSettings)
    for d in days or DAYS[:6]:
        draft_day(engine, d, TZ, settings, actor="zhou", role="officer", now=at(d, 20))
        with engine.begin() as conn:
            issue(conn, d, settings, actor="zhou", role="officer", now=at(d, 20, 5))

"""The daily notification's cross-check against a box's clock-aligned day summary (issue 11)."""

from __future__ import annotations

from datetime import date
from typing import Any
from zoneinfo import ZoneInfo

from agent.flow.events import AlertEvent, SummaryEvent, TemperatureEvent
from agent.wire.contract import Identity, envelope
from central.report.counts import COUNTED_KINDS
from central.report.daily import check
from central.report.days import day_window
from central.store.reader import Stored

TZ = ZoneInfo("Africa/Nairobi")
DAY = date(2026, 11, 24)
WINDOW = day_window(DAY, TZ)
ID = Identity("triage/v1", "clinic-7", "desk-1", "clinic-7-desk-1")


def stored(event: Any, seq: int) -> Stored:
    doc = envelope(event, ID, seq)
    return Stored(
        site=ID.site,
        desk=ID.desk,
        kind=event.kind,
        seq=seq,
        ts=event.at,
        received=event.at,
        alert=doc.get("alert"),
        state=doc.get("state"),
        alert_id=doc.get("alert_id"),
        doc=doc,
    )


def day_events() -> list[Stored]:
    t = WINDOW.start + 9 * 3600
    events: list[Any] = [
        TemperatureEvent(t, "normal", 36.5, 24.0, 36.5, 37.3, 1.0, 9),
        TemperatureEvent(t + 60, "fever", 38.5, 24.0, 38.5, 37.3, 1.0, 9),
        TemperatureEvent(t + 120, "invalid", 30.0, 24.0, 30.0, 37.3, 1.0, 9),
        AlertEvent(t + 60, "fever", "raised", "a" * 32, "m"),
        AlertEvent(t + 70, "fever", "cleared", "a" * 32, "m"),
        AlertEvent(t + 300, "camera_covered", "raised", "b" * 32, "m"),
        AlertEvent(t + 900, "camera_covered", "cleared", "b" * 32, "m"),
    ]
    return [stored(e, i + 1) for i, e in enumerate(events)]


def day_summary(**fields: Any) -> Stored:
    base: dict[str, Any] = {
        "at": WINDOW.end,
        "window_s": WINDOW.end - WINDOW.start,
        "screened": 2,
        "fevers": 1,
        "invalid": 1,
        "people": 0,
        "mask_violations": 0,
        "max_occupancy": 0,
        "alerts": {"fever": 1},
        "period": "day",
        "date": DAY.isoformat(),
        "start": "00:00",
        "minutes": {"desk": 0.0, "crowding": 0.0, "setup": 10.0, "offline": 0.0},
    }
    base.update(fields)
    return stored(SummaryEvent(**base), 100)


def test_a_clock_aligned_day_summary_matches_the_stored_events() -> None:
    counted = [e for e in day_events() if e.kind in COUNTED_KINDS]
    result = check(DAY, WINDOW, counted, [day_summary()], [])
    assert result is not None
    assert result.differences == ()  # setup alerts are minutes in the summary, not counts
    assert result.box["screened"] == result.stored["screened"] == 2  # valid results only


def test_a_day_summary_that_lost_a_count_is_reported() -> None:
    counted = [e for e in day_events() if e.kind in COUNTED_KINDS]
    result = check(DAY, WINDOW, counted, [day_summary(fevers=0)], [])
    assert result is not None
    assert result.differences == ("fevers: box counted 0, stored 1",)

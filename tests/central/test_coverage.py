"""Screening coverage on the district side (central/store/coverage.py): old and new summaries and
the new ``coverage`` kind are collected and kept whole, a desk's day coverage read from them."""

from __future__ import annotations

import json
from typing import Any

from agent.flow.events import CoverageEvent, SummaryEvent
from agent.wire.contract import Identity, encode
from central.store.coverage import Coverage, day_coverage, of_summary
from central.store.records import to_row

ID = Identity("triage/v1", "clinic-7", "desk-1", "clinic-7-desk-1")
AT = 1_795_000_000.0


def summary(period: str, start: str, seq: int, **facts: Any) -> dict[str, Any]:
    event = SummaryEvent(
        AT, 900.0, 10, 0, 0, 12, 0, 3, period=period, date="2026-11-18", start=start, **facts
    )
    msg = encode(event, ID, seq=seq)
    row = to_row("triage/v1", msg.topic, msg.payload, AT + 1)  # what the collector stores
    doc: dict[str, Any] = json.loads(row.payload)
    return doc


def test_new_summary_fields_and_the_coverage_kind_are_kept_whole() -> None:
    doc = summary("15min", "10:00", 5, arrivals_screened=9, arrivals_unscreened=3, scans=7)
    assert (doc["arrivals_screened"], doc["arrivals_unscreened"], doc["scans"]) == (9, 3, 7)
    old = summary("15min", "10:15", 6)
    assert not {"arrivals_screened", "arrivals_unscreened", "scans"} & set(old)
    msg = encode(CoverageEvent(AT, 60.0, 2, 1, 0, 4), ID, seq=8)
    row = to_row("triage/v1", msg.topic, msg.payload, AT + 1)
    assert row.kind == "coverage"
    assert json.loads(row.payload)["scans"] == 4


def test_a_day_reads_the_day_summary_else_the_periods_so_far() -> None:
    periods = [
        summary("15min", "10:00", 5, arrivals_screened=9, arrivals_unscreened=3),
        summary("15min", "10:00", 7, arrivals_screened=9, arrivals_unscreened=3),  # same period
        summary("15min", "10:15", 6, arrivals_screened=1, arrivals_unscreened=0, scans=2),
        summary("15min", "10:30", 8),  # a period before the box had coverage
    ]
    during = day_coverage(periods, "2026-11-18")
    assert during == Coverage(10, 3, 2)
    assert during.percent == 76.9
    day = summary("day", "00:00", 99, arrivals_screened=40, arrivals_unscreened=10, scans=30)
    final = day_coverage([*periods, day], "2026-11-18")
    assert (final.screened, final.unscreened, final.scans, final.percent) == (40, 10, 30, 80.0)
    assert day_coverage(periods, "2026-11-19") == Coverage()


def test_old_boxes_and_empty_days_have_no_coverage() -> None:
    old = day_coverage([summary("day", "00:00", 3)], "2026-11-18")
    assert (old.arrivals, old.percent) == (None, None)
    nobody = of_summary({"arrivals_screened": 0, "arrivals_unscreened": 0})
    assert (nobody.arrivals, nobody.percent) == (0, None)
    junk = of_summary({"arrivals_screened": -1, "arrivals_unscreened": True, "scans": "9"})
    assert junk == Coverage()
    week = Coverage(10, 0, None) + Coverage(None, None, 3) + Coverage(5, 5, 1)
    assert (week.screened, week.unscreened, week.scans, week.percent) == (15, 5, 4, 75.0)

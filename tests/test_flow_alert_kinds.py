"""Alerts declared once (agent/flow/alert_kinds.py): what derives from the declarations, what is
checked against them, and a made-up alert declared in this test only, followed end to end."""

from __future__ import annotations

import json
import re
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import jsonschema
import pytest

from agent.flow import alert_kinds
from agent.flow.alert_kinds import ALERTS, FAMILIES, MINUTES_GROUPS, AlertKind, AlertRegistry
from agent.flow.alerts import AlertLatch, AlertLatches
from agent.flow.events import AlertEvent, Event, SummaryEvent, TemperatureEvent
from agent.flow.summary import SummaryTally
from agent.wire.contract import Identity, encode, schema
from agent.wire.derived import alert_table, derive_schema
from central.report.daily import daily_report
from central.report.labels import KNOWN, label_for
from central.store.db import open_db
from central.store.records import to_row
from central.store.writer import store
from tests.test_contract import EVENTS_MD, doc_rows, doc_section

ID = Identity("triage/v1", "clinic-042", "desk-1", "clinic-042-desk-1")


def test_the_declarations_of_todays_alerts() -> None:
    """The alerts v1 shipped with, as they were spread over events.py, summary.py and the schemas."""
    setup = ("camera_covered", "camera_dark", "camera_blurred", "camera_moved", "camera_lost")
    expected = {
        "fever": ("screening", True, None),
        "unmasked": ("mask", True, None),
        "crowding": ("occupancy", True, "crowding"),
        "staff_unmasked": ("mask", True, None),
        "desk_unattended": ("setup", False, "desk"),
        **{name: ("setup", False, "setup") for name in (*setup, "thermometer_lost")},
    }
    assert ALERTS.names[: len(expected)] == tuple(expected)  # wire order: the schema's enum order
    for name, (family, counted, minutes) in expected.items():
        k = ALERTS[name]
        assert (k.family, k.counted, k.minutes) == (family, counted, minutes), name
        assert k.label
        assert k.unit
    assert MINUTES_GROUPS == ("desk", "crowding", "setup", "offline")


@pytest.mark.parametrize(
    ("declaration", "error"),
    [
        (("Bad Name", "mask", True, None), "must match"),
        (("q", "mask", True, None), "must match"),
        (("glare", "setup", True, None), "setup alerts are timed"),
        (("masks", "mask", False, None), "setup alerts are timed"),
        (("glare", "setup", False, "nap"), "unknown minutes group"),
        (("glare", "setup", False, "offline"), "unknown minutes group"),
        (("glare", "weather", False, None), "unknown family"),
    ],
)
def test_a_bad_declaration_is_refused(
    declaration: tuple[str, str, bool, str | None], error: str
) -> None:
    name, family, counted, minutes = declaration
    with pytest.raises(ValueError, match=error):
        AlertKind(name, family, "x", "", counted=counted, minutes=minutes)  # type: ignore[arg-type]


def test_an_alert_is_declared_once() -> None:
    with pytest.raises(ValueError, match="unique"):
        ALERTS.extended(ALERTS["fever"])


def test_latches_refuse_an_undeclared_alert() -> None:
    with pytest.raises(KeyError, match="unknown alert 'crowdng'; declared: fever, "):
        AlertLatch("crowdng")
    with pytest.raises(KeyError, match="unknown alert"):
        AlertLatches[str]("queue_long")


def test_events_md_lists_every_declared_alert() -> None:
    text = EVENTS_MD.read_text("utf-8")
    assert alert_table() in text, "paste the output of python -m agent.wire.derived"
    when = doc_rows(doc_section("## Alerts").split("\n### ")[0])  # raised when, cleared when
    assert set(when) - {"alert"} == set(ALERTS.names)
    rows = doc_rows(doc_section("### `alert`"))
    assert re.findall(r"`([a-z_]+)`", rows["alert"][0]) == list(ALERTS.names)
    assert re.findall(r"`([a-z_]+)`", rows["family"][0]) == list(FAMILIES)
    summary = doc_rows(doc_section("### `summary`"))
    assert re.findall(r"`([a-z_]+)` \(", summary["minutes"][2]) == list(MINUTES_GROUPS)


def test_every_declared_alert_has_a_label_in_central() -> None:
    missing = [k.name for k in ALERTS if k.name not in KNOWN]
    assert missing == [], "add them to central/report/labels.py KNOWN"


# -- a made-up alert, declared here only -----------------------------------------------------------
QUEUE_LONG = AlertKind(
    "queue_long", "occupancy", "Queue too long", "patients waiting", counted=True, minutes=None
)
GLARE = AlertKind(
    "screen_glare", "setup", "Glare on the view", "% of the view", counted=False, minutes="setup"
)
TZ = "Africa/Nairobi"
DAY = date(2026, 11, 24)


def test_a_new_alert_flows_from_its_declaration_to_the_district_report(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Declared -> raised by a latch -> encoded -> valid against the derived schema -> counted
    (or timed) in the summary -> read by central's report as a problem, labelled from its name,
    with the day's check matching the box's counts."""
    registry: AlertRegistry = ALERTS.extended(QUEUE_LONG, GLARE)
    monkeypatch.setattr(alert_kinds, "ALERTS", registry)
    alert_schema = derive_schema("alert", alerts=registry)
    summary_schema = derive_schema("summary", alerts=registry)
    assert alert_schema["properties"]["alert"]["enum"][-2:] == ["queue_long", "screen_glare"]

    t0 = datetime(2026, 11, 24, 9, 0, tzinfo=ZoneInfo(TZ)).timestamp()
    queue = AlertLatch("queue_long", raise_after_s=5.0, clear_after_s=2.0)
    glare = AlertLatch("screen_glare", raise_after_s=10.0, clear_after_s=2.0)
    tally = SummaryTally(900, TZ, t0)
    events: list[Event] = [TemperatureEvent(t0 + 1, "normal", 34.5, 24.0, 36.6, 37.3, 1.0, 9)]
    for second in range(0, 600):
        at = t0 + second
        for latch, held in ((queue, 10 <= second < 70), (glare, 100 <= second < 400)):
            change = latch.update(held, at)
            if change is not None:
                events.append(change.event(f"{latch.alert} {change.state}", value=6.0))
    raised = [e for e in events if isinstance(e, AlertEvent) and e.state == "raised"]
    assert [(e.alert, e.at - t0) for e in raised] == [("queue_long", 15.0), ("screen_glare", 110.0)]

    published = []
    for seq, event in enumerate(events, start=1):
        tally.record(event)
        msg = encode(event, ID, seq)
        doc = json.loads(msg.payload)
        if isinstance(event, AlertEvent):
            jsonschema.validate(doc, alert_schema)
            assert doc["family"] == registry[event.alert].family
            with pytest.raises(jsonschema.ValidationError):  # the shipped schema knows it not
                jsonschema.validate(doc, schema("alert"))
        published.append(msg)
    summaries: list[SummaryEvent] = []
    now = t0 + 86400
    while (s := tally.due(now)) is not None:
        summaries.append(s)
    day = next(s for s in summaries if s.period == "day")
    assert day.alerts == {"queue_long": 1}  # counted; the setup one is timed, not counted
    assert day.minutes is not None
    assert day.minutes["setup"] == pytest.approx(4.9)
    for seq, s in enumerate(summaries, start=len(events) + 1):
        msg = encode(s, ID, seq)
        jsonschema.validate(json.loads(msg.payload), summary_schema)
        published.append(msg)

    # the district side: the collector's own parser and store, then the daily notification
    engine = open_db(str(tmp_path / "central.sqlite3"))
    rows = [to_row("triage/v1", m.topic, m.payload, t0 + 1) for m in published]
    store(engine, rows)
    report = daily_report(engine, DAY, ZoneInfo(TZ), now=t0 + 86400)
    (desk,) = report.desks
    queue_problem = next(p for p in desk.problems if p.alert == "queue_long")
    assert queue_problem.label == "Queue long" == label_for("queue_long").label
    assert (queue_problem.family, queue_problem.cleared is not None) == ("occupancy", True)
    assert desk.counts.raised == {"queue_long": 1, "screen_glare": 1}
    assert desk.check is not None
    assert desk.check.consistent, desk.check.differences
    assert desk.check.box["raised:queue_long"] == desk.check.stored["raised:queue_long"] == 1
    assert desk.check.minutes["setup"] == pytest.approx(4.9)

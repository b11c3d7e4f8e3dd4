"""Lost sources (agent.flow.lost): real heartbeats and real opening hours, time given explicitly."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from zoneinfo import ZoneInfo

from agent.flow.events import AlertEvent, Event
from agent.flow.heartbeat import Heartbeat
from agent.flow.lost import CLEAR_AFTER_S, SourceLostAnalyser, Watched
from agent.zones.config import ClinicConfig
from agent.zones.hours import OpeningHours

TZ = "Africa/Nairobi"
MONDAY_10 = datetime(2026, 11, 23, 10, 0, tzinfo=ZoneInfo(TZ)).timestamp()


def run(
    analyser: SourceLostAnalyser,
    start: float,
    end: float,
    beating: Sequence[Heartbeat] = (),
) -> list[AlertEvent]:
    """Tick once a second from ``start`` to ``end``; ``beating`` sources deliver every second."""
    events: list[Event] = []
    t = start
    while t < end:
        for hb in beating:
            hb.beat(t)
        events += analyser.tick(t)
        t += 1.0
    out = [e for e in events if isinstance(e, AlertEvent)]
    assert len(out) == len(events)
    return out


def test_a_silent_source_is_lost_after_stale_plus_its_delay_and_back_when_it_delivers() -> None:
    thermo, camera = Heartbeat("thermometer", 10.0), Heartbeat("camera", 10.0)
    a = SourceLostAnalyser(
        [
            Watched("thermometer", "thermometer_lost", thermo, 60.0),
            Watched("camera", "camera_lost", camera, 60.0),
        ]
    )
    t0 = MONDAY_10
    assert run(a, t0, t0 + 100, [thermo, camera]) == []
    # the thermometer goes silent at t0+99: stale from t0+110, raised 60 s later
    silent = run(a, t0 + 100, t0 + 170, [camera])
    assert silent == []
    raised = run(a, t0 + 170, t0 + 171, [camera])
    assert [(e.alert, e.state) for e in raised] == [("thermometer_lost", "raised")]
    assert raised[0].family == "setup"
    assert raised[0].value == 71.0
    assert "no data for 71 s" in raised[0].message
    assert run(a, t0 + 171, t0 + 300, [camera]) == [], "one raise, not one per tick"
    back = run(a, t0 + 300, t0 + 300 + CLEAR_AFTER_S + 1, [camera, thermo])
    assert [(e.alert, e.state) for e in back] == [("thermometer_lost", "cleared")]
    assert back[0].alert_id == raised[0].alert_id
    assert back[0].message == "thermometer delivering again"


def test_only_while_the_clinic_is_open_and_cleared_at_closing() -> None:
    clinic = ClinicConfig(mon=["08:00-12:00"], tue=["08:00-12:00"])
    hours = OpeningHours(clinic, TZ)
    camera = Heartbeat("camera", 10.0)
    a = SourceLostAnalyser([Watched("camera", "camera_lost", camera, 60.0)], hours.is_open)
    t0 = MONDAY_10  # the camera never delivers
    raised = run(a, t0, t0 + 3600)
    assert [(e.alert, e.state) for e in raised] == [("camera_lost", "raised")]
    assert raised[0].at == t0 + 60
    assert raised[0].value is None
    assert "no data yet" in raised[0].message
    noon = t0 + 2 * 3600
    closing = run(a, t0 + 3600, noon + 3600)
    assert [(e.alert, e.state, e.at) for e in closing] == [
        ("camera_lost", "cleared", noon + CLEAR_AFTER_S)
    ]
    assert closing[0].message == "camera no longer watched: the clinic is closed"
    # closed all afternoon and night: nothing; Tuesday 08:00 it is still silent: raised again
    tuesday_8 = t0 + 22 * 3600
    assert run(a, noon + 3600, tuesday_8) == []
    again = run(a, tuesday_8, tuesday_8 + 120)
    assert [(e.alert, e.state, e.at) for e in again] == [("camera_lost", "raised", tuesday_8 + 60)]

"""The desk's state document for Home Assistant (agent/wire/ha_state.py): kept from the events the
box really publishes (hyphenated zone names and an alert carried over a restart included), published
retained only when it changes, and what the entities' templates, rendered with Jinja2 as Home
Assistant does, read from it. Discovery itself: tests/test_wire_discovery.py.
"""

from __future__ import annotations

import json
from pathlib import Path

from agent.flow.events import AlertEvent, Event, MaskEvent, OccupancyEvent, TemperatureEvent
from agent.wire.discovery import config_messages
from agent.wire.ha_state import DeskState
from tests.test_wire_discovery import ALL, ID, STATE_TOPIC, by_object, decoded, discovery, render


def test_templates_read_the_state_document_kept_from_the_events(tmp_path: Path) -> None:
    """The state document kept from events (hyphenated zone names included) and the templates on
    it; the box's health from the retained health event."""
    c = by_object(config_messages("homeassistant", ID, ALL, "1"))
    tpl = {k: v["value_template"] for k, v in c.items()}
    ha = discovery(tmp_path, enabled=True)
    desk = DeskState(("front-desk",), [("c" * 32, "camera_dark")])  # carried over a restart

    def shown(event: Event | None = None) -> bytes:
        if event is not None:
            desk.hear(decoded(event))
        msg = ha.state(desk.document())
        assert msg is None or (msg.topic == STATE_TOPIC and msg.retain)
        return ha._current()[-1].payload

    first = shown()
    # nothing known yet after a start: the values render nothing (Home Assistant keeps its own)
    for key in (
        "body_temperature",
        "mask_compliance",
        "masks_worn_wrong",
        "occupancy",
        "occupancy_queue",
    ):
        assert render(tpl[key], first) == "", key
    assert render(tpl["desk_attended"], first) == ""
    assert render(tpl["problem_triage_point"], first) == "ON"  # the dark camera, still open
    attrs = json.loads(render(c["problem_triage_point"]["json_attributes_template"], first))
    assert attrs == {"problems": ["camera_dark"]}
    assert render(tpl["open_alerts"], first) == "1"

    doc = shown(TemperatureEvent(1.0, "fever", 35.9, 24.5, 38.12, 37.3, 1.2, 12))
    assert render(tpl["body_temperature"], doc) == "38.12"
    doc = shown(TemperatureEvent(2.0, "invalid", 25.0, 24.5, 27.0, 37.3, 1.2, 12))
    assert render(tpl["body_temperature"], doc) == "38.12"  # an invalid result is no value
    zones = {"front-desk": 1, "queue": 3, "hall": 0}
    doc = shown(OccupancyEvent(1.0, count=4, max=4, limit=5, zones=zones))
    assert render(tpl["occupancy"], doc) == "4"
    assert render(tpl["occupancy_front-desk"], doc) == "1"
    assert render(tpl["occupancy_queue"], doc) == "3"
    assert render(tpl["desk_attended"], doc) == "ON"
    doc = shown(OccupancyEvent(1.0, count=3, max=3, limit=5, zones={**zones, "front-desk": 0}))
    assert render(tpl["desk_attended"], doc) == "OFF"
    periodic = OccupancyEvent(1.0, count=0, max=9, limit=5, window_s=60, people=9, zones=zones)
    assert render(tpl["occupancy_queue"], shown(periodic)) == "3"  # a maximum: not "now"
    doc = shown(MaskEvent(1.0, "masked", faces=3, masked=2, unmasked=1, window_s=60))
    assert render(tpl["mask_compliance"], doc) == "67"
    assert render(tpl["masks_worn_wrong"], doc) == ""  # an agent before the third verdict
    worn = MaskEvent(1.0, "unmasked", faces=4, masked=2, unmasked=2, window_s=60, worn_wrong=1)
    doc = shown(worn)
    assert (render(tpl["mask_compliance"], doc), render(tpl["masks_worn_wrong"], doc)) == (
        "50",
        "1",
    )
    doc = shown(MaskEvent(1.0, "no_face", faces=0, masked=0, unmasked=0, window_s=60))
    assert render(tpl["mask_compliance"], doc) == "50"  # nobody in the window: kept
    assert render(tpl["masks_worn_wrong"], doc) == "1"
    fever = AlertEvent(1.0, "fever", "raised", "a" * 16, "fever")
    crowding = AlertEvent(1.0, "crowding", "raised", "b" * 16, "crowd", zone="queue")
    assert render(tpl["fever"], shown(fever)) == "ON"
    doc = shown(crowding)
    assert (render(tpl["fever"], doc), render(tpl["problem_crowding"], doc)) == ("ON", "ON")
    assert render(tpl["problem_unmasked"], doc) == "OFF"
    assert render(tpl["open_alerts"], doc) == "3"
    doc = shown(AlertEvent(2.0, "fever", "cleared", "a" * 16, "left"))
    assert render(tpl["fever"], doc) == "OFF"
    doc = shown(AlertEvent(3.0, "camera_dark", "cleared", "c" * 32, "light again"))
    assert render(tpl["problem_triage_point"], doc) == "OFF"
    doc = shown(AlertEvent(4.0, "screening_skipped", "raised", "d" * 32, "unscreened"))
    assert render(tpl["problem_triage_point"], doc) == "ON"
    assert render(tpl["problem_desk_unattended"], doc) == "OFF"
    doc = shown(AlertEvent(5.0, "desk_unattended", "raised", "e" * 32, "empty", value=2.0))
    assert render(tpl["problem_desk_unattended"], doc) == "ON"
    assert json.loads(render(c["problem_triage_point"]["json_attributes_template"], doc)) == {
        "problems": ["screening_skipped"]
    }
    assert render(tpl["open_alerts"], doc) == "3"
    assert ha.state(desk.document()) is None  # unchanged: nothing to publish

"""The entities a box announces to Home Assistant (agent/wire/ha_entities.py): only those of what it
measures, and the box's health read by its templates (rendered with Jinja2, as Home Assistant does)
from the retained ``health`` event. Discovery itself: tests/test_wire_discovery.py.
"""

from __future__ import annotations

import json

from agent.flow.events import HealthEvent, SourceHealth
from agent.wire.discovery import Entities, config_messages
from tests.test_wire_discovery import ALL, ID, by_object, payload, render


def test_only_what_the_box_measures_is_announced() -> None:
    common = ["box_health", "open_alerts", "problem_triage_point"]
    thermometer_only = by_object(config_messages("ha", ID, Entities(True, False), "1"))
    assert sorted(thermometer_only) == sorted(["body_temperature", "fever", *common])
    camera_no_zones = by_object(config_messages("ha", ID, Entities(False, True), "1"))
    assert sorted(camera_no_zones) == sorted(
        [
            "mask_compliance",
            "masks_worn_wrong",
            "occupancy",
            "problem_unmasked",
            "problem_crowding",
            *common,
        ]
    )


def test_box_health_reads_the_retained_health_event() -> None:
    box = by_object(config_messages("homeassistant", ID, ALL, "1"))["box_health"]
    ok = SourceHealth("ok", 0.0, 0.1, 5.0)
    healthy = HealthEvent(9.0, 3600, "1", {"thermometer": ok, "camera": ok}, 0, None, 0, 0, 0)
    assert render(box["value_template"], payload(healthy)) == "ok"
    unplugged = {"thermometer": SourceHealth("disconnected", 0.0), "camera": ok}
    degraded = HealthEvent(9.0, 3600, "1", unplugged, 12, 300, 0, 0, 0, clock="unsynced")
    assert render(box["value_template"], payload(degraded)) == "degraded"
    attrs = json.loads(render(box["json_attributes_template"], payload(degraded)))
    assert attrs["sources"]["thermometer"]["state"] == "disconnected"
    assert (attrs["outbox_depth"], attrs["outbox_oldest_s"]) == (12, 300)
    assert (attrs["storage"], attrs["clock"]) == ("ok", "unsynced")
    full = HealthEvent(9.0, 3600, "1", {"camera": ok}, 40, 60, 0, 0, 0, storage="disk full")
    assert render(box["value_template"], payload(full)) == "storage fault"
    assert json.loads(render(box["json_attributes_template"], payload(full)))["storage"] == (
        "disk full"
    )

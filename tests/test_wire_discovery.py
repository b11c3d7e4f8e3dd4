"""Home Assistant MQTT discovery (agent/wire/discovery.py): the configs Home Assistant needs, their
templates rendered with Jinja2 (as Home Assistant does) on events the agent really publishes, the
marker that makes removal exact, and end to end through a real mosquitto with ``triage-agent run``:
retained configs, republished on Home Assistant's birth, removed after a restart with discovery off.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from jinja2.sandbox import ImmutableSandboxedEnvironment
from paho.mqtt.enums import CallbackAPIVersion

from agent.flow.events import AlertEvent, Event, MaskEvent, OccupancyEvent, TemperatureEvent
from agent.thermometer.simulated_port import emulator
from agent.wire.config import HomeAssistantConfig
from agent.wire.contract import Identity, encode
from agent.wire.discovery import MARKER, Discovery, Entities, config_messages
from firmware_bridge.trace import generate
from tests.broker import Broker, Collector, Received
from tests.conftest import REPO, AgentProcess, base_config, validate_message, write_config

ID = Identity("triage/v1", "clinic-042", "desk-1", "clinic-042-desk-1")
ALL = Entities(True, True, ("front-desk", "queue", "hall"), ("front-desk",))

# Home Assistant's abbreviations (homeassistant/components/mqtt/abbreviations.py) for the keys used.
ABBREVIATIONS = {
    "stat_t": "state_topic",
    "val_tpl": "value_template",
    "uniq_id": "unique_id",
    "avty_t": "availability_topic",
    "avty_tpl": "availability_template",
    "pl_avail": "payload_available",
    "pl_not_avail": "payload_not_available",
    "dev_cla": "device_class",
    "unit_of_meas": "unit_of_measurement",
    "stat_cla": "state_class",
    "ic": "icon",
    "dev": "device",
}
DEVICE_ABBREVIATIONS = {
    "ids": "identifiers",
    "mf": "manufacturer",
    "mdl": "model",
    "sw": "sw_version",
}
REQUIRED = {"name", "unique_id", "state_topic", "availability_topic", "device", "value_template"}
JINJA = ImmutableSandboxedEnvironment()


def expand(doc: dict[str, Any]) -> dict[str, Any]:
    """What Home Assistant's discovery makes of a config: full key names, ``~`` substituted."""
    out = {ABBREVIATIONS.get(k, k): v for k, v in doc.items()}
    out["device"] = {DEVICE_ABBREVIATIONS.get(k, k): v for k, v in out["device"].items()}
    base = out.pop("~")
    for key, value in out.items():
        if key.endswith("_topic") and isinstance(value, str):
            out[key] = value.replace("~", base)
    return out


def render(template: str, payload: bytes, this_state: str = "unknown") -> str:
    """A value template applied to one MQTT payload, as Home Assistant renders it."""
    value_json = json.loads(payload)
    return JINJA.from_string(template).render(
        value_json=value_json, value=payload.decode(), this=SimpleNamespace(state=this_state)
    )


def by_object(msgs: list[Received] | list[Any]) -> dict[str, dict[str, Any]]:
    """Expanded configs by object id (the topic's fourth level)."""
    return {m.topic.split("/")[3]: expand(json.loads(m.payload)) for m in msgs if m.payload}


def test_every_config_has_what_home_assistant_requires() -> None:
    msgs = config_messages("homeassistant", ID, ALL, "1.2.3")
    configs = by_object(msgs)
    assert sorted(configs) == sorted(
        [
            "body_temperature",
            "fever",
            "mask_compliance",
            "occupancy",
            "occupancy_front-desk",
            "occupancy_queue",
            "occupancy_hall",
            "desk_attended",
            "open_alerts",
        ]
    )
    for m in msgs:
        assert m.retain
        assert m.qos == 1
        assert re.fullmatch(
            r"homeassistant/(sensor|binary_sensor)/clinic-042-desk-1/[\w-]+/config", m.topic
        )
        assert len(m.payload) <= 700, (m.topic, len(m.payload))
    kinds = {"status", "temperature", "alert", "mask", "occupancy", "health"}
    for object_id, c in configs.items():
        assert not REQUIRED - set(c), (object_id, sorted(c))
        assert c["unique_id"] == f"clinic-042-desk-1_{object_id}"
        assert c["state_topic"].rsplit("/", 1)[0] == "triage/v1/clinic-042/desk-1"
        assert c["state_topic"].rsplit("/", 1)[1] in kinds
        assert c["availability_topic"] == ID.topic("status")
        assert (c["payload_available"], c["payload_not_available"]) == ("online", "offline")
        assert c["device"] == {
            "identifiers": ["clinic-042-desk-1"],
            "name": "Triage clinic-042 desk-1",
            "manufacturer": "triage-agent",
            "model": "Triage desk box",
            "sw_version": "1.2.3",
        }
    temp = configs["body_temperature"]
    assert (temp["device_class"], temp["unit_of_measurement"]) == ("temperature", "°C")
    assert configs["mask_compliance"]["unit_of_measurement"] == "%"
    assert len({c["unique_id"] for c in configs.values()}) == len(configs)


def test_only_what_the_box_measures_is_announced() -> None:
    thermometer_only = by_object(config_messages("ha", ID, Entities(True, False), "1"))
    assert sorted(thermometer_only) == ["body_temperature", "fever", "open_alerts"]
    camera_no_zones = by_object(config_messages("ha", ID, Entities(False, True), "1"))
    assert sorted(camera_no_zones) == ["mask_compliance", "occupancy", "open_alerts"]


def payload(event: Event, seq: int = 1) -> bytes:
    return encode(event, ID, seq).payload


def test_templates_read_the_encoded_events() -> None:
    """Templates on events encoded by the contract (hyphenated zone names included)."""
    c = by_object(config_messages("homeassistant", ID, ALL, "1"))
    tpl = {k: v["value_template"] for k, v in c.items()}
    temp = TemperatureEvent(1.0, "fever", 35.9, 24.5, 38.12, 37.3, 1.2, 12)
    assert render(tpl["body_temperature"], payload(temp)) == "38.12"
    invalid = TemperatureEvent(1.0, "invalid", 25.0, 24.5, 27.0, 37.3, 1.2, 12)
    assert render(tpl["body_temperature"], payload(invalid)) == ""  # ignored by HA
    zones = {"front-desk": 1, "queue": 3, "hall": 0}
    change = OccupancyEvent(1.0, count=4, max=4, limit=5, zones=zones)
    assert render(tpl["occupancy"], payload(change)) == "4"
    assert render(tpl["occupancy_front-desk"], payload(change)) == "1"
    assert render(tpl["occupancy_queue"], payload(change)) == "3"
    assert render(tpl["desk_attended"], payload(change)) == "ON"
    empty_desk = OccupancyEvent(1.0, count=3, max=3, limit=5, zones={**zones, "front-desk": 0})
    assert render(tpl["desk_attended"], payload(empty_desk)) == "OFF"
    periodic = OccupancyEvent(1.0, count=0, max=9, limit=5, window_s=60, people=9, zones=zones)
    assert render(tpl["occupancy_queue"], payload(periodic)) == ""  # a maximum, not "now"
    window = MaskEvent(1.0, "masked", faces=3, masked=2, unmasked=1, window_s=60)
    assert render(tpl["mask_compliance"], payload(window)) == "67"
    nobody = MaskEvent(1.0, "no_face", faces=0, masked=0, unmasked=0, window_s=60)
    assert render(tpl["mask_compliance"], payload(nobody)) == ""
    state_change = MaskEvent(1.0, "unmasked", faces=1, masked=0, unmasked=1)
    assert render(tpl["mask_compliance"], payload(state_change)) == ""
    fever = AlertEvent(1.0, "fever", "raised", "a" * 16, "fever")
    crowding = AlertEvent(1.0, "crowding", "raised", "b" * 16, "crowd", zone="queue")
    assert render(tpl["fever"], payload(fever)) == "ON"
    assert render(tpl["fever"], payload(crowding)) == ""  # another alert: state kept
    cleared = AlertEvent(2.0, "fever", "cleared", "a" * 16, "left")
    assert render(tpl["fever"], payload(cleared)) == "OFF"
    count = "unknown"
    for alert in (fever, crowding, cleared):
        count = render(tpl["open_alerts"], payload(alert), count)
    assert count == "1"
    assert render(tpl["open_alerts"], payload(cleared), "0") == "0"  # never below zero


def discovery(state_dir: Path, enabled: bool, wanted: Entities = ALL) -> Discovery:
    return Discovery(HomeAssistantConfig(enabled=enabled), ID, wanted, "1", state_dir)


def marked(state_dir: Path) -> list[str]:
    path = state_dir / MARKER
    return list(json.loads(path.read_text())["topics"]) if path.exists() else []


def test_marker_makes_removal_exact(tmp_path: Path) -> None:
    never = discovery(tmp_path, enabled=False)
    assert never.on_connect() == []
    assert never.subscriptions == ()
    assert not (tmp_path / MARKER).exists()  # a box that never enabled it sends nothing

    on = discovery(tmp_path, enabled=True)
    sent = on.on_connect()
    assert [m.topic for m in sent] == on.topics()
    assert len(sent) == 9
    assert sorted(marked(tmp_path)) == sorted(on.topics())  # recorded before publishing
    on.acknowledged()
    assert on.subscriptions == ("homeassistant/status",)
    assert on.on_message("homeassistant/status", b"online") == sent
    assert on.on_message("homeassistant/status", b"offline") == []
    assert on.on_message("triage/v1/x/y/status", b"online") == []

    renamed = discovery(tmp_path, True, Entities(True, True, ("front-desk", "lobby"), ()))
    sent = renamed.on_connect()
    removed = [m.topic for m in sent if not m.payload]
    assert sorted(removed) == sorted(
        f"homeassistant/{c}/clinic-042-desk-1/{o}/config"
        for c, o in [
            ("sensor", "occupancy_queue"),
            ("sensor", "occupancy_hall"),
            ("binary_sensor", "desk_attended"),
        ]
    )
    assert all(m.retain for m in sent)
    renamed.acknowledged()
    assert sorted(marked(tmp_path)) == sorted(renamed.topics())

    off = discovery(tmp_path, enabled=False)
    sent = off.on_connect()
    assert sorted(m.topic for m in sent) == sorted(renamed.topics())
    assert all(m.payload == b"" and m.retain for m in sent)
    assert marked(tmp_path)  # kept until the broker acknowledged the removals
    off.acknowledged()
    assert not (tmp_path / MARKER).exists()
    assert discovery(tmp_path, enabled=False).on_connect() == []


# -- end to end ---------------------------------------------------------------------------------


def agent_config(tmp_path: Path, port: int, serial: str, enabled: bool) -> Path:
    raw = base_config(
        tmp_path,
        port,
        thermometer={"enabled": True, "port": serial, "protocol": "bridge"},
        home_assistant={"enabled": enabled},
    )
    return write_config(tmp_path / f"agent-{enabled}.toml", raw)


def on(msgs: list[Received], suffix: str) -> list[Received]:
    """The agent's messages of one kind (not Home Assistant's own ``homeassistant/status``)."""
    return [m for m in msgs if m.topic.startswith("triage/") and m.topic.endswith(suffix)]


def ha_configs(msgs: list[Received]) -> list[Received]:
    return [m for m in msgs if m.topic.startswith("homeassistant/") and m.topic.endswith("/config")]


def publish(port: int, topic: str, payload: bytes, retain: bool = False) -> None:
    client = mqtt.Client(callback_api_version=CallbackAPIVersion.VERSION2, client_id="ha-core")
    client.connect("127.0.0.1", port)
    client.loop_start()
    client.publish(topic, payload, qos=1, retain=retain).wait_for_publish(10)
    client.loop_stop()
    client.disconnect()


def fever_cycle(ms: list[Received]) -> bool:
    states = [m.json()["state"] for m in on(ms, "/alert") if m.json()["alert"] == "fever"]
    return bool(on(ms, "/temperature")) and "raised" in states and "cleared" in states


@pytest.mark.slow
@pytest.mark.broker
def test_run_announces_republishes_and_removes(
    tmp_path: Path,
    mosquitto: Broker,
    collector_factory: Callable[..., Collector],
    agent_process: Callable[..., AgentProcess],
) -> None:
    emu = emulator("bridge", generate("fever", seed=11), loop=True)
    try:
        serial = emu.start()
        seen = collector_factory(mosquitto.port)
        agent = agent_process(agent_config(tmp_path, mosquitto.port, serial, enabled=True))
        msgs = seen.wait_for(lambda ms: len(ha_configs(ms)) >= 3 and fever_cycle(ms), timeout=60)
        assert agent.proc.poll() is None, agent.output()

        # retained: a subscriber arriving later gets every config from the broker
        late = collector_factory(mosquitto.port, "homeassistant/#")
        retained = late.wait_for(lambda ms: len(ms) >= 3)
        time.sleep(0.5)
        assert all(m.retain for m in late.messages)
        assert len(late.messages) == 3
        configs = by_object(retained)
        assert sorted(configs) == ["body_temperature", "fever", "open_alerts"]
        assert all(not REQUIRED - set(c) for c in configs.values())

        # the templates on the events this run published
        status = late_status(collector_factory, mosquitto.port)
        temp = configs["body_temperature"]
        assert render(temp["availability_template"], status.payload) == "online"
        temps = [m for m in on(msgs, "/temperature") if validate_message(m)]
        assert temps[0].topic == temp["state_topic"]
        assert temps[0].json()["result"] == "fever"
        assert render(temp["value_template"], temps[0].payload) == str(
            temps[0].json()["estimate_c"]
        )
        alerts = on(msgs, "/alert")
        assert {m.topic for m in alerts} == {configs["fever"]["state_topic"]}
        rendered = [render(configs["fever"]["value_template"], m.payload) for m in alerts]
        assert rendered[:2] == ["ON", "OFF"], [m.json() for m in alerts]
        count = "unknown"
        for m in alerts:
            count = render(configs["open_alerts"]["value_template"], m.payload, count)
        open_now = sum(1 if m.json()["state"] == "raised" else -1 for m in alerts)
        assert count == str(open_now)

        # Home Assistant restarts: its birth message brings every config again
        before = len(ha_configs(seen.messages))
        publish(mosquitto.port, "homeassistant/status", b"offline")
        publish(mosquitto.port, "homeassistant/status", b"online")
        seen.wait_for(lambda ms: len(ha_configs(ms)) >= before + 3, timeout=10)
        assert agent.stop() == 0, agent.output()
        states = {m.json()["state"]: m for m in on(seen.messages, "/status")}
        assert {"stopping", "offline"} <= set(states)  # a clean stop: stopping, then offline
        for state in ("stopping", "offline"):
            assert render(temp["availability_template"], states[state].payload) == "offline"
        assert (tmp_path / "state" / MARKER).exists()

        # switched off: each config removed (empty retained), then nothing retained is left
        mark = len(seen.messages)
        agent = agent_process(agent_config(tmp_path, mosquitto.port, serial, enabled=False))
        seen.wait_for(lambda ms: len([m for m in ha_configs(ms[mark:]) if not m.payload]) >= 3)
        removed = {m.topic for m in ha_configs(seen.messages[mark:])}
        assert removed == {m.topic for m in retained}
        assert agent.stop() == 0, agent.output()
        assert not (tmp_path / "state" / MARKER).exists()
        gone = collector_factory(mosquitto.port, "homeassistant/#")
        time.sleep(1.0)
        assert gone.messages == []

        # off again (as on a box that never enabled it): nothing sent, nothing subscribed
        mark = len(seen.messages)
        agent = agent_process(agent_config(tmp_path, mosquitto.port, serial, enabled=False))
        seen.wait_for(
            lambda ms: any(m.json()["state"] == "online" for m in on(ms[mark:], "/status"))
        )
        publish(mosquitto.port, "homeassistant/status", b"online")
        time.sleep(2.0)
        assert [m.topic for m in seen.messages[mark:] if m.topic.startswith("homeassistant/")] == [
            "homeassistant/status"
        ]
        assert agent.stop() == 0, agent.output()
    finally:
        emu.stop()


def late_status(collector_factory: Callable[..., Collector], port: int) -> Received:
    c = collector_factory(port, "triage/v1/+/+/status")
    return c.wait_for(lambda ms: len(ms) >= 1)[0]


# -- real pixels: occupancy per zone, desk attended, mask compliance ---------------------------


@pytest.mark.shared
@pytest.mark.model
@pytest.mark.broker
@pytest.mark.slow
def test_zone_desk_and_mask_entities_on_real_pixels(
    tmp_path: Path,
    mosquitto: Broker,
    collector_factory: Callable[..., Collector],
    agent_process: Callable[..., AgentProcess],
) -> None:
    from tests.desk_scenes import ZONES, desk_scene
    from tests.vision_media import write_video

    fps = 10
    video = write_video(
        tmp_path / "desk.avi",
        [
            (desk_scene(staff=["teal"], queue=["blue", "bald"]), 8 * fps),
            (desk_scene(), 6 * fps),
        ],
        fps=fps,
    )
    raw = base_config(
        tmp_path,
        mosquitto.port,
        camera={"enabled": True, "source": str(video), "loop": False, "max_fps": 5},
        vision={
            "models_dir": str(REPO / "models"),
            "compliance_window_s": 4,
            "integrity": {"enabled": False},
        },
        home_assistant={"enabled": True},
    )
    raw["zones"] = ZONES
    seen = collector_factory(mosquitto.port)
    agent = agent_process(write_config(tmp_path / "agent.toml", raw))

    def camera_ended(ms: list[Received]) -> bool:
        return any(
            m.json()["sources"].get("camera", {}).get("state") == "disconnected"
            for m in on(ms, "/health")
        )

    msgs = seen.wait_for(camera_ended, timeout=90)
    assert agent.stop() == 0, agent.output()[-3000:]
    configs = by_object(ha_configs(msgs))
    assert {"occupancy_desk", "occupancy_queue", "occupancy_hall", "desk_attended"} <= set(configs)
    events = on(msgs, "/occupancy")
    assert {m.topic for m in events} == {configs["occupancy_queue"]["state_topic"]}
    changes = [m for m in events if "window_s" not in validate_message(m)]
    queue = [render(configs["occupancy_queue"]["value_template"], m.payload) for m in changes]
    desk = [render(configs["occupancy_desk"]["value_template"], m.payload) for m in changes]
    attended = [render(configs["desk_attended"]["value_template"], m.payload) for m in changes]
    assert "2" in queue, queue
    assert queue[-1] == "0", queue
    assert "1" in desk, desk
    assert desk[-1] == "0", desk
    assert "ON" in attended, attended
    assert attended[-1] == "OFF", attended
    assert [d == "1" for d in desk] == [a == "ON" for a in attended]
    windows = [m for m in on(msgs, "/mask") if m.json().get("window_s") and m.json()["faces"]]
    assert windows, [m.json() for m in on(msgs, "/mask")]
    for m in windows:  # the people of the scene wear no mask
        doc = m.json()
        assert render(configs["mask_compliance"]["value_template"], m.payload) == str(
            round(100 * doc["masked"] / doc["faces"])
        )
    assert "0" in [render(configs["mask_compliance"]["value_template"], m.payload) for m in windows]


@pytest.mark.broker
def test_publisher_over_mqtt_3_1_1_announces_and_answers_the_birth(
    tmp_path: Path, mosquitto: Broker, collector_factory: Callable[..., Collector]
) -> None:
    """The publisher alone, on an MQTT 3.1.1 connection: configs retained, the marker written once
    acknowledged, and Home Assistant's birth answered."""
    from agent.wire.config import MqttConfig
    from agent.wire.outbox import Outbox
    from agent.wire.publisher import Publisher

    seen = collector_factory(mosquitto.port, "homeassistant/#")
    cfg = MqttConfig.model_validate({"port": mosquitto.port, "protocol": "3.1.1"})
    ha = discovery(tmp_path, enabled=True, wanted=Entities(True, False))
    pub = Publisher(cfg, ID, Outbox(tmp_path / "o.sqlite3"), discovery=ha)
    pub.start()
    try:
        seen.wait_for(lambda ms: len(ha_configs(ms)) >= 3)
        deadline = time.monotonic() + 10
        while sorted(marked(tmp_path)) != sorted(ha.topics()):
            assert time.monotonic() < deadline, marked(tmp_path)
            time.sleep(0.05)
        publish(mosquitto.port, "homeassistant/status", b"online")
        seen.wait_for(lambda ms: len(ha_configs(ms)) >= 6)
        assert {m.topic for m in ha_configs(seen.messages)} == set(ha.topics())
    finally:
        pub.stop()
    late = collector_factory(mosquitto.port, "homeassistant/#")
    assert all(m.retain for m in late.wait_for(lambda ms: len(ms) >= 3))

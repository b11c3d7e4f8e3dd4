"""Home Assistant MQTT discovery (agent/wire/discovery.py): the configs Home Assistant needs, the
marker that makes removal exact, and end to end through a real mosquitto with ``triage-agent run``:
retained configs, republished on Home Assistant's birth, removed after a restart with discovery off.
The entities and their templates: tests/test_wire_ha_entities.py; the state document the templates
read, rendered with Jinja2 (as Home Assistant does): tests/test_wire_ha_state.py.
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

from agent.flow.events import (
    Event,
)
from agent.thermometer.simulated_port import emulator
from agent.wire.config import HomeAssistantConfig
from agent.wire.contract import Identity, encode
from agent.wire.discovery import MARKER, Discovery, Entities, config_messages
from agent.wire.ha_state import DeskState
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
    "obj_id": "object_id",
    "json_attr_t": "json_attributes_topic",
    "json_attr_tpl": "json_attributes_template",
    "ent_cat": "entity_category",
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
    return {
        m.topic.split("/")[3]: expand(json.loads(m.payload))
        for m in msgs
        if m.payload and m.topic.endswith("/config")
    }


STATE_TOPIC = "homeassistant/triage/clinic-042-desk-1/state"
PROBLEMS = ["problem_unmasked", "problem_crowding", "problem_triage_point"]
STAFF_PROBLEMS = ["problem_staff_unmasked", "problem_desk_unattended"]


def test_every_config_has_what_home_assistant_requires() -> None:
    msgs = config_messages("homeassistant", ID, ALL, "1.2.3")
    configs = by_object(msgs)
    assert sorted(configs) == sorted(
        [
            "body_temperature",
            "fever",
            "mask_compliance",
            "masks_worn_wrong",
            "occupancy",
            "occupancy_front-desk",
            "occupancy_queue",
            "occupancy_hall",
            "desk_attended",
            *PROBLEMS,
            *STAFF_PROBLEMS,
            "open_alerts",
            "box_health",
        ]
    )
    for m in msgs:
        assert m.retain
        assert m.qos == 1
        assert re.fullmatch(
            r"homeassistant/(sensor|binary_sensor)/clinic-042-desk-1/[\w-]+/config", m.topic
        )
        assert len(m.payload) <= 1024, (m.topic, len(m.payload))
    for object_id, c in configs.items():
        assert not REQUIRED - set(c), (object_id, sorted(c))
        assert c["unique_id"] == f"clinic-042-desk-1_{object_id}"
        # the entity id docs/INTEGRATION.md gives, whatever the entity's name
        slug = "clinic_042_desk_1_" + object_id.replace("-", "_")
        assert c["object_id"] == slug
        assert c["default_entity_id"] in (f"sensor.{slug}", f"binary_sensor.{slug}")
        if object_id == "box_health":  # the retained health event
            assert c["state_topic"] == c["json_attributes_topic"] == ID.topic("health")
        else:  # the retained state document
            assert c["state_topic"] == STATE_TOPIC
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
    ids = {o: c["default_entity_id"] for o, c in configs.items()}
    assert ids["occupancy"] == "sensor.clinic_042_desk_1_occupancy"
    assert ids["occupancy_front-desk"] == "sensor.clinic_042_desk_1_occupancy_front_desk"
    assert ids["problem_triage_point"] == "binary_sensor.clinic_042_desk_1_problem_triage_point"
    assert configs["occupancy_front-desk"]["name"] == "People in the front-desk zone"
    assert all(configs[p]["device_class"] == "problem" for p in [*PROBLEMS, *STAFF_PROBLEMS])
    assert configs["box_health"]["entity_category"] == "diagnostic"


def payload(event: Event, seq: int = 1) -> bytes:
    return encode(event, ID, seq).payload


def decoded(event: Event) -> Event:
    """The event as it left the box (encoded by the contract, so every value fits it)."""
    assert json.loads(payload(event))["kind"] == event.kind
    return event


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
    assert [m.topic for m in sent] == on.topics()[:-1]  # no state document yet
    assert on.topics()[-1] == STATE_TOPIC
    assert len(sent) == 16
    assert sorted(marked(tmp_path)) == sorted(on.topics())  # recorded before publishing
    on.acknowledged()
    assert on.subscriptions == ("homeassistant/status",)
    assert on.on_message("homeassistant/status", b"online") == sent
    state = on.state(DeskState().document())
    assert state is not None
    assert state.retain
    assert on.on_message("homeassistant/status", b"online") == [*sent, state]
    assert on.on_connect() == [*sent, state]  # the latest state again after a reconnect
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
            ("binary_sensor", "problem_staff_unmasked"),
            ("binary_sensor", "problem_desk_unattended"),
        ]
    )
    assert all(m.retain for m in sent)
    renamed.acknowledged()
    assert sorted(marked(tmp_path)) == sorted(renamed.topics())

    off = discovery(tmp_path, enabled=False)
    assert off.state(DeskState().document()) is None
    sent = off.on_connect()
    assert sorted(m.topic for m in sent) == sorted(renamed.topics())  # the state document too
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


def ha_retained(msgs: list[Received]) -> list[Received]:
    """What the box publishes for Home Assistant: configs and the state document."""
    return [
        m
        for m in msgs
        if m.topic.startswith("homeassistant/") and m.topic != "homeassistant/status"
    ]


def ha_states(msgs: list[Received]) -> list[Received]:
    return [m for m in msgs if m.topic.endswith("/state") and m.topic.startswith("homeassistant/")]


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
        msgs = seen.wait_for(lambda ms: len(ha_configs(ms)) >= 5 and fever_cycle(ms), timeout=60)
        assert agent.proc.poll() is None, agent.output()

        # the templates on the state documents this run published, in order
        configs = by_object(ha_configs(msgs))
        states = ha_states(msgs)
        assert {m.topic for m in states} == {configs["fever"]["state_topic"]}
        fever = [render(configs["fever"]["value_template"], m.payload) for m in states]
        assert "ON" in fever, [m.json() for m in states]
        assert "OFF" in fever[fever.index("ON") :]

        # Home Assistant restarted (a subscriber arriving later): every config and every value
        # at once from the broker, not "unknown" until the next event
        late = collector_factory(mosquitto.port, "homeassistant/#")
        retained = late.wait_for(lambda ms: len(ms) >= 6)
        time.sleep(0.5)
        assert all(m.retain for m in late.messages)
        assert len(late.messages) == 6
        configs = by_object(retained)
        assert sorted(configs) == [
            "body_temperature",
            "box_health",
            "fever",
            "open_alerts",
            "problem_triage_point",
        ]
        assert all(not REQUIRED - set(c) for c in configs.values())
        status = late_status(collector_factory, mosquitto.port)
        temp = configs["body_temperature"]
        assert render(temp["availability_template"], status.payload) == "online"
        doc = next(m for m in retained if m.topic == temp["state_topic"])
        temps = [m.json() for m in on(seen.messages, "/temperature") if validate_message(m)]
        valid = [t for t in temps if t["result"] != "invalid"]
        assert render(temp["value_template"], doc.payload) == str(valid[-1]["estimate_c"])
        alerts = on(seen.messages, "/alert")
        open_now = sum(1 if m.json()["state"] == "raised" else -1 for m in alerts)
        assert render(configs["open_alerts"]["value_template"], doc.payload) == str(open_now)
        health = late_health(collector_factory, mosquitto.port)
        assert render(configs["box_health"]["value_template"], health.payload) in ("ok", "degraded")
        assert (
            json.loads(render(configs["box_health"]["json_attributes_template"], health.payload))[
                "sources"
            ]["thermometer"]["state"]
            == health.json()["sources"]["thermometer"]["state"]
        )

        # Home Assistant restarts: its birth message brings every config and the state again
        before = len(ha_retained(seen.messages))
        publish(mosquitto.port, "homeassistant/status", b"offline")
        publish(mosquitto.port, "homeassistant/status", b"online")
        seen.wait_for(lambda ms: len(ha_retained(ms)) >= before + 6, timeout=10)
        assert agent.stop() == 0, agent.output()
        statuses = {m.json()["state"]: m for m in on(seen.messages, "/status")}
        assert {"stopping", "offline"} <= set(statuses)  # a clean stop: stopping, then offline
        for state in ("stopping", "offline"):
            assert render(temp["availability_template"], statuses[state].payload) == "offline"
        assert (tmp_path / "state" / MARKER).exists()

        # switched off: each config removed (empty retained), then nothing retained is left
        mark = len(seen.messages)
        agent = agent_process(agent_config(tmp_path, mosquitto.port, serial, enabled=False))
        seen.wait_for(lambda ms: len([m for m in ha_retained(ms[mark:]) if not m.payload]) >= 6)
        removed = {m.topic for m in ha_retained(seen.messages[mark:])}
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


def late_health(collector_factory: Callable[..., Collector], port: int) -> Received:
    c = collector_factory(port, "triage/v1/+/+/health")
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
    assert configs["occupancy_desk"]["name"] == "People in the desk zone"
    assert (
        configs["occupancy_desk"]["default_entity_id"] == "sensor.test_site_desk_1_occupancy_desk"
    )
    states = ha_states(msgs)
    assert {m.topic for m in states} == {configs["occupancy_queue"]["state_topic"]}

    def shown(key: str) -> list[str]:
        return [render(configs[key]["value_template"], m.payload) for m in states]

    queue, desk, attended = (
        shown("occupancy_queue"),
        shown("occupancy_desk"),
        shown("desk_attended"),
    )
    assert "2" in queue, queue
    assert queue[-1] == "0", queue
    assert "1" in desk, desk
    assert desk[-1] == "0", desk
    assert "ON" in attended, attended
    assert attended[-1] == "OFF", attended
    assert [d == "1" for d in desk] == [a == "ON" for a in attended]
    windows = [m for m in on(msgs, "/mask") if m.json().get("window_s") and m.json()["faces"]]
    assert windows, [m.json() for m in on(msgs, "/mask")]
    expected = {str(round(100 * d["masked"] / d["faces"])) for d in (m.json() for m in windows)}
    assert {v for v in shown("mask_compliance") if v} == expected  # the people wear no mask
    assert "0" in expected
    assert set(shown("problem_unmasked")) <= {"ON", "OFF"}


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
        seen.wait_for(lambda ms: len(ha_configs(ms)) >= 5)
        deadline = time.monotonic() + 10
        while sorted(marked(tmp_path)) != sorted(ha.topics()):
            assert time.monotonic() < deadline, marked(tmp_path)
            time.sleep(0.05)
        publish(mosquitto.port, "homeassistant/status", b"online")
        seen.wait_for(lambda ms: len(ha_configs(ms)) >= 10)
        assert {m.topic for m in ha_configs(seen.messages)} == set(ha.topics()[:-1])
        # a new state document: published directly, retained
        state = ha.state(DeskState().document())
        assert state is not None
        pub.publish_now(state)
        seen.wait_for(lambda ms: len(ha_states(ms)) >= 1)
    finally:
        pub.stop()
    late = collector_factory(mosquitto.port, "homeassistant/#")
    retained = late.wait_for(lambda ms: len(ms) >= 6)
    assert all(m.retain for m in retained)
    assert {m.topic for m in retained} == set(ha.topics())

"""The main loop in process, and `triage-agent run` end to end against a real broker."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest

from agent.config import AgentConfig, parse_config
from agent.flow.events import AlertEvent, Event, OccupancyEvent, TemperatureEvent
from agent.flow.heartbeat import Heartbeat
from agent.flow.liveness import LoopStamp
from agent.flow.ports import Emit
from agent.service.pipeline import Pipeline
from agent.vision.config import VisionConfig
from agent.vision.manifest import label, load_manifest
from agent.wire.outbox import Outbox
from tests.broker import Broker, Collector
from tests.conftest import REPO, AgentProcess, base_config, validate_message, write_config


class ReadingSource:
    """A minimal Source: delivers what the test hands it, from the test's thread."""

    def __init__(self, name: str = "probe", stale_after_s: float = 5.0) -> None:
        self.name = name
        self.heartbeat = Heartbeat(name, stale_after_s)
        self.emit: Emit | None = None
        self.stamps: list[LoopStamp] = []

    def start(self, emit: Emit) -> None:
        self.emit = emit

    def stop(self) -> None:
        self.emit = None

    def loops(self) -> list[LoopStamp]:
        return self.stamps  # what the test says its (imaginary) threads show


class ThresholdAnalyser:
    """Turns float observations into temperature events, and raises an alert on ticks."""

    name = "threshold"

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self.clock = clock  # stamps the events, as a real analyser stamps with the frame's time

    def feed(self, observation: object) -> Sequence[Event]:
        if not isinstance(observation, float):
            return []
        fever = observation >= 37.3
        return [
            TemperatureEvent(
                self.clock(),
                "fever" if fever else "normal",
                observation,
                24.0,
                observation,
                37.3,
                1,
                9,
            )
        ]

    def tick(self, now: float) -> Sequence[Event]:
        return [AlertEvent(now, "crowding", "raised", "abcdef0123456789", "crowded", 7.0)]


T0 = 1_795_435_201.0
"""2026-11-23 12:00:01 UTC: a second into an aligned 3 s reporting period."""


def make_pipeline(
    tmp_path: Path, clock: Callable[[], float] = time.time, **sections: dict[str, object]
) -> tuple[Pipeline, ReadingSource]:
    cfg: AgentConfig = parse_config(base_config(tmp_path, 1883, **sections), environ={})
    src = ReadingSource()
    box = Outbox(cfg.outbox.path)
    return Pipeline(cfg, [src], [ThresholdAnalyser(clock)], box, publisher=None, clock=clock), src


def test_observations_become_events_in_the_outbox(tmp_path: Path) -> None:
    # A fixed clock a second into a reporting period: on the wall clock a period could end
    # between two readings, and its summary would go in between (rightly).
    p, src = make_pipeline(tmp_path, clock=lambda: T0)
    p.start()
    assert src.emit is not None
    src.emit(36.5)
    src.emit(38.2)
    src.emit("ignored by the analyser")
    assert p.engine.step(0)
    assert p.engine.step(0)
    assert p.engine.step(0)
    assert p.last_temperature is not None
    assert p.last_temperature.result == "fever"
    topics = [m.message.topic for m in p.outbox.peek(limit=10)]
    assert topics == ["triage/v1/test-site/desk-1/temperature"] * 2


def test_tick_emits_health_summary_and_counts(tmp_path: Path) -> None:
    p, _ = make_pipeline(tmp_path, clock=lambda: T0)
    p.store(TemperatureEvent(T0, "fever", 38.0, 24.0, 38.0, 37.3, 1, 9))
    p.store(TemperatureEvent(T0, "invalid", 30.0, 24.0, 30.0, 37.3, 1, 9))
    p.tick(T0 + 1)  # health due; the alert of this tick falls in the period 12:00:00-12:00:03
    p.tick(T0 + 3)  # the period ended at T0 + 2: its summary, then this tick's alert
    kinds = [m.message.topic.rsplit("/", 1)[1] for m in p.outbox.peek(limit=10)]
    assert kinds == ["temperature", "temperature", "alert", "health", "summary", "alert", "health"]
    summary = json.loads(p.outbox.peek(limit=10)[4].message.payload)
    assert summary["screened"] == 1  # valid results only
    assert summary["fevers"] == 1
    assert summary["invalid"] == 1
    assert summary["alerts"] == {"crowding": 1}
    assert (summary["period"], summary["date"], summary["start"]) == ("3s", "2026-11-23", "12:00")
    assert (summary["ts"], summary["window_s"]) == ("2026-11-23T12:00:03.000Z", 3.0)
    health = json.loads(p.outbox.peek(limit=10)[3].message.payload)
    assert health["sources"]["probe"]["state"] == "starting"


def test_summary_counts_people_and_max_occupancy(tmp_path: Path) -> None:
    p, _ = make_pipeline(tmp_path, clock=lambda: T0)
    p.store(OccupancyEvent(T0, count=3, max=3, limit=5))
    p.store(OccupancyEvent(T0 + 0.5, count=1, max=6, limit=5, window_s=60, people=4))
    p.store(OccupancyEvent(T0 + 1, count=1, max=2, limit=5, window_s=60, people=2))
    p.tick(T0 + 2)
    summary = [json.loads(m.message.payload) for m in p.outbox.peek(limit=20)]
    s = next(d for d in summary if d["kind"] == "summary")
    assert (s["people"], s["max_occupancy"]) == (6, 6)


# -- end to end: the real process -------------------------------------------------------------


def _kinds(c: Collector, kind: str) -> list[dict[str, object]]:
    return c.kinds(kind)


@pytest.mark.broker
@pytest.mark.slow
def test_run_end_to_end_status_health_summary_and_clean_stop(
    tmp_path: Path,
    mosquitto: Broker,
    collector_factory: Callable[..., Collector],
    agent_process: Callable[..., AgentProcess],
) -> None:
    c = collector_factory(mosquitto.port, "triage/v1/#")
    conf = write_config(tmp_path / "agent.toml", base_config(tmp_path, mosquitto.port))
    agent = agent_process(conf)
    c.wait_for(lambda ms: any(m.topic.endswith("/summary") for m in ms), timeout=30)
    c.wait_for(lambda ms: sum(m.topic.endswith("/health") for m in ms) >= 2, timeout=30)
    assert agent.stop() == 0, agent.output()
    msgs = c.wait_for(
        lambda ms: any(m.topic.endswith("/status") and b"stopping" in m.payload for m in ms)
    )
    docs = [validate_message(m) for m in msgs]
    assert docs[0]["kind"] == "status"
    assert docs[0]["state"] == "online"
    assert "models" not in docs[0], "no vision, no models"
    assert all(d["device"] == "test-site-desk-1" for d in docs)
    seqs = [d["seq"] for d in docs if d["kind"] in ("health", "summary")]
    assert seqs == sorted(seqs)
    assert len(set(d["id"] for d in docs)) == len(docs)
    health = [m for m in msgs if m.topic.endswith("/health")]
    assert all(m.topic == "triage/v1/test-site/desk-1/health" for m in health)

    # A restart continues the sequence.
    last = max(d["seq"] for d in docs)
    c2 = collector_factory(mosquitto.port, "triage/v1/+/+/health")
    agent2 = agent_process(conf)
    got = c2.wait_for(lambda ms: any(not m.retain for m in ms), timeout=30)
    assert min(m.json()["seq"] for m in got if not m.retain) > last
    assert agent2.stop() == 0


@pytest.mark.broker
@pytest.mark.slow
def test_run_starts_without_broker_and_delivers_later(
    tmp_path: Path,
    broker_factory: Callable[..., Broker],
    collector_factory: Callable[..., Collector],
    agent_process: Callable[..., AgentProcess],
) -> None:
    from tests.broker import free_port

    port = free_port()
    conf = write_config(tmp_path / "agent.toml", base_config(tmp_path, port))
    agent = agent_process(conf)
    time.sleep(4)  # events pile up on disk while there is no broker
    box = Outbox(tmp_path / "state" / "outbox.sqlite3")
    assert box.depth() >= 2
    box.close()
    broker = broker_factory(port=port)
    c = collector_factory(broker.port, "triage/v1/#")
    c.wait_for(lambda ms: sum(m.topic.endswith("/health") and not m.retain for m in ms) >= 2, 40)
    seqs = [m.json()["seq"] for m in c.messages if m.topic.endswith(("/health", "/summary"))]
    assert seqs == sorted(seqs)
    assert agent.stop() == 0


@pytest.mark.broker
@pytest.mark.model
@pytest.mark.slow
def test_a_run_with_vision_names_its_models_on_every_status(
    tmp_path: Path,
    mosquitto: Broker,
    collector_factory: Callable[..., Collector],
    agent_process: Callable[..., AgentProcess],
) -> None:
    """The loaded models (manifest name and sha256 prefix) ride on the online status, the
    stopping and offline ones too (the fleet page shows them per desk); health stays as it was."""
    models = REPO / "models"
    vision = VisionConfig(models_dir=models)
    label_of = {s.name: label(s) for s in load_manifest(models / "manifest.json").models}
    expected = {"face": label_of[vision.face_model], "mask": label_of[vision.mask_model]}
    if vision.person_model is not None:
        expected["person"] = label_of[vision.person_model]
    c = collector_factory(mosquitto.port, "triage/v1/#")
    raw = base_config(
        tmp_path,
        mosquitto.port,
        camera={"enabled": True, "source": "simulated"},
        vision={"models_dir": str(models)},
    )
    agent = agent_process(write_config(tmp_path / "agent.toml", raw))
    c.wait_for(lambda ms: any(m.topic.endswith("/health") for m in ms), timeout=60)
    assert agent.stop() == 0, agent.output()
    msgs = c.wait_for(
        lambda ms: any(m.topic.endswith("/status") and b"offline" in m.payload for m in ms)
    )
    docs = [validate_message(m) for m in msgs]
    status = [d for d in docs if d["kind"] == "status"]
    assert [d["state"] for d in status] == ["online", "stopping", "offline"]
    assert all(d["models"] == expected for d in status)
    assert all("models" not in d for d in docs if d["kind"] == "health")

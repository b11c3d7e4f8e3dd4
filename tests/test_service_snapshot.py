"""Tests of agent.service.snapshot: what the running service shows of itself.

On a real :class:`Pipeline` (its outbox file, sources' heartbeats, a real calibrated screening
analyser with an unusable calibration file): the ``status`` snapshot (device, uptime, sources in
wall time, the outbox's figures and its fault, what waits in memory, the last temperature, the
precedence of ``last_error``, the calibration, the clock and summaries; JSON as the status socket
sends it) and systemd's ``STATUS=`` line (broker ?, sources with their rate, outbox depth, a
failing outbox, an unusable calibration file); the integrity analyser found by what it can tell.
With a real publisher and a private mosquitto (``broker``): broker up, then DOWN with the reason.
tests/test_status_server.py covers the socket and its rendering, tests/test_service_watchdog.py
the STUCK threads.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest

from agent import __version__
from agent.config import AgentConfig, parse_config
from agent.flow.events import Event, TemperatureEvent
from agent.flow.heartbeat import Heartbeat
from agent.flow.liveness import LoopStamp
from agent.flow.ports import Analyser, Emit, Source
from agent.service.pipeline import Pipeline
from agent.service.snapshot import integrity_of, snapshot, status_line
from agent.thermometer.config import ScreeningConfig
from agent.thermometer.live_calibration import CalibratedScreening
from agent.thermometer.screening import ScreeningAnalyser
from agent.wire.config import MqttConfig
from agent.wire.contract import Identity, WireMessage
from agent.wire.outbox import Outbox
from agent.wire.publisher import Publisher
from tests.broker import Broker
from tests.conftest import base_config

T0 = 1_795_435_200.0


class Probe:
    """A source as the pipeline sees one: a name, a heartbeat, no threads."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.heartbeat = Heartbeat(name, stale_after_s=5.0)

    def start(self, emit: Emit) -> None:
        pass

    def stop(self) -> None:
        pass

    def loops(self) -> list[LoopStamp]:
        return []


class Integrity:
    """An analyser that knows the camera's integrity state, as the vision integrity one does."""

    name = "integrity"

    def feed(self, observation: object) -> Sequence[Event]:
        return []

    def tick(self, now: float) -> Sequence[Event]:
        return []

    def integrity_snapshot(self) -> dict[str, object]:
        return {"commissioned": True, "open": ["camera_dark"], "check_ms": 4.2}


def pipeline(
    tmp_path: Path,
    sources: Sequence[Source] = (),
    analysers: Sequence[Analyser] = (),
    outbox: Outbox | None = None,
    publisher: Callable[[AgentConfig, Outbox], Publisher] | None = None,
    port: int = 1883,
) -> Pipeline:
    cfg: AgentConfig = parse_config(base_config(tmp_path, port), environ={})
    box = outbox or Outbox(cfg.outbox.path)
    pub = publisher(cfg, box) if publisher is not None else None
    return Pipeline(cfg, sources, analysers, box, pub, clock=lambda: T0)


def message(seq: int) -> WireMessage:
    return WireMessage(f"x/{seq}", b"{}", retain=False)


def unopenable(tmp_path: Path) -> Outbox:
    blocker = tmp_path / "blocker"
    blocker.write_text("")
    return Outbox(blocker / "o.sqlite3")


def test_a_fresh_service_shows_itself_without_a_broker(tmp_path: Path) -> None:
    thermo = Probe("thermometer")
    p = pipeline(tmp_path, [thermo])
    thermo.heartbeat.beat(T0 - 2)
    snap = snapshot(p)
    assert json.loads(json.dumps(snap)) == snap  # what the status socket sends
    assert snap["device"] == "test-site-desk-1"
    assert snap["version"] == __version__
    assert snap["uptime_s"] == 0.0
    assert snap["broker"] == {"connected": False}
    assert snap["sources"]["thermometer"] == {
        "state": "ok",
        "since": T0 - 2,
        "age_s": 2.0,
        "fps": None,
        "errors": 0,
    }
    assert snap["outbox"] == {
        "depth": 0,
        "oldest_s": None,
        "evicted": 0,
        "storage": None,
        "advice": None,
        "kept_in_memory": 0,
        "published_directly": 0,
        "resets": 0,
        "notices": [],
    }
    assert (snap["inference_ms"], snap["last_temperature"], snap["dropped"]) == (None, None, 0)
    assert (snap["stuck_threads"], snap["last_error"]) == ([], None)
    assert (snap["integrity"], snap["calibration"]) == (None, None)
    assert snap["clock"] == {
        "state": "synced",
        "steps": 0,
        "last_step_s": None,
        "summaries": "on",
        "kept_for_summaries": 0,
    }


def test_the_last_temperature_and_the_outbox_figures(tmp_path: Path) -> None:
    p = pipeline(tmp_path)
    p.store(TemperatureEvent(T0, "fever", 38.1, 24.0, 38.1, 37.3, 1.0, 9))
    p.outbox.append(message)
    snap = snapshot(p)
    assert snap["last_temperature"]["estimate_c"] == 38.1
    assert snap["last_temperature"]["result"] == "fever"
    assert snap["outbox"]["depth"] == 2
    assert snap["outbox"]["oldest_s"] is not None
    assert snap["outbox"]["oldest_s"] >= 0


def test_last_error_prefers_the_outbox_then_the_service_then_the_sources(tmp_path: Path) -> None:
    a, b = Probe("thermometer"), Probe("camera")
    p = pipeline(tmp_path / "ok", [a, b])
    a.heartbeat.error("thermometer: bad checksum")
    b.heartbeat.error("camera: no frame for 14 s")
    assert snapshot(p)["last_error"] == "camera: no frame for 14 s"  # the last source's
    p.last_error = "outbox write failed: disk full"
    assert snapshot(p)["last_error"] == "outbox write failed: disk full"
    failing = pipeline(tmp_path / "failing", [a, b], outbox=unopenable(tmp_path))
    failing.last_error = "something else"
    snap = snapshot(failing)
    assert snap["last_error"] == "outbox: cannot open"
    assert snap["outbox"]["storage"] == "cannot open"
    assert "check outbox.path" in snap["outbox"]["advice"]


def test_events_waiting_in_memory_show_in_the_snapshot_and_the_line(tmp_path: Path) -> None:
    p = pipeline(tmp_path, outbox=unopenable(tmp_path))
    for i in range(3):
        p.store(TemperatureEvent(T0 + i, "normal", 36.5, 24.0, 36.5, 37.3, 1.0, 9))
    assert snapshot(p)["outbox"]["kept_in_memory"] == 3
    assert status_line(p, T0) == "broker ?, outbox 0, outbox FAILING: cannot open, 3 in memory"


def test_the_status_line_names_sources_with_their_rate_and_the_depth(tmp_path: Path) -> None:
    thermo, camera = Probe("thermometer"), Probe("camera")
    p = pipeline(tmp_path, [thermo, camera])
    for _ in range(3):
        thermo.heartbeat.beat(T0)
        time.sleep(0.05)
    p.outbox.append(message)
    line = status_line(p, T0)
    assert re.fullmatch(r"broker \?, thermometer ok \d+\.\d/s, camera starting, outbox 1", line), (
        line
    )
    assert status_line(p, T0 + 60).startswith("broker ?, thermometer stale, camera starting")


def test_an_unusable_calibration_file_is_in_both(tmp_path: Path) -> None:
    path = tmp_path / "calibration.json"
    path.write_text("{not json")
    cal = CalibratedScreening(ScreeningAnalyser(ScreeningConfig()), path, 0.3, clock=lambda: T0)
    p = pipeline(tmp_path, analysers=[cal])
    snap = snapshot(p)
    assert snap["calibration"]["problem"] is not None
    assert snap["calibration"]["offset_c"] == 0.3
    assert snap["calibration"]["problem_since"] == T0
    assert status_line(p, T0) == (
        "broker ?, outbox 0, calibration file UNUSABLE, offset +0.30 °C (screening.site_offset_c)"
    )
    path.unlink()
    cal.check_file()
    assert "calibration" not in status_line(p, T0)
    assert snapshot(p)["calibration"]["problem"] is None


def test_the_integrity_analyser_is_found_by_what_it_can_tell(tmp_path: Path) -> None:
    integrity = Integrity()
    screening = ScreeningAnalyser(ScreeningConfig())
    assert integrity_of([screening, integrity]) is integrity
    assert integrity_of([screening]) is None
    p = pipeline(tmp_path, analysers=[screening, integrity])
    assert snapshot(p)["integrity"] == integrity.integrity_snapshot()


@pytest.mark.broker
def test_broker_up_then_down_with_the_reason(
    tmp_path: Path, broker_factory: Callable[..., Broker]
) -> None:
    broker = broker_factory()

    def publisher(cfg: AgentConfig, box: Outbox) -> Publisher:
        mqtt = MqttConfig.model_validate(
            {"port": broker.port, "reconnect_min_s": 1, "reconnect_max_s": 1}
        )
        return Publisher(mqtt, Identity.of(cfg.device, cfg.mqtt), box)

    p = pipeline(tmp_path, [Probe("thermometer")], publisher=publisher, port=broker.port)
    assert p.publisher is not None
    p.publisher.start()
    try:
        wait_until(lambda: snapshot(p)["broker"]["connected"])
        snap = snapshot(p)["broker"]
        assert snap["host"] == f"127.0.0.1:{broker.port}"
        assert snap["connects"] == 1
        assert status_line(p, T0).startswith("broker up, thermometer starting")
        broker.stop()
        # the reconnection attempts to a closed port say why, in the technician's words
        wait_until(
            lambda: str(snapshot(p)["broker"]["last_error"]).startswith("refused: "), timeout=30
        )
        assert snapshot(p)["broker"]["connected"] is False
        assert status_line(p, T0).startswith("broker DOWN")
    finally:
        p.publisher.stop()


def wait_until(cond: Callable[[], bool], timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.05)

"""Tests of agent.service.health: the periodic ``health`` event, built from a real pipeline.

:func:`health_event` on a real :class:`Pipeline` (its outbox file, its sources' heartbeats, injected
wall and agent clocks): states and ``since`` moved from agent to wall time across a clock step,
uptime on agent time, rejected inputs summed, outbox figures, resets, the storage fault of an
outbox that cannot be opened, the clock's state; every event encodes valid against the contract.
:func:`inference_ms` and :func:`loaded_models` ask the first source that can tell.
:func:`publish_directly`: nothing without a publisher (no sequence number spent), through a real
publisher to a private mosquitto (``broker``) retained with a reserved number and not kept in the
outbox, and a health past the payload bound is logged, never published.
tests/test_pipeline.py covers health among the main loop's periodic events.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest

from agent import __version__
from agent.config import AgentConfig, parse_config
from agent.flow.clock import ClockState
from agent.flow.events import SourceHealth
from agent.flow.heartbeat import Heartbeat
from agent.flow.liveness import LoopStamp
from agent.flow.ports import Emit, Source
from agent.service.health import (
    health_event,
    inference_ms,
    loaded_models,
    publish_directly,
)
from agent.service.pipeline import Pipeline
from agent.wire.config import MqttConfig
from agent.wire.contract import WireMessage, encode
from agent.wire.outbox import Outbox
from agent.wire.publisher import Publisher
from tests.broker import Broker, Collector, Received
from tests.conftest import base_config, validate_message

T0 = 1_795_435_200.0
"""2026-11-23 12:00:00 UTC."""


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


class Worker(Probe):
    """A source that can tell its inference time and models, as the vision worker does."""

    def __init__(self, name: str, ms: float | None, models: dict[str, str] | None) -> None:
        super().__init__(name)
        self._ms = ms
        self._models = models

    def inference_ms(self) -> float | None:
        return self._ms

    def models(self) -> dict[str, str] | None:
        return self._models


class Clocks:
    """A wall clock the test steps and an agent clock that only advances."""

    def __init__(self) -> None:
        self.wall = T0
        self.agent = 5000.0


def pipeline(
    tmp_path: Path,
    sources: list[Source],
    clocks: Clocks,
    state: ClockState = "synced",
    outbox: Outbox | None = None,
) -> Pipeline:
    cfg: AgentConfig = parse_config(base_config(tmp_path, 1883), environ={})
    return Pipeline(
        cfg,
        sources,
        [],
        outbox or Outbox(cfg.outbox.path),
        publisher=None,
        clock=lambda: clocks.wall,
        agent_clock=lambda: clocks.agent,
        clock_state=lambda: state,
    )


def message(seq: int) -> WireMessage:
    return WireMessage(f"x/{seq}", b"{}", retain=False)


def on_the_wire(p: Pipeline, seq: int = 1) -> dict[str, object]:
    msg = encode(health_event(p, p.clocks.wall(), p.clocks.agent()), p.identity, seq)
    return validate_message(Received(msg.topic, msg.payload, msg.retain))


def test_inference_and_models_come_from_the_first_source_that_can_tell() -> None:
    plain = Probe("thermometer")
    vision = Worker("camera", 35.25, {"face": "yunet@0123abcd"})
    later = Worker("other", 99.0, {"face": "other@ffff0000"})
    assert inference_ms([plain, vision, later]) == 35.25
    assert loaded_models([plain, vision, later]) == {"face": "yunet@0123abcd"}
    assert inference_ms([plain]) is None
    assert loaded_models([]) is None
    quiet = Worker("camera", None, None)  # no frame analysed yet
    assert inference_ms([quiet, later]) is None
    assert loaded_models([quiet, later]) is None


def test_health_reports_sources_uptime_and_outbox_in_wall_time(tmp_path: Path) -> None:
    clocks = Clocks()
    thermo, camera = Probe("thermometer"), Worker("camera", 41.0, None)
    p = pipeline(tmp_path, [thermo, camera], clocks)
    for i in range(3):
        p.outbox.append(message)
        thermo.heartbeat.error(f"bad checksum {i}")
    camera.heartbeat.error()
    thermo.heartbeat.beat(clocks.agent + 10)  # ok since agent time 5010
    clocks.agent += 12  # 12 s of agent time later...
    clocks.wall += 3600 + 12  # ...while the wall clock was also stepped an hour forward
    h = health_event(p, clocks.wall, clocks.agent)
    assert h.at == clocks.wall
    assert h.uptime_s == 12  # agent time: the step does not count
    assert h.version == __version__
    assert h.sources["thermometer"] == SourceHealth(
        "ok", since=T0 + 3600 + 10, age_s=2.0, fps=None, errors=3
    )
    assert h.sources["camera"].state == "starting"
    assert h.sources["camera"].errors == 1
    assert (h.rejected, h.dropped, h.evicted) == (4, 0, 0)
    assert h.outbox_depth == 3
    assert h.outbox_oldest_s is not None
    assert h.inference_ms == 41.0
    assert (h.storage, h.outbox_resets, h.clock) == (None, None, None)
    doc = on_the_wire(p)
    assert doc["kind"] == "health"
    assert doc["rejected"] == 4


def test_without_agent_time_the_wall_time_stands_for_both(tmp_path: Path) -> None:
    clocks = Clocks()
    src = Probe("thermometer")
    p = pipeline(tmp_path, [src], clocks)
    src.heartbeat.beat(T0 + 5)
    h = health_event(p, T0 + 7)
    assert h.sources["thermometer"].since == T0 + 5
    assert h.sources["thermometer"].age_s == 2.0


def test_an_unsynchronised_clock_is_said(tmp_path: Path) -> None:
    p = pipeline(tmp_path, [Probe("thermometer")], Clocks(), state="unsynced")
    assert health_event(p, T0).clock == "unsynced"
    assert on_the_wire(p)["clock"] == "unsynced"
    free = pipeline(tmp_path / "free", [], Clocks(), state="free")
    assert health_event(free, T0).clock == "unsynced"  # not synchronised either


def test_an_outbox_that_cannot_be_opened_is_the_storage_fault(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    p = pipeline(tmp_path, [Probe("thermometer")], Clocks(), outbox=Outbox(blocker / "o.sqlite3"))
    h = health_event(p, T0)
    assert h.storage == "cannot open"
    assert (h.outbox_depth, h.outbox_oldest_s) == (0, None)
    assert on_the_wire(p)["storage"] == "cannot open"


def test_replaced_outboxes_are_counted(tmp_path: Path) -> None:
    path = tmp_path / "o.sqlite3"
    first = Outbox(path)
    first.append(message)
    first.close()
    path.write_bytes(b"not a database at all" * 100)  # damaged while the box was off
    p = pipeline(tmp_path, [], Clocks(), outbox=Outbox(path))
    assert health_event(p, T0).outbox_resets == 1
    fresh = pipeline(tmp_path / "fresh", [], Clocks())
    assert health_event(fresh, T0).outbox_resets is None  # none: the field is left out


def test_without_a_publisher_nothing_is_sent_and_no_number_spent(tmp_path: Path) -> None:
    p = pipeline(tmp_path, [Probe("thermometer")], Clocks())
    before = p.outbox.reserve_seq()
    publish_directly(p, health_event(p, T0))
    assert p.outbox.reserve_seq() == before + 1


def publisher_for(p: Pipeline, port: int) -> Publisher:
    cfg = MqttConfig.model_validate({"port": port, "reconnect_min_s": 1, "reconnect_max_s": 1})
    pub = Publisher(cfg, p.identity, p.outbox)
    pub.start()
    deadline = time.monotonic() + 15
    while not pub.state().connected:
        assert time.monotonic() < deadline, "the publisher did not connect"
        time.sleep(0.05)
    return pub


def test_published_directly_retained_with_a_reserved_number_and_not_kept(
    tmp_path: Path, mosquitto: Broker, collector_factory: Callable[..., Collector]
) -> None:
    p = pipeline(tmp_path, [Probe("thermometer")], Clocks())
    pub = publisher_for(p, mosquitto.port)
    p.publisher = pub
    try:
        spent = p.outbox.last_seq()  # the publisher's own status messages took numbers
        witness = collector_factory(mosquitto.port, p.identity.topic("health"))
        publish_directly(p, health_event(p, T0))
        witness.wait_for(lambda ms: len(ms) == 1)  # the broker has it: a later subscriber
        late = collector_factory(mosquitto.port, p.identity.topic("health"))  # gets it retained
        [got] = late.wait_for(lambda ms: len(ms) == 1)
        assert got.retain
        doc = validate_message(got)
        assert doc["seq"] > spent
        assert doc["ts"] == "2026-11-23T12:00:00.000Z"
        assert p.outbox.reserve_seq() > doc["seq"]  # the number was spent
        assert p.outbox.depth() == 0  # not kept in the outbox
    finally:
        pub.stop()


def test_a_health_past_the_payload_bound_is_logged_not_published(
    tmp_path: Path,
    mosquitto: Broker,
    collector_factory: Callable[..., Collector],
    caplog: pytest.LogCaptureFixture,
) -> None:
    p = pipeline(tmp_path, [], Clocks())
    pub = publisher_for(p, mosquitto.port)
    p.publisher = pub
    seen = collector_factory(mosquitto.port, p.identity.topic("health"))
    try:
        state = SourceHealth("ok", T0)
        huge = replace(
            health_event(p, T0), sources={f"source-{i:04d}-" + "x" * 40: state for i in range(400)}
        )
        with caplog.at_level(logging.ERROR, logger="agent.service.pipeline"):
            publish_directly(p, huge)
            publish_directly(p, health_event(p, T0))  # the control: this one goes out
        [got] = seen.wait_for(lambda ms: len(ms) == 1)
        assert validate_message(got)["sources"] == {}
        assert len(seen.settle(quiet_s=0.5)) == 1
        [record] = caplog.records
        assert record.getMessage().startswith("health not published: health payload is ")
    finally:
        pub.stop()

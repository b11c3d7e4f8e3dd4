"""Tests of agent.service.event_sink: where the main loop's events go.

Over a real outbox file: events are stored in order with the state each changed, one too large for
the wire is dropped and counted without blocking the rest. While the outbox cannot be written (a
real one that cannot be opened: its folder is a file) events wait in memory in order, at most
:data:`KEPT_MAX` (the oldest dropped and counted beyond), the failure is told once per event and
logged at most once a minute, and they are stored, oldest first, once the outbox opens again.
With a real publisher and a private mosquitto (``broker``) they go straight to the broker while it
is connected, in order, and wait in memory while it is not.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from agent.flow.events import AlertEvent, Event, TemperatureEvent
from agent.service.event_sink import KEPT_MAX, EventSink
from agent.wire import outbox_faults
from agent.wire.config import MqttConfig
from agent.wire.contract import Identity
from agent.wire.outbox import Outbox
from agent.wire.publisher import Publisher
from tests.broker import Broker, Collector, Received
from tests.conftest import validate_message

ID = Identity("triage/v1", "clinic-042", "desk-1", "clinic-042-desk-1")
T0 = 1_795_435_200.0


def reading(i: int) -> TemperatureEvent:
    """Event ``i``: its estimate tells which one it is (36.00 + i / 100)."""
    return TemperatureEvent(T0 + i, "normal", 36.0, 24.0, round(36 + i / 100, 2), 37.5, 1.0, 9)


def which(payload: bytes) -> int:
    estimate: float = json.loads(payload)["estimate_c"]
    return round((estimate - 36) * 100)


@dataclass
class Engine:
    """What the sink tells the service: drops (the engine's count) and write errors."""

    drops: int = 0
    errors: list[str] = field(default_factory=list)

    def count_drop(self) -> None:
        self.drops += 1


def tally(event: Event) -> dict[str, str] | None:
    """The summary tally's state for an event (the service's ``state_for``)."""
    if isinstance(event, TemperatureEvent):
        return {"last": str(round(event.at))}
    return None


def sink(outbox: Outbox, engine: Engine, publisher: Publisher | None = None) -> EventSink:
    return EventSink(outbox, publisher, ID, engine.count_drop, tally, engine.errors.append)


def stored(outbox: Outbox) -> list[int]:
    return [which(m.message.payload) for m in outbox.peek(limit=100_000)]


@pytest.fixture
def retry_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(outbox_faults, "RETRY_EVERY_S", 0.0)


class Unopenable:
    """A real outbox whose folder is a file: every write fails until the folder is made."""

    def __init__(self, tmp_path: Path) -> None:
        self.folder = tmp_path / "state"
        self.folder.write_text("")
        self.outbox = Outbox(self.folder / "o.sqlite3")

    def repair(self) -> None:
        self.folder.unlink()
        self.folder.mkdir()
        self.outbox.retry()
        assert self.outbox.fault is None


def test_events_are_stored_in_order_with_their_state(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "o.sqlite3")
    engine = Engine()
    s = sink(box, engine)
    for i in range(5):
        s.put(reading(i))
    assert stored(box) == [0, 1, 2, 3, 4]
    assert box.state.load("last") == str(round(T0 + 4))
    assert (s.stored, s.kept, s.published_directly) == (5, 0, 0)
    assert (engine.drops, engine.errors) == (0, [])
    for row in box.peek():
        validate_message(Received(row.message.topic, row.message.payload, row.message.retain))
    box.close()


def test_an_event_too_large_for_the_wire_is_dropped_and_the_rest_stored(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    box = Outbox(tmp_path / "o.sqlite3")
    engine = Engine()
    s = sink(box, engine)
    huge = AlertEvent(T0, "crowding", "raised", "0123456789abcdef", "x" * 2000)
    with caplog.at_level(logging.ERROR, logger="agent.service.pipeline"):
        s.put(reading(1))
        s.put(huge)
        s.put(reading(2))
    assert stored(box) == [1, 2]
    assert (s.kept, engine.drops) == (0, 1)
    assert engine.errors == []  # not a storage fault
    sink_lines = [r.getMessage() for r in caplog.records if r.name == "agent.service.pipeline"]
    assert [m.split(":")[0] for m in sink_lines] == ["event not stored"]
    box.close()


def test_a_dropped_event_is_not_counted_as_stored(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "o.sqlite3")
    s = sink(box, Engine())
    s.put(AlertEvent(T0, "crowding", "raised", "0123456789abcdef", "x" * 2000))
    s.put(reading(1))
    box.close()
    assert s.stored == 1


def test_while_the_outbox_fails_events_wait_in_memory_and_are_stored_later(
    tmp_path: Path, retry_at_once: None, caplog: pytest.LogCaptureFixture
) -> None:
    broken = Unopenable(tmp_path)
    engine = Engine()
    s = sink(broken.outbox, engine)
    with caplog.at_level(logging.ERROR, logger="agent.service.pipeline"):
        for i in range(10):
            s.put(reading(i))
    assert (s.kept, s.stored, engine.drops) == (10, 0, 0)
    assert engine.errors == ["outbox write failed: cannot open"] * 10
    logged = [r.getMessage() for r in caplog.records if r.name == "agent.service.pipeline"]
    assert len(logged) == 1  # once a minute, not once an event
    assert "1 waiting in memory (at most 2000)" in logged[0]
    assert str(broken.outbox.path) in logged[0]
    broken.repair()
    s.store_kept()  # the main loop's next tick
    assert (s.kept, s.stored) == (0, 10)
    assert stored(broken.outbox) == list(range(10))
    assert broken.outbox.state.load("last") == str(round(T0 + 9))


def test_beyond_kept_max_the_oldest_are_dropped_and_counted(
    tmp_path: Path, retry_at_once: None
) -> None:
    broken = Unopenable(tmp_path)
    engine = Engine()
    s = sink(broken.outbox, engine)
    for i in range(KEPT_MAX + 5):
        s.put(reading(i))
    assert (s.kept, engine.drops) == (KEPT_MAX, 5)
    broken.repair()
    s.store_kept()
    assert stored(broken.outbox) == list(range(5, KEPT_MAX + 5))


@pytest.fixture
def publisher(tmp_path: Path) -> Iterator[Callable[[Outbox, int], Publisher]]:
    started: list[Publisher] = []

    def start(outbox: Outbox, port: int) -> Publisher:
        cfg = MqttConfig.model_validate({"port": port, "reconnect_min_s": 1, "reconnect_max_s": 1})
        pub = Publisher(cfg, ID, outbox)
        pub.start()
        started.append(pub)
        wait_until(lambda: pub.state().connected)
        return pub

    yield start
    for pub in started:
        pub.stop()


def wait_until(cond: Callable[[], bool], timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.05)


def test_while_the_outbox_fails_events_go_straight_to_a_connected_broker(
    tmp_path: Path,
    retry_at_once: None,
    broker_factory: Callable[..., Broker],
    collector_factory: Callable[..., Collector],
    publisher: Callable[[Outbox, int], Publisher],
) -> None:
    broker = broker_factory()
    broken = Unopenable(tmp_path)
    pub = publisher(broken.outbox, broker.port)
    seen = collector_factory(broker.port, ID.topic("temperature"))
    engine = Engine()
    s = sink(broken.outbox, engine, pub)
    for i in range(5):
        s.put(reading(i))
    assert (s.kept, s.published_directly, s.stored) == (0, 5, 0)
    msgs = seen.wait_for(lambda ms: len(ms) == 5)
    assert [which(m.payload) for m in msgs] == [0, 1, 2, 3, 4]
    seqs = [validate_message(m)["seq"] for m in msgs]
    assert seqs == sorted(set(seqs))  # reserved numbers, increasing

    broker.stop()  # the broker goes away too: events wait in memory
    wait_until(lambda: not pub.state().connected)
    for i in range(5, 8):
        s.put(reading(i))
    assert (s.kept, s.published_directly) == (3, 5)

    back = broker_factory(port=broker.port)
    again = collector_factory(back.port, ID.topic("temperature"))
    wait_until(lambda: pub.state().connected, timeout=30)
    s.publish_kept_directly()  # the main loop's next tick
    assert (s.kept, s.published_directly) == (0, 8)
    assert [which(m.payload) for m in again.wait_for(lambda ms: len(ms) == 3)] == [5, 6, 7]

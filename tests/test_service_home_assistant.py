"""Tests of agent.service.home_assistant: the desk's state document for Home Assistant.

:func:`desk_state` starts from the alerts a real alert book (its file in a state directory)
carried over a restart, or from nothing without a book. :class:`HomeAssistantState` takes each
stored event into the document: a change is kept by the discovery (sent again after every
connection) and, with a publisher, published retained at once, through a real publisher to a
private mosquitto (``broker``); an event that changes nothing publishes nothing, and a box with
discovery off publishes no state. tests/test_wire_discovery.py covers the discovery's configs and
the agent end to end.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from agent.flow.alerts import AlertBook, AlertLatch
from agent.flow.events import AlertEvent, OccupancyEvent, TemperatureEvent
from agent.flow.ports import Analyser
from agent.service.alert_store import AlertFile
from agent.service.home_assistant import HomeAssistantState, desk_state
from agent.wire.config import HomeAssistantConfig, MqttConfig
from agent.wire.contract import Identity, WireMessage
from agent.wire.discovery import Discovery, Entities, state_topic
from agent.wire.ha_state import DeskState
from agent.wire.outbox import Outbox
from agent.wire.publisher import Publisher
from tests.broker import Broker, Collector

ID = Identity("triage/v1", "clinic-042", "desk-1", "clinic-042-desk-1")
WANTED = Entities(True, True, ("front-desk", "queue"), ("front-desk",))
STATE = state_topic("homeassistant", ID)
T0 = 1_795_435_200.0


def temperature(at: float, estimate_c: float, result: str = "normal") -> TemperatureEvent:
    return TemperatureEvent(
        at=at,
        result=result,  # type: ignore[arg-type]
        object_c=estimate_c - 0.5,
        ambient_c=24.0,
        estimate_c=estimate_c,
        threshold_c=37.5,
        plateau_s=1.2,
        samples=12,
    )


def people(at: float, desk: int, queue: int) -> OccupancyEvent:
    n = desk + queue
    return OccupancyEvent(
        at=at, count=n, max=n, limit=8, zones={"front-desk": desk, "queue": queue}
    )


def discovery(tmp_path: Path, enabled: bool = True) -> Discovery:
    return Discovery(HomeAssistantConfig(enabled=enabled), ID, WANTED, "1", tmp_path)


def kept_state(d: Discovery) -> dict[str, object] | None:
    """The state document the discovery sends after the next connection."""
    states = [m for m in d.on_connect() if m.topic == STATE]
    return json.loads(states[0].payload) if states else None


def raised_before_restart(state_dir: Path) -> list[Analyser]:
    """A real alert book that raised camera_covered and crowding, then a new process's book."""
    before = AlertBook(AlertFile.in_state_dir(state_dir), T0, 60.0)
    for alert in ("camera_covered", "crowding"):
        latch = AlertLatch(alert, raise_after_s=5, clear_after_s=5, book=before)
        latch.update(True, T0)
        assert latch.update(True, T0 + 5) is not None
    return [AlertBook(AlertFile.in_state_dir(state_dir), T0 + 100, 60.0)]


def test_the_state_starts_with_the_alerts_carried_over_a_restart(tmp_path: Path) -> None:
    analysers = raised_before_restart(tmp_path)
    desk = desk_state(["front-desk"], analysers)
    assert desk.staff_zones == ("front-desk",)
    assert desk.document() == {
        "open": {"camera_covered": 1, "crowding": 1},
        "setup": ["camera_covered"],
        "open_alerts": 2,
    }


def test_without_an_alert_book_nothing_is_open(tmp_path: Path) -> None:
    assert desk_state([], []).document() == {"open": {}, "setup": [], "open_alerts": 0}


def test_a_carried_alert_clears_by_its_id(tmp_path: Path) -> None:
    analysers = raised_before_restart(tmp_path)
    [book] = analysers
    assert isinstance(book, AlertBook)
    crowding = next(a for a in book.open_alerts if a.alert == "crowding")
    ha = HomeAssistantState(discovery(tmp_path), None, desk_state([], analysers))
    ha.hear(AlertEvent(T0 + 200, "crowding", "cleared", crowding.alert_id, "over"))
    assert kept_state(ha.discovery) == {
        "open": {"camera_covered": 1},
        "setup": ["camera_covered"],
        "open_alerts": 1,
    }


def test_each_change_is_kept_for_the_next_connection(tmp_path: Path) -> None:
    d = discovery(tmp_path)
    ha = HomeAssistantState(d, None, DeskState(["front-desk"]))
    assert kept_state(d) is None  # nothing known yet: nothing to send
    ha.hear(temperature(T0, 36.714))
    assert kept_state(d) == {"open": {}, "setup": [], "open_alerts": 0, "temperature": 36.71}
    ha.hear(temperature(T0 + 1, 30.0, result="invalid"))  # changes nothing
    ha.hear(people(T0 + 2, desk=1, queue=2))
    assert kept_state(d) == {
        "open": {},
        "setup": [],
        "open_alerts": 0,
        "temperature": 36.71,
        "people": 3,
        "zones": {"front-desk": 1, "queue": 2},
        "desk_attended": True,
    }


def test_with_discovery_off_nothing_is_kept(tmp_path: Path) -> None:
    d = discovery(tmp_path, enabled=False)
    ha = HomeAssistantState(d, None, DeskState())
    ha.hear(temperature(T0, 36.6))
    assert ha.desk.document()["temperature"] == 36.6  # the desk still follows the events
    assert d.on_connect() == []


@pytest.fixture
def publisher(
    tmp_path: Path, mosquitto: Broker
) -> Iterator[Callable[[Discovery | None], Publisher]]:
    started: list[Publisher] = []

    def start(d: Discovery | None) -> Publisher:
        cfg = MqttConfig.model_validate(
            {"port": mosquitto.port, "reconnect_min_s": 1, "reconnect_max_s": 1}
        )
        box = Outbox(tmp_path / f"o{len(started)}.sqlite3")
        pub = Publisher(cfg, ID, box, discovery=d)
        pub.start()
        started.append(pub)
        deadline = time.monotonic() + 15
        while not pub.state().connected:
            assert time.monotonic() < deadline, "the publisher did not connect"
            time.sleep(0.05)
        return pub

    yield start
    for pub in started:
        pub.stop()


def states(c: Collector) -> list[dict[str, object]]:
    return [json.loads(m.payload) for m in c.messages if m.topic == STATE]


def test_changes_are_published_retained_at_once_and_only_changes(
    tmp_path: Path,
    mosquitto: Broker,
    collector_factory: Callable[..., Collector],
    publisher: Callable[[Discovery | None], Publisher],
) -> None:
    d = discovery(tmp_path)
    pub = publisher(d)
    live = collector_factory(mosquitto.port, STATE)
    ha = HomeAssistantState(d, pub, DeskState(["front-desk"]))
    ha.hear(temperature(T0, 36.6))
    live.wait_for(lambda ms: len(ms) == 1)
    ha.hear(temperature(T0 + 1, 36.6))  # the same value: no new document
    ha.hear(temperature(T0 + 2, 36.6, result="invalid"))
    ha.hear(people(T0 + 3, desk=0, queue=1))
    live.wait_for(lambda ms: len(ms) == 2)
    live.settle(quiet_s=0.5)
    assert states(live) == [
        {"open": {}, "setup": [], "open_alerts": 0, "temperature": 36.6},
        {
            "open": {},
            "setup": [],
            "open_alerts": 0,
            "temperature": 36.6,
            "people": 1,
            "zones": {"front-desk": 0, "queue": 1},
            "desk_attended": False,
        },
    ]
    late = collector_factory(mosquitto.port, STATE)
    [kept] = late.wait_for(lambda ms: len(ms) == 1)
    assert kept.retain
    assert json.loads(kept.payload) == ha.desk.document()


def test_no_state_is_published_with_discovery_off(
    tmp_path: Path,
    mosquitto: Broker,
    collector_factory: Callable[..., Collector],
    publisher: Callable[[Discovery | None], Publisher],
) -> None:
    d = discovery(tmp_path, enabled=False)
    pub = publisher(d)
    seen = collector_factory(mosquitto.port, "homeassistant/#")
    ha = HomeAssistantState(d, pub, DeskState())
    ha.hear(temperature(T0, 36.6))
    ha.hear(people(T0 + 1, desk=1, queue=0))
    pub.publish_now(WireMessage("homeassistant/control", b"1", retain=False))
    seen.wait_for(lambda ms: len(ms) >= 1)
    # one client's messages arrive in order: a state published before would have come first
    assert [m.topic for m in seen.settle(quiet_s=0.5)] == ["homeassistant/control"]

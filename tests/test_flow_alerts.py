"""Tests of agent.flow.alerts: the one alert latch (delays, hysteresis, ids, keyed latches)."""

from __future__ import annotations

import json
import re
from pathlib import Path

from agent.flow.alerts import ActiveAlert, AlertLatch, AlertLatches, new_alert_id

SCHEMA = Path(__file__).resolve().parents[1] / "agent" / "wire" / "schemas" / "alert.json"


def test_alert_ids_match_the_contract_pattern() -> None:
    pattern = json.loads(SCHEMA.read_text())["properties"]["alert_id"]["pattern"]
    ids = {new_alert_id() for _ in range(200)}
    assert len(ids) == 200
    assert all(re.fullmatch(pattern, i) for i in ids)


def test_raises_after_delay_and_clears_with_hysteresis_same_id() -> None:
    latch = AlertLatch("crowding", raise_after_s=10.0, clear_after_s=5.0)
    assert latch.update(True, 100.0) is None
    assert latch.update(True, 109.9) is None
    raised = latch.update(True, 110.0)
    assert raised is not None
    assert raised.raised
    assert (raised.alert, raised.state, raised.at, raised.since) == (
        "crowding",
        "raised",
        110.0,
        100.0,
    )
    assert latch.update(True, 111.0) is None  # never an event per observation
    assert latch.update(False, 112.0) is None
    assert latch.update(True, 113.0) is None  # a blip back resets the clear delay
    assert latch.update(False, 114.0) is None
    assert latch.update(False, 118.9) is None
    cleared = latch.update(False, 119.0)
    assert cleared is not None
    assert not cleared.raised
    assert cleared.alert_id == raised.alert_id
    assert cleared.since == 114.0
    assert latch.active is None
    again = latch.update(True, 200.0)
    assert again is None
    again = latch.update(True, 210.0)
    assert again is not None
    assert again.alert_id != raised.alert_id


def test_event_carries_the_transition() -> None:
    latch = AlertLatch("unmasked", ids=lambda: "0123abcd")
    change = latch.update(True, 5.0)
    assert change is not None
    event = change.event("someone unmasked", value=12.5)
    assert (event.at, event.alert, event.state, event.alert_id) == (
        5.0,
        "unmasked",
        "raised",
        "0123abcd",
    )
    assert (event.message, event.value) == ("someone unmasked", 12.5)


def test_raise_now_and_clear_now_for_facts() -> None:
    latch = AlertLatch("fever")
    assert latch.clear_now(1.0) is None  # nothing to clear
    first = latch.raise_now(2.0)
    assert first is not None
    assert first.raised
    assert latch.raise_now(3.0) is None  # already raised: one alert, one id
    cleared = latch.clear_now(4.0)
    assert cleared is not None
    assert cleared.alert_id == first.alert_id
    assert latch.clear_now(5.0) is None
    second = latch.raise_now(6.0)
    assert second is not None
    assert second.alert_id != first.alert_id


def test_restored_alert_clears_with_its_old_id() -> None:
    latch = AlertLatch("crowding", raise_after_s=1.0, clear_after_s=2.0)
    latch.restore(ActiveAlert("feedbeef", since=50.0))
    assert latch.raised
    assert latch.update(False, 60.0) is None
    cleared = latch.update(False, 62.0)
    assert cleared is not None
    assert cleared.alert_id == "feedbeef"


def test_keyed_latches_are_independent_and_absent_keys_clear() -> None:
    zones: AlertLatches[str] = AlertLatches("crowding", raise_after_s=1.0, clear_after_s=1.0)
    assert zones.update_all({"queue": True, "desk": False}, 0.0) == []
    changes = zones.update_all({"queue": True, "desk": True}, 1.0)
    assert [(c.key, c.change.state) for c in changes] == [("queue", "raised")]
    changes = zones.update_all({"desk": True}, 2.0)  # queue no longer reported: counts as false
    assert [(c.key, c.change.state) for c in changes] == [("desk", "raised")]
    changes = zones.update_all({"desk": True}, 3.0)
    assert [(c.key, c.change.state) for c in changes] == [("queue", "cleared")]
    assert zones["queue"].active is None
    assert zones["desk"].raised
    assert sorted(zones) == ["desk", "queue"]

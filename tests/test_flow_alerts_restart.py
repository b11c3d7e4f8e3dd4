"""Alerts across restarts: the latch mechanism with the alert book and its file in the state dir."""

from __future__ import annotations

from pathlib import Path

from agent.flow.alerts import (
    RESTART_CLEARED,
    RESTART_SUPERSEDED,
    SETTLE_S,
    AlertBook,
    AlertLatch,
    AlertLatches,
)
from agent.flow.events import AlertEvent
from agent.service.alert_store import AlertFile

T0 = 1_795_435_200.0


def book(tmp_path: Path, started: float, grace_s: float = 60.0) -> AlertBook:
    return AlertBook(AlertFile.in_state_dir(tmp_path), started, grace_s)


def test_an_alert_still_present_after_a_restart_keeps_its_id_and_is_not_raised_again(
    tmp_path: Path,
) -> None:
    before = book(tmp_path, T0)
    latch = AlertLatch("camera_covered", raise_after_s=30, clear_after_s=10, book=before)
    assert latch.update(True, T0) is None
    raised = latch.update(True, T0 + 30)
    assert raised is not None
    assert raised.raised
    # the process stops here; a new one starts from the same state directory
    after = book(tmp_path, T0 + 100)
    again = AlertLatch("camera_covered", raise_after_s=30, clear_after_s=10, book=after)
    assert again.raised
    assert again.update(True, T0 + 101) is None  # still covered: no second raise
    assert after.tick(T0 + 1000) == []  # confirmed: the grace does not clear it
    assert again.update(False, T0 + 1001) is None
    cleared = again.update(False, T0 + 1011)
    assert cleared is not None
    assert (cleared.state, cleared.alert_id) == ("cleared", raised.alert_id)
    assert cleared.event("uncovered").message == "uncovered"
    assert AlertFile.in_state_dir(tmp_path).load() == []


def test_an_alert_gone_at_the_first_verdict_is_cleared_at_once_with_the_reason(
    tmp_path: Path,
) -> None:
    latch = AlertLatch("desk_unattended", clear_after_s=3, book=book(tmp_path, T0))
    raised = latch.raise_now(T0)
    assert raised is not None
    again = AlertLatch("desk_unattended", clear_after_s=3, book=book(tmp_path, T0 + 50))
    # while the sources start up, "nobody seen" is no verdict yet
    assert again.update(False, T0 + 51) is None
    assert again.raised
    cleared = again.update(False, T0 + 50 + SETTLE_S)  # then no hysteresis: it ended unseen
    assert cleared is not None
    event = cleared.event("staff back at the triage desk")
    assert (event.state, event.alert_id, event.message) == (
        "cleared",
        raised.alert_id,
        RESTART_CLEARED,
    )
    assert not again.raised


def test_without_a_verdict_alerts_are_cleared_after_the_grace_whoever_owned_them(
    tmp_path: Path,
) -> None:
    first = book(tmp_path, T0)
    crowd = AlertLatches[str]("crowding", raise_after_s=0, book=first)
    fever = AlertLatch("fever", book=first)
    zone_raise = crowd.update("queue", True, T0)
    fever_raise = fever.raise_now(T0)
    assert zone_raise is not None
    assert fever_raise is not None
    second = book(tmp_path, T0 + 10, grace_s=60)
    fever_again = AlertLatch("fever", book=second)  # the crowding analyser is no longer configured
    assert fever_again.raised
    assert second.tick(T0 + 69) == []
    events = second.tick(T0 + 70)
    assert {(e.alert, e.alert_id, e.zone) for e in events if isinstance(e, AlertEvent)} == {
        ("crowding", zone_raise.alert_id, "queue"),
        ("fever", fever_raise.alert_id, None),
    }
    assert all(isinstance(e, AlertEvent) and e.state == "cleared" for e in events)
    assert all(isinstance(e, AlertEvent) and "agent restarted" in e.message for e in events)
    assert not fever_again.raised
    assert second.tick(T0 + 200) == []  # once only
    assert AlertFile.in_state_dir(tmp_path).load() == []


def test_a_new_fact_replaces_a_restored_fact_alert(tmp_path: Path) -> None:
    fever = AlertLatch("fever", book=book(tmp_path, T0))
    old = fever.raise_now(T0)
    assert old is not None
    again_book = book(tmp_path, T0 + 10)
    fever_again = AlertLatch("fever", book=again_book)
    new = fever_again.raise_now(T0 + 11)  # a new person with a fever
    assert new is not None
    assert new.alert_id != old.alert_id
    (cleared,) = again_book.tick(T0 + 12)
    assert isinstance(cleared, AlertEvent)
    assert (cleared.alert_id, cleared.state, cleared.message) == (
        old.alert_id,
        "cleared",
        RESTART_SUPERSEDED,
    )
    [kept] = AlertFile.in_state_dir(tmp_path).load()
    assert kept.alert_id == new.alert_id


def test_an_unreadable_file_means_no_open_alerts(tmp_path: Path) -> None:
    (tmp_path / "alerts.json").write_text('{"open": [{"alert": "fever"')
    assert AlertFile.in_state_dir(tmp_path).load() == []
    latch = AlertLatch("fever", book=book(tmp_path, T0))
    assert not latch.raised
    assert latch.raise_now(T0) is not None
    assert len(AlertFile.in_state_dir(tmp_path).load()) == 1
    assert not list(tmp_path.glob(".*.tmp"))

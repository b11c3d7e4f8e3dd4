"""Tests of agent.flow.debounce: the Debouncer publishes a new value only once it held ``hold_s``
(flicker, a return to the published value, zero hold, any value type), and the Latch raises and
clears with separate delays (hysteresis), reporting when the causing condition began, once per
transition."""

from __future__ import annotations

import pytest

from agent.flow.debounce import Debouncer, Latch, LatchChange


def test_a_new_value_is_published_once_it_held_for_hold_s() -> None:
    d = Debouncer("masked", hold_s=2.0)
    assert d.update("masked", 100.0) is False
    assert d.update("unmasked", 101.0) is False
    assert d.update("unmasked", 102.9) is False
    assert d.value == "masked"
    assert d.update("unmasked", 103.0) is True  # exactly hold_s counts
    assert d.value == "unmasked"
    assert d.update("unmasked", 104.0) is False  # changed once, not on every observation
    assert d.value == "unmasked"


def test_flicker_restarts_the_hold() -> None:
    d = Debouncer(0, hold_s=2.0)
    assert d.update(1, 10.0) is False
    assert d.update(2, 11.5) is False  # another candidate: its own hold starts now
    assert d.update(2, 13.0) is False
    assert d.update(2, 13.5) is True
    assert d.value == 2


def test_a_return_to_the_published_value_cancels_the_pending_change() -> None:
    d = Debouncer(0, hold_s=2.0)
    d.update(1, 10.0)
    assert d.update(0, 11.0) is False
    assert d.update(0, 20.0) is False
    assert d.value == 0
    assert d.update(1, 20.5) is False  # the hold restarts from the new onset, not 10.0
    assert d.update(1, 22.0) is False
    assert d.update(1, 22.5) is True


def test_a_zero_hold_publishes_at_the_first_observation() -> None:
    d: Debouncer[int | None] = Debouncer(None, hold_s=0.0)
    assert d.update(3, 5.0) is True
    assert d.value == 3
    assert d.update(3, 5.0) is False
    assert d.update(None, 5.0) is True
    assert d.value is None


def test_values_compare_by_equality() -> None:
    d: Debouncer[tuple[int, ...]] = Debouncer((1, 2), hold_s=1.0)
    assert d.update((1, 2), 0.0) is False
    assert d.update((1, 2, 3), 1.0) is False
    assert d.update((1, 2, 3), 2.0) is True
    assert d.value == (1, 2, 3)


def test_the_latch_raises_after_its_delay_with_the_onset_and_only_once() -> None:
    latch = Latch(raise_after_s=10.0, clear_after_s=5.0)
    assert latch.update(False, 90.0) is None  # a false condition never clears an unraised latch
    assert latch.update(True, 100.0) is None
    assert latch.update(True, 109.99) is None
    assert latch.raised is False
    assert latch.update(True, 110.0) == LatchChange("raised", 100.0)
    assert latch.raised is True
    assert latch.update(True, 200.0) is None


def test_the_latch_clears_only_after_the_condition_stayed_false_for_its_delay() -> None:
    latch = Latch(raise_after_s=1.0, clear_after_s=5.0)
    latch.update(True, 0.0)
    assert latch.update(True, 1.0) == LatchChange("raised", 0.0)
    assert latch.update(False, 2.0) is None
    assert latch.update(True, 3.0) is None  # a blip back restarts the clear delay
    assert latch.update(False, 4.0) is None
    assert latch.update(False, 8.9) is None
    assert latch.raised is True
    assert latch.update(False, 9.0) == LatchChange("cleared", 4.0)
    assert latch.raised is False
    assert latch.update(False, 100.0) is None


def test_a_short_blip_of_the_condition_does_not_raise() -> None:
    latch = Latch(raise_after_s=3.0, clear_after_s=1.0)
    assert latch.update(True, 0.0) is None
    assert latch.update(False, 2.0) is None
    assert latch.update(True, 2.5) is None
    assert latch.update(True, 5.0) is None  # 2.5 s since the new onset, not 5 s since the first
    assert latch.update(True, 5.5) == LatchChange("raised", 2.5)


def test_the_latch_raises_again_after_clearing_with_the_new_onset() -> None:
    latch = Latch(raise_after_s=0.0, clear_after_s=0.0)
    assert latch.update(True, 1.0) == LatchChange("raised", 1.0)
    assert latch.update(False, 2.0) == LatchChange("cleared", 2.0)
    assert latch.update(True, 3.0) == LatchChange("raised", 3.0)


def test_a_latch_change_is_a_frozen_record() -> None:
    change = LatchChange("raised", 1.0)
    with pytest.raises(AttributeError):
        change.state = "cleared"  # type: ignore[misc]

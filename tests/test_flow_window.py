"""Tests of agent.flow.window: back-to-back periodic windows."""

from __future__ import annotations

from agent.flow.window import PeriodicWindow


def test_first_observation_opens_the_window() -> None:
    w = PeriodicWindow(60.0)
    assert w.start is None
    assert w.touch(10.0) == 10.0
    assert w.touch(20.0) == 10.0  # later activity does not move it
    assert not w.due(69.9)
    assert w.due(70.0)
    assert w.start == 70.0  # the next window starts when the last closed
    assert not w.due(100.0)
    assert w.due(130.0)


def test_a_tick_opens_the_window_without_closing_it() -> None:
    w = PeriodicWindow(5.0)
    assert not w.due(3.0)
    assert w.start == 3.0
    assert w.touch(4.0) == 3.0
    assert w.due(8.0)

"""Tests of agent.flow.heartbeat: states, age, and a rate that is never stale."""

from __future__ import annotations

import time

from agent.flow.heartbeat import Heartbeat


def test_rate_only_while_ok_and_restarts_after_an_outage() -> None:
    hb = Heartbeat("camera", stale_after_s=0.3)
    for _ in range(5):
        hb.beat()
        time.sleep(0.02)
    snap = hb.snapshot()
    assert snap.state == "ok"
    assert snap.fps is not None
    assert snap.fps > 10
    time.sleep(0.4)  # data stopped: stale, and no rate from before
    snap = hb.snapshot()
    assert snap.state == "stale"
    assert snap.fps is None
    hb.set_state("disconnected", "gone")
    assert hb.snapshot().fps is None
    hb.beat()  # back: one beat is no rate yet (not one averaged over the outage)
    assert hb.snapshot().state == "ok"
    assert hb.snapshot().fps is None
    time.sleep(0.05)
    hb.beat()
    fps = hb.snapshot().fps
    assert fps is not None
    assert fps > 10


def test_data_resuming_without_a_state_change_restarts_the_rate() -> None:
    hb = Heartbeat("thermometer", stale_after_s=0.2)
    hb.beat()
    time.sleep(0.02)
    hb.beat()
    time.sleep(0.3)  # a gap longer than stale_after_s, no reconnect in between
    hb.beat()
    assert hb.snapshot().fps is None  # the gap is not averaged in
    time.sleep(0.02)
    hb.beat()
    fps = hb.snapshot().fps
    assert fps is not None
    assert fps > 20

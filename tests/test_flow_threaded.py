"""Tests of agent.flow.threaded: the threaded-source base, backoff, stamps (a hung or dead loop:
tests/test_flow_liveness.py)."""

from __future__ import annotations

import threading
import time

from agent.flow.heartbeat import Heartbeat
from agent.flow.ports import Emit
from agent.flow.threaded import Backoff, ThreadedSource


def test_backoff_doubles_caps_and_resets() -> None:
    b = Backoff(0.5, 3.0)
    assert [b.next_delay() for _ in range(5)] == [0.5, 1.0, 2.0, 3.0, 3.0]
    b.reset()
    assert b.next_delay() == 0.5


class Counter(ThreadedSource):
    """Emits an increasing number every 10 ms; sleeps through :meth:`wait`."""

    def __init__(self) -> None:
        super().__init__("counter", Heartbeat("counter", 1.0), "counter-loop")

    def run(self, emit: Emit) -> None:
        n = 0
        while not self.stopping:
            self.loop.turn()
            n += 1
            emit(n)
            self.heartbeat.beat()
            self.wait(0.01)


def test_start_stop_emits_and_joins() -> None:
    got: list[object] = []
    src = Counter()
    assert src.loops() == []  # not started: nothing to watch
    src.start(got.append)
    src.start(got.append)  # a second start while running does nothing
    time.sleep(0.2)
    assert [t.name for t in threading.enumerate()].count("counter-loop") == 1
    assert src.loops() == [src.loop]
    assert not src.loop.stuck()
    src.stop()
    assert "counter-loop" not in [t.name for t in threading.enumerate()]
    assert src.loops() == []
    assert len(got) > 3
    assert got[:3] == [1, 2, 3]


def test_wait_keeps_the_stamp_turning_and_stops_promptly() -> None:
    class Sleeper(ThreadedSource):
        def run(self, emit: Emit) -> None:
            while not self.stopping:
                self.loop.turn()
                self.wait(30.0)  # a long backoff

    src = Sleeper("sleeper", Heartbeat("sleeper", 1.0), "sleeper-loop")
    src.start()
    time.sleep(1.2)
    assert src.loop.age() < 0.8  # turned during the wait, not only before it
    t0 = time.monotonic()
    src.stop()
    assert time.monotonic() - t0 < 1.0

"""Loop liveness (agent/flow/liveness.py) of real threads: a loop hung in an unbounded call is stuck
once its bound passed (and stopping its source gives up after the join bound), a thread that dies
marks its heartbeat and its loop stops turning.
"""

from __future__ import annotations

import threading
import time

from agent.flow.heartbeat import Heartbeat
from agent.flow.liveness import LoopStamp, stuck_loops
from agent.flow.ports import Emit
from agent.flow.threaded import JOIN_TIMEOUT_S, ThreadedSource


def test_a_hung_loop_is_stuck_and_stop_gives_up_after_the_bound() -> None:
    release = threading.Event()

    class Hung(ThreadedSource):
        def run(self, emit: Emit) -> None:
            self.loop.turn()
            release.wait()  # an unbounded blocking call: the loop never turns again

    src = Hung("hung", Heartbeat("hung", 1.0), "hung-loop")
    src.loop = LoopStamp("hung-loop", bound_s=0.3)
    src.start()
    time.sleep(0.6)
    assert stuck_loops(src.loops()) == [src.loop]
    t0 = time.monotonic()
    src.stop()
    elapsed = time.monotonic() - t0
    assert JOIN_TIMEOUT_S - 0.1 <= elapsed < JOIN_TIMEOUT_S + 1.0
    release.set()


def test_a_thread_that_dies_marks_its_heartbeat_and_stops_turning() -> None:
    class Crashing(ThreadedSource):
        def run(self, emit: Emit) -> None:
            raise RuntimeError("driver bug")

    src = Crashing("crash", Heartbeat("crash", 1.0), "crash-loop")
    src.loop = LoopStamp("crash-loop", bound_s=0.2)
    src.start()
    time.sleep(0.4)
    assert src.heartbeat.snapshot().state == "error"
    assert src.heartbeat.last_error == "thread crash-loop died"
    assert src.loop.stuck()
    src.stop()

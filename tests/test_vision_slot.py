"""The frame slot between grabber and worker (agent/vision/slot.py): the latest frame wins, or a
bounded buffer hands over every frame in order.
"""

from __future__ import annotations

from agent.vision.slot import CapturedFrame, LatestFrame
from tests.test_vision_frames import drawn


def test_latest_frame_wins_and_counts_replaced() -> None:
    slot = LatestFrame()
    assert slot.take(timeout=0.01) is None
    for i in range(1, 6):
        slot.put(CapturedFrame(drawn(i), float(i), i))
    got = slot.take(timeout=0.01)
    assert got is not None
    assert got.index == 5
    assert slot.replaced == 4
    assert slot.take(timeout=0.01) is None  # never the same frame twice
    slot.put(CapturedFrame(drawn(6), 6.0, 6))
    assert slot.replaced == 4


def test_buffered_slot_hands_over_every_frame_in_order_and_bounds_the_backlog() -> None:
    slot = LatestFrame(capacity=3)
    for i in range(1, 6):
        slot.put(CapturedFrame(drawn(i), float(i), i))
    assert slot.replaced == 2  # frames 1 and 2 gave way
    taken = [slot.take(timeout=0.01) for _ in range(4)]
    assert [f.index if f is not None else None for f in taken] == [3, 4, 5, None]

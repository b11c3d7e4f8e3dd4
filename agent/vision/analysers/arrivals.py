"""Arrivals: how many distinct people came into view (or through the entrance zone).

The occupancy tracker (:mod:`agent.vision.analysers.tracker`) gives a person one id while they stay in view
and forgets them ``forget_after_s`` (2 s) after their last detection. Counting ids would count a
person again after every longer miss: someone hidden behind another for a few seconds, a detector
that loses a seated person for a moment, a hand over the lens. An :class:`ArrivalCounter` counts a
confirmed track as an arrival unless it is a **re-entry**: it appeared within ``grace_s`` of the
loss of another person's track, near where that one was last seen (centroid within ``max_shift``
box sizes). A re-entry inherits the lost person; each lost person can be inherited once.

With an ``entrance`` zone configured, a track counts only once its feet stood in an entrance zone
(people already inside, seen again after walking around, do not count; staff behind the desk
neither). Without one, every person entering the frame counts, staff included.

Measured on scene videos (tools/eval_arrivals.py): docs/COUNTS.md.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from agent.vision.analysers.tracker import Track
from agent.vision.findings import Box
from agent.vision.geometry import shift

REENTRY_MAX_SHIFT = 1.5
"""How far (in box sizes) from a lost person's last place a new track may start to be them."""


State = Literal["pending", "counted"]
"""A judged track: waiting to pass the entrance, or counted (itself or the person it re-entered)."""


@dataclass(frozen=True, slots=True)
class Lost:
    """A person whose track the tracker forgot: where and when last seen, and whether counted."""

    box: Box
    last_seen: float
    state: State


class ArrivalCounter:
    """Arrivals among confirmed tracks, re-entries within ``grace_s`` not counted again."""

    def __init__(
        self,
        grace_s: float,
        *,
        entrance: bool = False,
        max_shift: float = REENTRY_MAX_SHIFT,
    ) -> None:
        self.grace_s = grace_s
        self.entrance = entrance
        """Count only tracks seen in an entrance zone."""
        self.max_shift = max_shift
        self._state: dict[int, State] = {}
        self._lost: deque[Lost] = deque()
        self._new = 0
        self.total = 0
        """Arrivals since start."""
        self.reentries = 0
        """Tracks recognised as a lost person seen again, since start."""
        self.listeners: list[Callable[[float], None]] = []
        """Called with the instant of each arrival as it is counted (screening coverage)."""

    def seen(self, track: Track, at: float, in_entrance: bool = False) -> None:
        """A confirmed track seen in a frame at ``at`` (its feet in an entrance zone or not)."""
        state = self._state.get(track.id)
        if state is None:
            state = self._judge(track, at)
            self._state[track.id] = state
        if state == "pending" and (in_entrance or not self.entrance):
            self._state[track.id] = "counted"
            self._new += 1
            self.total += 1
            for listener in self.listeners:
                listener(at)

    def _judge(self, track: Track, at: float) -> State:
        """First sight of a confirmed track: the state of the lost person it re-enters, if any."""
        self._lost = deque(x for x in self._lost if at - x.last_seen <= self.grace_s)
        best: Lost | None = None
        best_d = self.max_shift
        for lost in self._lost:
            d = shift(lost.box, track.box)
            if d <= best_d:
                best, best_d = lost, d
        if best is None:
            return "pending"
        self._lost.remove(best)
        self.reentries += 1
        return best.state

    def forgotten(self, tracks: list[Track]) -> None:
        """Tracks the tracker forgot: remembered for ``grace_s`` as possible re-entries."""
        for t in tracks:
            state = self._state.pop(t.id, None)
            if state is not None:
                self._lost.append(Lost(t.box, t.last_seen, state))

    def take(self) -> int:
        """Arrivals since the last call."""
        n, self._new = self._new, 0
        return n

"""Occupancy: the ``occupancy`` events and the ``crowding`` alert, from per-frame findings.

An :class:`~agent.flow.ports.Analyser` fed :class:`~agent.vision.findings.SceneFindings`. People are the
person boxes plus the faces no person box claims (:func:`agent.vision.people.people_in`); they are tracked
(:mod:`agent.vision.tracker`) so that a person standing at the desk for a minute is one person. The
count of confirmed tracks seen within the last ``visible_s`` seconds is published (``OccupancyEvent``, ``window_s`` None) only after a
new count held for ``hold_s`` seconds. Every ``vision.compliance_window_s`` a periodic
``OccupancyEvent`` reports the highest published count in the window and ``people``: the distinct
tracks first seen in it ("people screened" per period). A ``crowding`` alert is raised when the
published count stayed above ``vision.crowd_limit`` for ``vision.crowd_after_s`` and cleared once it
stayed at or below the limit for ``clear_after_s``. Never an event per frame.
"""

from __future__ import annotations

from collections.abc import Sequence

from agent.flow.alerts import AlertLatch
from agent.flow.debounce import Debouncer
from agent.flow.events import Event, OccupancyEvent
from agent.flow.window import PeriodicWindow
from agent.vision.config import VisionConfig
from agent.vision.findings import SceneFindings
from agent.vision.people import people_in
from agent.vision.tracker import Tracker


class OccupancyAnalyser:
    """Person (or face) tracks -> debounced count, periodic maximum and people, crowding alert."""

    def __init__(
        self,
        vision: VisionConfig,
        *,
        name: str = "occupancy",
        hold_s: float = 2.0,
        clear_after_s: float = 5.0,
        visible_s: float = 1.0,
        tracker: Tracker | None = None,
    ) -> None:
        self.name = name
        self.visible_s = visible_s
        """A person counts while seen within this many seconds (the tracker keeps ids longer)."""
        self.vision = vision
        self.tracker = tracker if tracker is not None else Tracker()
        self._count: Debouncer[int] = Debouncer(0, hold_s)
        self._crowd = AlertLatch("crowding", vision.crowd_after_s, clear_after_s)
        self._period = PeriodicWindow(vision.compliance_window_s)
        self._window_max = 0
        self._window_people: set[int] = set()

    @property
    def count(self) -> int:
        """The published (debounced) number of people in view."""
        return self._count.value

    def feed(self, observation: object) -> Sequence[Event]:
        """Consume one frame's findings; ignore other observations."""
        if not isinstance(observation, SceneFindings):
            return []
        at = observation.at
        start = self._period.touch(at)
        self.tracker.update([p.box for p in people_in(observation)], at)
        self._window_people.update(t.id for t in self.tracker.present() if t.first_seen >= start)
        return self._evaluate(at)

    def tick(self, now: float) -> Sequence[Event]:
        """Expire people no longer seen, publish due changes, alerts and the periodic maximum."""
        self.tracker.expire(now)
        events = self._evaluate(now)
        if self._period.due(now):
            events.append(
                OccupancyEvent(
                    at=now,
                    count=self._count.value,
                    max=self._window_max,
                    limit=self.vision.crowd_limit,
                    window_s=self.vision.compliance_window_s,
                    people=len(self._window_people),
                )
            )
            self._window_max = self._count.value
            self._window_people = set()
        return events

    def _evaluate(self, at: float) -> list[Event]:
        events: list[Event] = []
        limit = self.vision.crowd_limit
        if self._count.update(len(self.tracker.present(at, self.visible_s)), at):
            count = self._count.value
            self._window_max = max(self._window_max, count)
            events.append(OccupancyEvent(at=at, count=count, max=self._window_max, limit=limit))
        count = self._count.value
        change = self._crowd.update(count > limit, at)
        if change is not None and change.raised:
            events.append(
                change.event(
                    f"{count} people in view, above the limit of {limit} "
                    f"for {at - change.since:.0f} s",
                    value=float(count),
                )
            )
        elif change is not None:
            events.append(
                change.event(
                    f"{count} people in view, at or below the limit of {limit}", value=float(count)
                )
            )
        return events

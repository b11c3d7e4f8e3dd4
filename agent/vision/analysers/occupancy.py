"""Occupancy: the ``occupancy`` events and the ``crowding`` alerts, from per-frame findings.

An :class:`~agent.flow.ports.Analyser` fed :class:`~agent.vision.findings.SceneFindings`. People are
the person boxes plus the faces no person box claims (:func:`agent.vision.people.people_in`); they
are tracked (:mod:`agent.vision.analysers.tracker`) so that a person standing at the desk for a minute is one
person, and each track is in the zone its feet stood in on its latest frame
(:class:`~agent.zones.map.ZoneMap`).

The count of confirmed tracks seen within the last ``visible_s`` seconds, and with zones configured
the count per zone, is published (``OccupancyEvent``, ``window_s`` None, ``zones`` name -> count)
only after new counts held for ``hold_s`` seconds. Every ``vision.compliance_window_s`` a periodic
``OccupancyEvent`` reports the highest published count in the window (per zone too) and
``people``: the arrivals in it (:mod:`agent.vision.analysers.arrivals`: people entering the view, or passing
an ``entrance`` zone when one is configured; a person lost for up to ``vision.reentry_grace_s`` and
seen again near where they were is not counted twice).

Crowding: with no zones, a ``crowding`` alert is raised when the published count stayed above
``vision.crowd_limit`` for ``vision.crowd_after_s`` (as before zones existed). With zones, each
``queue`` and ``waiting`` zone has its own ``crowding`` alert (its ``crowd_limit`` and
``crowd_after_s``, defaulting to the ``vision`` ones) naming the zone. Alerts clear once the count
stayed at or below the limit for ``clear_after_s``. Never an event per frame.
"""

from __future__ import annotations

from collections.abc import Sequence

from agent.flow.alerts import AlertBook, AlertLatch
from agent.flow.debounce import Debouncer
from agent.flow.events import Event, OccupancyEvent
from agent.flow.window import PeriodicWindow
from agent.vision.analysers.arrivals import ArrivalCounter
from agent.vision.analysers.tracker import Track, Tracker
from agent.vision.config import VisionConfig
from agent.vision.findings import SceneFindings
from agent.vision.people import people_in
from agent.zones.map import Zone, ZoneMap

Counts = tuple[int, tuple[int, ...]]
"""(people in view, people per configured zone in config order)."""


class OccupancyAnalyser:
    """Person tracks -> debounced counts (total and per zone), periodic maxima, crowding alerts."""

    def __init__(
        self,
        vision: VisionConfig,
        zones: ZoneMap | None = None,
        *,
        name: str = "occupancy",
        hold_s: float = 2.0,
        clear_after_s: float = 5.0,
        visible_s: float = 1.0,
        tracker: Tracker | None = None,
        book: AlertBook | None = None,
    ) -> None:
        self.name = name
        self.visible_s = visible_s
        """A person counts while seen within this many seconds (the tracker keeps ids longer)."""
        self.vision = vision
        self.zones = zones if zones is not None else ZoneMap()
        self.tracker = tracker if tracker is not None else Tracker()
        self._named = () if self.zones.implicit else self.zones.zones
        self._zone_of: dict[int, str | None] = {}
        self._counts: Debouncer[Counts] = Debouncer((0, (0,) * len(self._named)), hold_s)
        self._crowd_zones: tuple[Zone, ...] = (
            self.zones.zones if self.zones.implicit else self.zones.of_role("queue", "waiting")
        )
        self._crowd = {
            z.name: AlertLatch(
                "crowding",
                z.crowd_after_s if z.crowd_after_s is not None else vision.crowd_after_s,
                clear_after_s,
                key=None if self.zones.implicit else z.name,
                book=book,
            )
            for z in self._crowd_zones
        }
        self._period = PeriodicWindow(vision.compliance_window_s)
        self._window_max: Counts = self._counts.value
        self.arrivals = ArrivalCounter(
            vision.reentry_grace_s,
            entrance=not self.zones.implicit and bool(self.zones.of_role("entrance")),
        )

    @property
    def count(self) -> int:
        """The published (debounced) number of people in view."""
        return self._counts.value[0]

    def zone_counts(self) -> dict[str, int]:
        """The published (debounced) people per configured zone (empty with no zones)."""
        return {z.name: n for z, n in zip(self._named, self._counts.value[1], strict=True)}

    def feed(self, observation: object) -> Sequence[Event]:
        """Consume one frame's findings; ignore other observations."""
        if not isinstance(observation, SceneFindings):
            return []
        at = observation.at
        self._period.touch(at)
        people = people_in(observation)
        self._forget(self.tracker.expire(at))
        seen = self.tracker.update([p.box for p in people], at)
        for track, person in zip(seen, people, strict=True):
            zone = self.zones.locate(person.feet)
            self._zone_of[track.id] = zone.name if zone is not None else None
            if track.confirmed(self.tracker.min_hits):
                entrance = zone is not None and zone.role == "entrance"
                self.arrivals.seen(track, at, entrance)
        return self._evaluate(at)

    def _forget(self, gone: list[Track]) -> None:
        for t in gone:
            self._zone_of.pop(t.id, None)
        self.arrivals.forgotten(gone)

    def tick(self, now: float) -> Sequence[Event]:
        """Expire people no longer seen, publish due changes, alerts and the periodic maximum."""
        self._forget(self.tracker.expire(now))
        events = self._evaluate(now)
        if self._period.due(now):
            total, per_zone = self._window_max
            events.append(
                OccupancyEvent(
                    at=now,
                    count=self.count,
                    max=total,
                    limit=self.vision.crowd_limit,
                    window_s=self.vision.compliance_window_s,
                    people=self.arrivals.take(),
                    zones=self._by_name(per_zone),
                )
            )
            self._window_max = self._counts.value
            live = {t.id for t in self.tracker.present()}
            self._zone_of = {k: v for k, v in self._zone_of.items() if k in live}
        return events

    def _by_name(self, per_zone: tuple[int, ...]) -> dict[str, int] | None:
        if not self._named:
            return None
        return {z.name: n for z, n in zip(self._named, per_zone, strict=True)}

    def _current(self, at: float) -> Counts:
        present = self.tracker.present(at, self.visible_s)
        names = [self._zone_of.get(t.id) for t in present]
        return len(present), tuple(names.count(z.name) for z in self._named)

    def _evaluate(self, at: float) -> list[Event]:
        events: list[Event] = []
        limit = self.vision.crowd_limit
        if self._counts.update(self._current(at), at):
            total, per_zone = self._counts.value
            old_total, old_zones = self._window_max
            self._window_max = (
                max(old_total, total),
                tuple(max(a, b) for a, b in zip(old_zones, per_zone, strict=True)),
            )
            events.append(
                OccupancyEvent(
                    at=at,
                    count=total,
                    max=self._window_max[0],
                    limit=limit,
                    zones=self._by_name(per_zone),
                )
            )
        counts = self.zone_counts()
        for zone in self._crowd_zones:
            zone_limit = zone.crowd_limit if zone.crowd_limit is not None else limit
            count = self.count if zone.implicit else counts[zone.name]
            change = self._crowd[zone.name].update(count > zone_limit, at)
            if change is None:
                continue
            where = "in view" if zone.implicit else f"in zone '{zone.name}'"
            name = None if zone.implicit else zone.name
            if change.raised:
                text = (
                    f"{count} people {where}, above the limit of {zone_limit} "
                    f"for {at - change.since:.0f} s"
                )
            else:
                text = f"{count} people {where}, at or below the limit of {zone_limit}"
            events.append(change.event(text, value=float(count), zone=name))
        return events

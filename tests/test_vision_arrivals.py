"""Arrivals: people entering the view (or the entrance zone), re-entries after short losses once."""

from __future__ import annotations

from collections.abc import Sequence

from agent.flow.events import OccupancyEvent
from agent.vision.analysers.occupancy import OccupancyAnalyser
from agent.vision.config import VisionConfig
from agent.vision.findings import Box, SceneFindings
from agent.zones.config import ZoneConfig
from agent.zones.map import ZoneMap

T0 = 1_795_435_200.0
Span = tuple[float, float, tuple[int, ...]]
"""(from, to, left edges of the people in view), seconds from T0."""


def frame(at: float, *xs: int) -> SceneFindings:
    """People standing with their left edge at each x (pixels), feet near the bottom."""
    persons = tuple(Box(x, 150, x + 60, 440, 0.9) for x in xs)
    return SceneFindings(at, (), persons, 10.0, 640, 480)


def arrivals(analyser: OccupancyAnalyser, script: Sequence[Span]) -> int:
    """Feed (from, to, people) spans at 2 frames a second; the arrivals reported per window."""
    total = 0
    for lo, hi, xs in script:
        t = lo
        while t < hi:
            analyser.feed(frame(T0 + t, *xs))
            for e in analyser.tick(T0 + t):
                if isinstance(e, OccupancyEvent) and e.people is not None:
                    total += e.people
            t += 0.5
    for e in analyser.tick(T0 + 10_000):
        if isinstance(e, OccupancyEvent) and e.people is not None:
            total += e.people
    return total


def analyser(zones: list[ZoneConfig] | None = None, grace_s: float = 10.0) -> OccupancyAnalyser:
    vision = VisionConfig(compliance_window_s=60.0, reentry_grace_s=grace_s)
    return OccupancyAnalyser(vision, ZoneMap(zones or []))


def test_a_person_hidden_for_a_few_seconds_is_one_arrival() -> None:
    script = [(0, 20, (100, 400)), (20, 26, (400,)), (26, 60, (100, 400))]  # 100 hidden 6 s
    assert arrivals(analyser(), script) == 2
    # counting track ids, as before, saw three people: the tracker forgets after 2 s
    assert arrivals(analyser(grace_s=0.0), script) == 3


def test_someone_back_after_the_grace_or_elsewhere_is_a_new_arrival() -> None:
    late = [(0, 20, (100,)), (20, 40, ()), (40, 60, (100,))]  # 20 s away
    assert arrivals(analyser(), late) == 2
    elsewhere = [(0, 20, (100,)), (20, 24, ()), (24, 60, (500,))]  # a different place
    assert arrivals(analyser(), elsewhere) == 2


def test_with_an_entrance_zone_only_people_coming_through_it_count() -> None:
    zones = [
        ZoneConfig(
            name="door", role="entrance", polygon=[(0.0, 0.0), (0.25, 0.0), (0.25, 1.0), (0.0, 1.0)]
        ),
        ZoneConfig(
            name="hall", role="waiting", polygon=[(0.25, 0.0), (1.0, 0.0), (1.0, 1.0), (0.25, 1.0)]
        ),
    ]
    # one walks in through the door (x 20 -> 300), one is already sitting in the hall
    walk: list[Span] = [(t, t + 0.5, (20 + int(t * 28), 500)) for t in [i / 2 for i in range(20)]]
    stay: list[Span] = [(10, 60, (300, 500))]
    assert arrivals(analyser(zones), walk + stay) == 1

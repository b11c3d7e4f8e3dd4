"""What a notice lists and asks, per problem kind: the kinds are the district's, declared once in
central/report/kinds.py (the supervisor's four; fevers are screening results, never problems), and
the day's problems come from central/report/problems.py. This module adds what the loop needs:

- which of a day's problems go into a notice (:func:`problems_of_day`): those that began during
  the day (one still open from an earlier day was in that day's notice), of the four kinds ("other
  problems", alerts no kind declares, are shown on the pages, not put in a notice), and lost
  connections of at least ``offline_min_s`` (a clean stop at closing time is no problem);
- what the clinic must do for each kind (:data:`KIND_ACTIONS`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Final
from zoneinfo import ZoneInfo

from sqlalchemy import Engine

from central.i18n import N_
from central.report.days import day_window
from central.report.kinds import (
    CROWDING,
    KINDS,
    NOT_WORKING,
    OFFLINE,
    OTHER,
    STAFF,
    UNMASKED,
    kind_of,
)
from central.report.problems import day_problems

__all__ = ["KIND_ACTIONS", "NOTICE_KINDS", "FoundProblem", "kind_of", "problems_of_day"]

NOTICE_KINDS: Final[tuple[str, ...]] = tuple(k.key for k in KINDS if k.key != OTHER)
"""The kinds a notice lists, in the district's order."""

KIND_ACTIONS: Final[dict[str, str]] = {
    NOT_WORKING: N_(
        "Keep the triage point set up, staffed and working (camera, thermometer, network) during "
        "all opening hours."
    ),
    STAFF: N_("Make every staff member wear a mask and protection at all times."),
    CROWDING: N_("Keep patients apart: limit the number waiting inside and organise the queue."),
    UNMASKED: N_("Make patients wear masks indoors; offer masks at the entrance."),
}


@dataclass(frozen=True)
class FoundProblem:
    """One problem of a day at one desk, as a notice lists it."""

    kind: str
    alert: str
    desk: str
    raised: float | None
    cleared: float | None
    duration_s: float | None
    value: float | None


def problems_of_day(
    engine: Engine,
    day: date,
    tz: ZoneInfo,
    offline_min_s: float = 600.0,
    now: float | None = None,
    sites: frozenset[str] | None = None,
) -> dict[str, list[FoundProblem]]:
    """site -> the problems a notice of ``day`` lists, oldest first (sites without any left out).
    A problem still open at the end of the day counts until the day's end."""
    w = day_window(day, tz)
    out: dict[str, list[FoundProblem]] = {}
    for site, found in day_problems(engine, day, tz, sites=sites, now=now).items():
        kept: list[FoundProblem] = []
        for p in found:
            begin = p.start if p.start is not None else p.end
            if p.kind not in NOTICE_KINDS or begin is None or not w.contains(begin):
                continue
            dur = p.duration_s
            if p.start is not None:
                stop = p.end if p.end is not None else (w.end if now is None else min(now, w.end))
                dur = max(0.0, min(stop, w.end) - p.start)
            if p.alert == OFFLINE and (p.reason != "connection lost" or (dur or 0) < offline_min_s):
                continue
            kept.append(FoundProblem(p.kind, p.alert, p.desk, p.start, p.end, dur, p.value))
        if kept:
            out[site] = kept
    return out

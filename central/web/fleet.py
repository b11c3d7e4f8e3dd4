"""The fleet from the raw events, for a few desks (the tests, the technician's detail, the scale
tool): each desk's availability (its retained status and newest health; silent while the status
says online but nothing comes), last event, today's counts, open problems, sources not ok, outbox
depth and events lost on the way, and the messages refused in the last 24 hours.

The district's fleet page reads the rollups instead (central/web/glance.py).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from sqlalchemy import Engine

from central.report.counts import COUNTED_KINDS, Counts, per_desk
from central.report.daily import LOOKBACK_S, Problem, effective_time, problems
from central.report.days import Window, day_window, today
from central.store import reader

SILENT_AFTER_S = 600.0
"""For boxes that do not say how often they send health: a desk whose status is ``online`` but whose
newest health is older than this is shown as silent."""


def silent_for(
    status: reader.Stored, health: reader.Stored | None, last_received: float, now: float
) -> float | None:
    """Seconds a desk whose retained status is ``online`` has been silent, or None if it is up.

    The contract's rule (docs/EVENTS.md, Availability): up while the newest ``health`` is at most
    3 x ``health_every_s`` old (given in the ``online`` status); without it, :data:`SILENT_AFTER_S`.
    """
    if status.state != "online":
        return None
    every = status.number("health_every_s")
    limit = 3 * every if every else SILENT_AFTER_S
    age = now - (health.ts if health is not None else last_received)
    return age if age > limit else None


@dataclass(frozen=True, slots=True)
class DeskState:
    """One desk on the fleet page."""

    site: str
    desk: str
    online: bool | None
    status_since: float | None
    last_seen: float
    counts: Counts
    open_problems: tuple[Problem, ...]
    sources: tuple[str, ...]
    """Sources not ``ok`` in the newest health event, e.g. ``camera: stale``."""
    outbox_depth: int | None
    silent_s: float | None = None
    """Seconds without any event while the status says online (past :data:`SILENT_AFTER_S`)."""
    missing_seq: int = 0
    """Sequence numbers missing among today's events: events lost between the box and here."""


@dataclass(frozen=True, slots=True)
class Fleet:
    window: Window
    generated: float
    desks: tuple[DeskState, ...]
    quarantined: dict[str, int] = field(default_factory=dict)
    """Messages refused in the last 24 hours, by reason."""

    @property
    def missing_seq(self) -> int:
        return sum(d.missing_seq for d in self.desks)

    @property
    def desks_missing(self) -> int:
        return sum(1 for d in self.desks if d.missing_seq)

    @property
    def open_problems(self) -> list[Problem]:
        """Every open problem, oldest first."""
        out = [p for d in self.desks for p in d.open_problems]
        return sorted(out, key=lambda p: p.raised or 0.0)

    @property
    def offline(self) -> int:
        return sum(1 for d in self.desks if d.online is False)

    @property
    def silent(self) -> int:
        return sum(1 for d in self.desks if d.silent_s is not None)


def sources_not_ok(doc: dict[str, object]) -> tuple[str, ...]:
    """The sources not ``ok`` in a health event's ``sources``, e.g. ``camera: stale``."""
    src = doc.get("sources")
    if not isinstance(src, dict):
        return ()
    out = []
    for name, v in sorted(src.items()):
        state = v.get("state") if isinstance(v, dict) else None
        if isinstance(state, str) and state != "ok":
            out.append(f"{name}: {state}")
    return tuple(out)


def fleet(engine: Engine, tz: ZoneInfo, site: str | None = None, now: float | None = None) -> Fleet:
    now = time.time() if now is None else now
    window = day_window(today(tz, now), tz)
    counts = per_desk(reader.query(engine, window.start, window.end, COUNTED_KINDS, site))
    statuses = reader.latest(engine, "status", site)
    health = reader.latest(engine, "health", site)
    alerts: dict[tuple[str, str], list[reader.Stored]] = {}
    for e in reader.query(engine, now - LOOKBACK_S, None, ["alert"], site):
        alerts.setdefault(e.key, []).append(e)
    everything = Window(window.first, window.last, now - LOOKBACK_S, now + 86400)
    missing = reader.missing_seq(engine, window.start, window.end, site)
    desks = []
    for seen in reader.desks(engine, site):
        key = (seen.site, seen.desk)
        st = statuses.get(key)
        h = health.get(key)
        open_p = [p for p in problems(alerts.get(key, []), everything) if p.is_open]
        depth = h.doc.get("outbox_depth") if h is not None else None
        desks.append(
            DeskState(
                site=seen.site,
                desk=seen.desk,
                online=None if st is None else st.state == "online",
                status_since=None if st is None else effective_time(st),
                last_seen=seen.last_ts,
                counts=counts.get(key, Counts()),
                open_problems=tuple(open_p),
                sources=sources_not_ok(h.doc) if h is not None else (),
                outbox_depth=depth if isinstance(depth, int) else None,
                silent_s=None if st is None else silent_for(st, h, seen.last_received, now),
                missing_seq=missing.get(key, 0),
            )
        )
    refused = reader.quarantined(engine, now - 86400) if site is None else {}
    return Fleet(window, now, tuple(desks), refused)

"""The daily notification: for each site and desk, the day's problems, offline periods and counts,
checked against the box's own ``summary`` events.

- **Problems**: alert raises and clears tied by ``alert_id``; a problem raised earlier and still
  open (or cleared) during the day is listed too. Open problems are "still open" with their age.
- **Offline periods**: from ``status`` events. The MQTT Will (``offline``) carries the time the
  agent started, so its receipt time is used as the moment the connection was lost.
- **Check**: the counts of the stored events inside the windows the box's summaries cover are
  compared with the sums of those summaries; a daily summary (one with a local ``date``) is compared
  with the whole day. Differences are reported with the sequence-number gaps and the evictions the
  box reported, which explain them (events evicted on the box or never delivered).

One module because the three parts are one desk's day: :func:`daily_report` queries the day's
events once, hands each desk's share to the three and puts their results into one :class:`DeskDay`;
the formatting is :mod:`central.report.render`.
"""

from __future__ import annotations

import bisect
import time
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from zoneinfo import ZoneInfo

from sqlalchemy import Engine

from central.report.counts import COUNTED_KINDS, Counts, Tally
from central.report.days import Window, day_window
from central.report.labels import problem_label
from central.store import reader
from central.store.coverage import Coverage, day_coverage
from central.store.reader import Stored

LOOKBACK_S = 14 * 86400
"""How far back a problem raised before the day is looked for (open problems)."""


@dataclass(frozen=True, slots=True)
class Problem:
    """One alert from raise to clear."""

    site: str
    desk: str
    alert: str
    alert_id: str
    raised: float | None
    """None when only the clear was received (the raise was lost)."""
    cleared: float | None
    value: float | None
    message: str
    zone: str | None = None
    reason: str | None = None
    family: str | None = None
    """The alert's ``family`` on the wire when the box sends one (screening, mask, occupancy,
    setup)."""
    cause: str | None = None
    """Why a mask alert was raised (``no_mask``, ``worn_wrong``: a mask worn wrong), from its
    raise; None for other alerts, boxes before it was added, or any other value."""

    @property
    def label(self) -> str:
        lab = problem_label(self.alert, self.cause)
        return f"{lab} ({self.zone})" if self.zone else lab

    @property
    def is_open(self) -> bool:
        return self.cleared is None

    def duration(self, now: float) -> float | None:
        if self.raised is None:
            return None
        return (self.cleared if self.cleared is not None else now) - self.raised


@dataclass(frozen=True, slots=True)
class Offline:
    """The box was not connected from ``start`` to ``end`` (None: still offline)."""

    start: float
    end: float | None
    how: str
    """``connection lost`` (the Will) or ``stopped`` (a clean shutdown)."""

    def duration(self, now: float) -> float:
        return (self.end if self.end is not None else now) - self.start


@dataclass(frozen=True, slots=True)
class Check:
    """The stored counts against the box's own summaries."""

    summaries: int
    covered_s: float
    box: dict[str, int]
    stored: dict[str, int]
    differences: tuple[str, ...]
    missing_seq: int
    evicted: int | None
    """Outbox evictions the box reported during the day (from its health events), if known."""
    minutes: dict[str, float] = field(default_factory=dict)
    """Problem minutes the box reported in those summaries (``minutes``: desk, crowding, setup,
    offline), summed."""

    @property
    def consistent(self) -> bool:
        return not self.differences


@dataclass(frozen=True, slots=True)
class DeskDay:
    """One desk's day."""

    site: str
    desk: str
    counts: Counts
    problems: tuple[Problem, ...]
    offline: tuple[Offline, ...]
    check: Check | None
    online: bool | None
    """Connected now (from the newest status), None if no status was ever received."""
    last_seen: float | None
    coverage: Coverage = field(default_factory=Coverage)
    """Screening coverage and scans from the box's summaries of the day (central/store/coverage.py)."""


@dataclass(frozen=True, slots=True)
class DayReport:
    """The daily notification for one local date."""

    day: date
    tz: ZoneInfo
    window: Window
    generated: float
    desks: tuple[DeskDay, ...]
    sites: tuple[str, ...] = field(default=())

    def by_site(self) -> dict[str, list[DeskDay]]:
        out: dict[str, list[DeskDay]] = defaultdict(list)
        for d in self.desks:
            out[d.site].append(d)
        return dict(out)

    def site_counts(self) -> dict[str, Counts]:
        out: dict[str, Counts] = {}
        for d in self.desks:
            out[d.site] = out[d.site].plus(d.counts) if d.site in out else d.counts
        return out


def _text(e: Stored, name: str) -> str | None:
    v = e.doc.get(name)
    return v if isinstance(v, str) and v else None


def problems(alerts: Iterable[Stored], window: Window) -> list[Problem]:
    """Raise/clear pairs by alert id that overlap ``window``, oldest first."""
    raises: dict[str, Stored] = {}
    clears: dict[str, Stored] = {}
    for e in alerts:
        if not e.alert_id:
            continue
        if e.state == "raised":
            raises.setdefault(e.alert_id, e)
        elif e.state == "cleared":
            clears.setdefault(e.alert_id, e)
    out: list[Problem] = []
    for aid in set(raises) | set(clears):
        r, c = raises.get(aid), clears.get(aid)
        first = r or c
        assert first is not None
        raised = r.ts if r else None
        cleared = c.ts if c else None
        begin = raised if raised is not None else cleared
        assert begin is not None
        if begin >= window.end or (cleared is not None and cleared < window.start):
            continue
        value = r.number("value") if r else None
        if value is None and c is not None:  # a value of 0 is a value, not "none"
            value = c.number("value")
        out.append(
            Problem(
                site=first.site,
                desk=first.desk,
                alert=first.alert or "alert",
                alert_id=aid,
                raised=raised,
                cleared=cleared,
                value=value,
                message=(_text(r, "message") if r else None)
                or (_text(c, "message") if c else "")
                or "",
                zone=_text(first, "zone"),
                reason=_text(c, "reason") if c else None,
                family=_text(first, "family"),
                cause=r.cause if r else None,
            )
        )
    return sorted(out, key=lambda p: p.raised if p.raised is not None else p.cleared or 0.0)


def is_will(e: Stored) -> bool:
    """An ``offline`` status that is the MQTT Will (``reason`` ``lost``, or no reason: boxes before
    the reason was added sent ``offline`` only as the Will)."""
    return e.state == "offline" and e.doc.get("reason") != "stopped"


def effective_time(e: Stored) -> float:
    """When a status took effect: the Will carries the time its connection began, so the time it
    was received stands for the loss; every other status carries its own time."""
    return e.received if is_will(e) else e.ts


def offline_periods(statuses: Iterable[Stored], window: Window) -> list[Offline]:
    """Offline periods overlapping ``window`` from one desk's status events."""
    periods: list[Offline] = []
    down_since: float | None = None
    how = ""
    for e in sorted(statuses, key=effective_time):
        t = effective_time(e)
        if e.state in ("offline", "stopping"):
            if down_since is None:
                down_since, how = t, ("connection lost" if is_will(e) else "stopped")
        elif e.state == "online" and down_since is not None:
            periods.append(Offline(down_since, t, how))
            down_since = None
    if down_since is not None:
        periods.append(Offline(down_since, None, how))
    return [p for p in periods if p.start < window.end and (p.end is None or p.end >= window.start)]


def _missing_seq(day_events: list[Stored]) -> int:
    seqs = sorted({e.seq for e in day_events if e.seq is not None})
    if len(seqs) < 2:
        return 0
    return (seqs[-1] - seqs[0] + 1) - len(seqs)


def _box_numbers(s: Stored) -> dict[str, int]:
    alerts = s.doc.get("alerts")
    out = {
        "screened": s.integer("screened"),
        "fevers": s.integer("fevers"),
        "invalid": s.integer("invalid"),
        "arrivals": s.integer("arrivals") if "arrivals" in s.doc else s.integer("people"),
        "peak": s.integer("max_occupancy"),
    }
    if isinstance(alerts, dict):
        for k, v in alerts.items():
            if isinstance(v, int):
                out[f"raised:{k}"] = v
    return out


SETUP_ALERT_PREFIXES = ("camera_", "thermometer_", "desk_")
"""Setup-family alerts (the event's ``family``): boxes since issue 11 report them as minutes, not
in the summary's ``alerts`` counts. The names of boxes that sent no ``family``; otherwise the
family of the stored alert events says it (a new setup alert of any name)."""


def _timed_not_counted(name: str, setup: frozenset[str] = frozenset()) -> bool:
    return name in setup or name.startswith(SETUP_ALERT_PREFIXES)


def _setup_names(counted: Iterable[Stored]) -> frozenset[str]:
    """Alert names whose stored events carry ``family`` ``setup``."""
    return frozenset(
        e.alert for e in counted if e.kind == "alert" and e.alert and _text(e, "family") == "setup"
    )


def _stored_numbers(c: Counts) -> dict[str, int]:
    out = {
        "screened": c.screened,
        "fevers": c.fevers,
        "invalid": c.invalid,
        "arrivals": c.arrivals,
        "peak": c.peak,
    }
    out.update({f"raised:{k}": v for k, v in c.raised.items()})
    return out


def _is_daily(s: Stored, day: date) -> bool:
    """The box's day summary of ``day`` (``period`` "day" and that local ``date``)."""
    d = s.doc.get("date")
    if not isinstance(d, str) or d != day.isoformat():
        return False
    period = s.doc.get("period")
    if period == "day":
        return True
    return period is None and (s.number("window_s") or 86400) >= 20 * 3600


def _once_per_period(summaries: list[Stored]) -> list[Stored]:
    """One summary per (period, date, start): a period sent again with a new id (docs/EVENTS.md,
    "Building a day's table") counts once, the one with the higher seq kept. Summaries without
    ``period`` (boxes before issue 11) are kept as they are."""
    keyed: dict[tuple[object, ...], Stored] = {}
    plain: list[Stored] = []
    for s in summaries:
        if "period" not in s.doc:
            plain.append(s)
            continue
        key = tuple(  # a value that is no plain scalar (a list, an object) still keys
            v if isinstance(v, str | int | float | None) else repr(v)
            for v in (s.doc.get("period"), s.doc.get("date"), s.doc.get("start"))
        )
        if key not in keyed or (s.seq or 0) > (keyed[key].seq or 0):
            keyed[key] = s
    return sorted([*plain, *keyed.values()], key=lambda s: s.ts)


def check(
    day: date,
    window: Window,
    counted: list[Stored],
    summaries: list[Stored],
    health: list[Stored],
    missing_seq: int = 0,
) -> Check | None:
    """Compare the stored counts with the box's summaries of the day (None if it sent none)."""
    daily = [s for s in summaries if _is_daily(s, day)]
    ts = [e.ts for e in counted]
    box: dict[str, int] = defaultdict(int)
    stored: dict[str, int] = defaultdict(int)
    covered = 0.0
    if daily:
        chosen = [max(daily, key=lambda s: s.seq or 0)]
        covered = window.end - window.start
        tally = Tally()
        for e in counted:
            if window.contains(e.ts):
                tally.add(e)
        stored.update(_stored_numbers(tally.counts()))
    else:
        chosen = [
            s
            for s in _once_per_period(summaries)
            if s.doc.get("period") != "day" and not _is_daily(s, day)
            if (w := s.number("window_s")) is not None
            and s.ts - w >= window.start - 1
            and s.ts <= window.end + 1
        ]
        for s in chosen:
            w = s.number("window_s") or 0.0
            covered += w
            tally = Tally()
            if "period" in s.doc:  # clock-aligned periods are [start, end)
                lo, hi = bisect.bisect_left(ts, s.ts - w), bisect.bisect_left(ts, s.ts)
            else:  # periods from the agent's start: (previous summary, this one]
                lo, hi = bisect.bisect_right(ts, s.ts - w), bisect.bisect_right(ts, s.ts)
            for e in counted[lo:hi]:
                tally.add(e)
            for k, v in _stored_numbers(tally.counts()).items():
                stored[k] = max(stored[k], v) if k == "peak" else stored[k] + v
    if not chosen:
        return None
    for s in chosen:
        for k, v in _box_numbers(s).items():
            box[k] = max(box[k], v) if k == "peak" else box[k] + v
    differences: list[str] = []
    clock_aligned = any("period" in s.doc for s in chosen)
    setup = _setup_names(counted)
    for k in sorted(set(box) | set(stored)):
        if clock_aligned and k.startswith("raised:") and _timed_not_counted(k[7:], setup):
            continue  # the box reports setup alerts as minutes, not counts
        b, st = box.get(k, 0), stored.get(k, 0)
        if k == "screened" and b in (st, st + stored.get("invalid", 0)):
            continue  # boxes before issue 11 counted invalid readings in `screened`
        if b != st:
            name = k.replace("raised:", "") + (" alerts" if k.startswith("raised:") else "")
            differences.append(f"{name}: box counted {b}, stored {st}")
    evicted = [e.integer("evicted") for e in health if "evicted" in e.doc]
    minutes: dict[str, float] = defaultdict(float)
    for s in chosen:
        reported = s.doc.get("minutes")
        if isinstance(reported, dict):
            for k, v in reported.items():
                if isinstance(v, int | float) and not isinstance(v, bool):
                    minutes[str(k)] += float(v)
    return Check(
        minutes=dict(minutes),
        summaries=len(chosen),
        covered_s=covered,
        box=dict(box),
        stored=dict(stored),
        differences=tuple(differences),
        missing_seq=missing_seq,
        evicted=(max(evicted) - min(evicted)) if len(evicted) >= 2 else None,
    )


def daily_report(
    engine: Engine, day: date, tz: ZoneInfo, site: str | None = None, now: float | None = None
) -> DayReport:
    """The daily notification for local ``day`` (all sites, or one)."""
    window = day_window(day, tz)
    generated = time.time() if now is None else now
    by_desk: dict[tuple[str, str], list[Stored]] = defaultdict(list)
    for e in reader.query(engine, window.start, window.end, site=site):
        by_desk[e.key].append(e)
    # Problems raised before the day that were open at its start, and clears after it.
    alerts: dict[tuple[str, str], list[Stored]] = defaultdict(list)
    for e in reader.query(engine, window.start - LOOKBACK_S, None, kinds=["alert"], site=site):
        alerts[e.key].append(e)
    statuses: dict[tuple[str, str], list[Stored]] = defaultdict(list)
    for e in reader.query(engine, None, None, kinds=["status"], site=site):
        statuses[e.key].append(e)
    latest = reader.latest(engine, "status", site)
    seen = {(d.site, d.desk): d for d in reader.desks(engine, site)}
    keys = sorted(set(by_desk) | {k for k, v in alerts.items() if problems(v, window)})
    keys = sorted(set(keys) | {k for k, v in statuses.items() if offline_periods(v, window)})
    desks: list[DeskDay] = []
    # Summaries ending just after midnight still cover the end of the day (the daily one too).
    after: dict[tuple[str, str], list[Stored]] = defaultdict(list)
    for e in reader.query(engine, window.end, window.end + 3600, ["summary"], site):
        if _is_daily(e, day) or e.ts <= window.end + 1:
            after[e.key].append(e)
    for key in keys:
        day_events = by_desk.get(key, [])
        counted = [e for e in day_events if e.kind in COUNTED_KINDS]
        summaries = [e for e in day_events if e.kind == "summary"] + after.get(key, [])
        tally = Tally()
        for e in counted:
            tally.add(e)
        health = [e for e in day_events if e.kind == "health"]
        chk = check(day, window, counted, summaries, health, _missing_seq(day_events))
        st = latest.get(key)
        desks.append(
            DeskDay(
                site=key[0],
                desk=key[1],
                counts=tally.counts(),
                problems=tuple(problems(alerts.get(key, []), window)),
                offline=tuple(offline_periods(statuses.get(key, []), window)),
                check=chk,
                online=None if st is None else st.state == "online",
                last_seen=seen[key].last_ts if key in seen else None,
                coverage=day_coverage([s.doc for s in summaries], day.isoformat()),
            )
        )
    return DayReport(day, tz, window, generated, tuple(desks), tuple(sorted({k[0] for k in keys})))

"""The ``summary``: counts over periods of the clinic's clock, tallied from the events themselves.

Periods follow the local clock of ``device.timezone``: one every ``reporting.summary_interval_s``
(default 15 min, aligned to :00/:15/:30/:45 from local midnight; the last one of a day ends at
midnight) and one per local day, midnight to midnight (23 or 25 hours on a daylight-saving change).
Each summary carries its ``period`` ("15min", "day"), its local ``date`` and its local ``start``
(HH:MM); ``at`` is the period's end and ``window_s`` its true length, so ``at - window_s`` is its start.

The tally sees every event the service stores (:meth:`SummaryTally.record`):

- ``screened``: valid results (normal + fever); ``fevers``; ``invalid`` (re-measure asked) apart;
- ``people``: arrivals, the sum of ``people`` in the camera's periodic occupancy events;
- ``mask_violations``: ``unmasked`` alerts raised; ``alerts``: alerts raised by type, for the
  screening, mask and occupancy families (``setup`` alerts are reported as minutes);
  ``masks_worn_wrong``: of the mask alerts raised (patients and staff), those for a mask worn
  wrong (their ``cause``);
- ``max_occupancy``: the highest occupancy count or window maximum reported;
- ``arrivals_screened``, ``arrivals_unscreened``, ``scans``: the sums of the ``coverage`` events
  (screening coverage and registration scans, :mod:`agent.flow.coverage`), when there were any;
- ``minutes``: how long problems lasted in the period, as far as the box knows: ``desk`` (a
  ``desk_unattended`` alert open), ``crowding`` (any ``crowding`` alert open), ``setup`` (any other
  ``setup`` alert open: camera covered, dark, blurred, moved, lost; thermometer lost) and
  ``offline`` (the agent was not running: the gap between its last-alive stamp and its restart).
  Problem minutes count only while the agent runs.

No IO here: :meth:`SummaryTally.to_state` and :meth:`SummaryTally.resume` are the seam the service
uses to persist the tally (in the outbox database, in the same transaction as the event that changed
it), so a restart or a power cut neither loses nor double-counts. On resume, the periods that ended
while the agent was down are closed with their true bounds and what was counted before the stop;
periods the agent missed entirely are not reported (the day's ``offline`` minutes cover them).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from agent.flow import alert_kinds
from agent.flow.events import (
    AlertEvent,
    AlertType,
    CoverageEvent,
    Event,
    OccupancyEvent,
    SummaryEvent,
    TemperatureEvent,
)

STATE_VERSION = 1
DAY = "day"
GROUPS = alert_kinds.MINUTES_GROUPS
"""The ``minutes`` keys, in wire order."""
COVERAGE_FACTS = ("arrivals_screened", "arrivals_unscreened", "scans")
"""The ``coverage`` events' counts the summary adds up (same names in both); each is in a summary
only when the period had a ``coverage`` event carrying it (:mod:`agent.flow.coverage`)."""


def group_of(alert: AlertType) -> str | None:
    """Which ``minutes`` figure an open alert adds to (None: not timed); its declaration's
    ``minutes`` (:mod:`agent.flow.alert_kinds`). An undeclared name is not timed."""
    return alert_kinds.ALERTS[alert].minutes if alert_kinds.is_alert(alert) else None


def counted_alert(alert: AlertType) -> bool:
    """Whether raises of ``alert`` are counted in the summary's ``alerts`` map (its declaration's
    ``counted``; an undeclared name is not counted)."""
    return alert_kinds.is_alert(alert) and alert_kinds.ALERTS[alert].counted


def period_label(interval_s: float) -> str:
    """``900`` -> ``"15min"``; ``30`` -> ``"30s"``."""
    if interval_s % 60 == 0:
        return f"{int(interval_s // 60)}min"
    return f"{int(interval_s)}s"


class ClinicClock:
    """Local days and aligned periods of one time zone, as POSIX bounds."""

    def __init__(self, tz: str, interval_s: float) -> None:
        self.tz = ZoneInfo(tz)
        self.interval_s = interval_s

    def day(self, at: float) -> tuple[float, float, str]:
        """``(start, end, "YYYY-MM-DD")`` of the local day holding ``at``."""
        local = datetime.fromtimestamp(at, self.tz)
        midnight = datetime(local.year, local.month, local.day, tzinfo=self.tz)
        following = midnight.date() + timedelta(days=1)
        end = datetime(following.year, following.month, following.day, tzinfo=self.tz)
        return midnight.timestamp(), end.timestamp(), midnight.date().isoformat()

    def slot(self, at: float) -> tuple[float, float, str]:
        """``(start, end, date)`` of the aligned period holding ``at`` (clipped at midnight)."""
        d0, d1, date = self.day(at)
        k = int((at - d0) // self.interval_s)
        start = d0 + k * self.interval_s
        return start, min(start + self.interval_s, d1), date

    def hhmm(self, at: float) -> str:
        """Local wall-clock time of ``at``: ``HH:MM`` (``HH:MM:SS`` off the minute)."""
        local = datetime.fromtimestamp(at, self.tz)
        return local.strftime("%H:%M" if local.second == 0 else "%H:%M:%S")


@dataclass(slots=True)
class Period:
    """What one period counted so far."""

    label: str
    start: float
    end: float
    date: str
    results: Counter[str] = field(default_factory=Counter)
    alerts: Counter[str] = field(default_factory=Counter)
    people: int = 0
    max_occupancy: int = 0
    seconds: dict[str, float] = field(default_factory=dict)
    facts: Counter[str] = field(default_factory=Counter)
    """Counted facts of the ``coverage`` events, by their summary name (only those reported)."""
    causes: Counter[str] = field(default_factory=Counter)
    """Mask alerts raised, by ``cause`` (``no_mask``, ``worn_wrong``)."""

    def record(self, event: Event) -> None:
        if isinstance(event, TemperatureEvent):
            self.results[event.result] += 1
        elif isinstance(event, AlertEvent) and event.state == "raised":
            if counted_alert(event.alert):
                self.alerts[event.alert] += 1
            if event.cause is not None:
                self.causes[event.cause] += 1
        elif isinstance(event, OccupancyEvent):
            self.max_occupancy = max(self.max_occupancy, event.count, event.max)
            self.people += event.people or 0
        elif isinstance(event, CoverageEvent):
            for name in COVERAGE_FACTS:
                n = getattr(event, name)
                if n is not None:
                    self.facts[name] += n

    def add_time(self, group: str, since: float, until: float) -> None:
        """Credit ``group`` with the part of ``[since, until)`` inside this period."""
        lo, hi = max(since, self.start), min(until, self.end)
        if hi > lo:
            self.seconds[group] = self.seconds.get(group, 0.0) + hi - lo

    def summary(self, clock: ClinicClock) -> SummaryEvent:
        return SummaryEvent(
            at=self.end,
            window_s=self.end - self.start,
            screened=self.results["normal"] + self.results["fever"],
            fevers=self.results["fever"],
            invalid=self.results["invalid"],
            people=self.people,
            mask_violations=self.alerts["unmasked"],
            max_occupancy=self.max_occupancy,
            alerts=dict(sorted(self.alerts.items())),
            period=self.label,
            date=self.date,
            start=clock.hhmm(self.start),
            minutes={g: round(self.seconds.get(g, 0.0) / 60.0, 1) for g in GROUPS},
            arrivals_screened=self._fact("arrivals_screened"),
            arrivals_unscreened=self._fact("arrivals_unscreened"),
            scans=self._fact("scans"),
            masks_worn_wrong=self.causes["worn_wrong"],
        )

    def _fact(self, name: str) -> int | None:
        return self.facts.get(name)

    def to_state(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "start": self.start,
            "end": self.end,
            "date": self.date,
            "results": dict(self.results),
            "alerts": dict(self.alerts),
            "people": self.people,
            "max_occupancy": self.max_occupancy,
            "seconds": dict(self.seconds),
            "facts": dict(self.facts),
            "causes": dict(self.causes),
        }

    @classmethod
    def from_state(cls, s: dict[str, Any]) -> Period:
        return cls(
            label=str(s["label"]),
            start=float(s["start"]),
            end=float(s["end"]),
            date=str(s["date"]),
            results=Counter({str(k): int(v) for k, v in s["results"].items()}),
            alerts=Counter({str(k): int(v) for k, v in s["alerts"].items()}),
            people=int(s["people"]),
            max_occupancy=int(s["max_occupancy"]),
            seconds={str(k): float(v) for k, v in s["seconds"].items()},
            facts=Counter({str(k): int(v) for k, v in s.get("facts", {}).items()}),
            causes=Counter({str(k): int(v) for k, v in s.get("causes", {}).items()}),
        )


class SummaryTally:
    """The current aligned period and the current local day. Used from the main loop thread only.

    Call :meth:`due` on every tick (and before recording an event) to close ended periods one at a
    time, :meth:`record` for every stored event, :meth:`alive` to stamp that the agent runs.
    """

    def __init__(self, interval_s: float, tz: str, now: float) -> None:
        self.clock = ClinicClock(tz, interval_s)
        self.label = period_label(interval_s)
        self.alive_at = now
        self._open: dict[str, tuple[AlertType, float]] = {}
        """Open timed alerts: alert_id -> (alert, raised at)."""
        self._since: dict[str, float] = {}
        """Timed groups with an alert open -> since when they count (union of their alerts)."""
        self._gap: tuple[float, float] | None = None
        """The outage before this run (last-alive stamp, restart): offline in the periods it
        touches, including those opened after the restart."""
        self._slot = self._new_slot(now)
        self._day = self._new_day(now)

    def _new_slot(self, at: float) -> Period:
        start, end, date = self.clock.slot(at)
        return self._credit_gap(Period(self.label, start, end, date))

    def _new_day(self, at: float) -> Period:
        start, end, date = self.clock.day(at)
        return self._credit_gap(Period(DAY, start, end, date))

    @property
    def periods(self) -> tuple[Period, Period]:
        """The current aligned period and the current day."""
        return self._slot, self._day

    # -- counting --------------------------------------------------------------------------------
    def counts(self, event: Event) -> bool:
        """Whether recording ``event`` changes the tally (so it must be persisted with it)."""
        if isinstance(event, TemperatureEvent | OccupancyEvent | CoverageEvent):
            return True
        return isinstance(event, AlertEvent)

    def record(self, event: Event) -> None:
        """Count one event in the current period and day; time the problem alerts."""
        for p in self.periods:
            p.record(event)
        if isinstance(event, AlertEvent):
            self._time_alert(event)

    def _time_alert(self, event: AlertEvent) -> None:
        group = group_of(event.alert)
        if group is None:
            return
        if event.state == "raised":
            self._open[event.alert_id] = (event.alert, event.at)
            self._since.setdefault(group, event.at)
            return
        if self._open.pop(event.alert_id, None) is None:
            return  # a clear whose raise this tally never saw
        if any(group_of(a) == group for a, _ in self._open.values()):
            return
        since = self._since.pop(group, None)
        if since is not None:
            for p in self.periods:
                p.add_time(group, since, event.at)

    def alive(self, now: float) -> None:
        """The agent is running at ``now`` (the stamp a restart measures its gap from)."""
        self.alive_at = max(self.alive_at, now)

    # -- closing periods -------------------------------------------------------------------------
    def due(self, now: float) -> SummaryEvent | None:
        """Close the earliest period that ended by ``now`` (the aligned one before the day's) and
        return its summary; None when none is due. Call until None."""
        for which, p in (("slot", self._slot), ("day", self._day)):
            if now < p.end:
                continue
            for group, since in self._since.items():
                p.add_time(group, since, p.end)
            event = p.summary(self.clock)
            if which == "slot":
                self._slot = self._new_slot(max(now, p.end))
            else:
                self._day = self._new_day(max(now, p.end))
            return event
        return None

    # -- persistence (no IO: the service stores the state) ---------------------------------------
    def to_state(self) -> dict[str, Any]:
        """Everything needed to carry on after a restart, JSON-ready."""
        return {
            "version": STATE_VERSION,
            "alive": self.alive_at,
            "slot": self._slot.to_state(),
            "day": self._day.to_state(),
            "open": {k: [a, at] for k, (a, at) in self._open.items()},
            "since": dict(self._since),
        }

    def load(self, state: dict[str, Any]) -> None:
        """Go back to a state from :meth:`to_state` (undo a count whose event was not stored)."""
        self.alive_at = float(state["alive"])
        self._slot = Period.from_state(state["slot"])
        self._day = Period.from_state(state["day"])
        self._open = {str(k): (v[0], float(v[1])) for k, v in state["open"].items()}
        self._since = {str(k): float(v) for k, v in state["since"].items()}

    @classmethod
    def resume(
        cls, interval_s: float, tz: str, now: float, state: dict[str, Any] | None
    ) -> SummaryTally:
        """The tally after a restart at ``now`` from the persisted ``state`` (None: a first start).

        The time between the last-alive stamp and ``now`` is ``offline`` in every period it
        touches; problem alerts open at the stop count up to the stamp and again from ``now``.
        Periods that ended meanwhile are closed by the next :meth:`due` calls with their true
        bounds. A state for another interval or time zone is continued as far as it matches.
        """
        tally = cls(interval_s, tz, now)
        if state is None or state.get("version") != STATE_VERSION:
            return tally
        tally.load(state)
        last = min(tally.alive_at, now)
        for group, since in tally._since.items():
            for p in tally.periods:
                p.add_time(group, since, last)
        tally._since = {g: now for g in tally._since}
        tally._gap = (last, now)
        for p in tally.periods:
            p.add_time("offline", last, now)
        tally.alive_at = now
        return tally

    def _credit_gap(self, p: Period) -> Period:
        if self._gap is not None:
            p.add_time("offline", *self._gap)
        return p

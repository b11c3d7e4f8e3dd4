"""The weekly counts per clinic (site) for one ISO week, with the change from the week before, and
each clinic's screening coverage of both weeks (the boxes' day summaries: central/report/coverage.py).

Under each alert raised, a mask alert raised for a mask worn wrong in either week has a line "of
which a mask worn incorrectly" (metric ``worn_wrong:<alert>``).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, func, select

from central.i18n import N_
from central.report.counts import Counts
from central.report.coverage import Desk, days_coverage
from central.report.days import Window, previous_week, week_window
from central.report.labels import label_for
from central.store.coverage import Coverage
from central.store.tables import rollup_alerts, rollup_days

BASE_METRICS: tuple[tuple[str, str], ...] = (
    ("screened", N_("Screened")),
    ("fevers", N_("Fevers")),
    ("invalid", N_("Invalid readings")),
    ("arrivals", N_("Arrivals")),
    ("peak", N_("Peak occupancy")),
    ("problems", N_("Problems raised")),
    ("fevers_alerted", N_("Fever alerts (screenings)")),
)
WORN_WRONG_LABEL = N_("of which a mask worn incorrectly")
"""Under an alert's line: of its raises, those for a mask worn wrong (``worn_wrong:<alert>``)."""


def metric(c: Counts, name: str) -> int:
    """A named number of ``c``: a base metric, ``raised:<alert>`` or ``worn_wrong:<alert>``."""
    if name.startswith("raised:"):
        return c.raised.get(name.removeprefix("raised:"), 0)
    if name.startswith("worn_wrong:"):
        return c.worn_wrong.get(name.removeprefix("worn_wrong:"), 0)
    if name == "problems":
        return c.problems
    if name == "fevers_alerted":
        return c.screening_alerts
    value: int = getattr(c, name)
    return value


@dataclass(frozen=True, slots=True)
class WeekLine:
    """One metric of one clinic: this week, the week before, the change."""

    site: str
    metric: str
    label: str
    this: int
    last: int

    @property
    def change(self) -> int:
        return self.this - self.last

    @property
    def change_text(self) -> str:
        if self.change == 0:
            return "0"
        if self.last == 0:
            return f"{self.change:+d}" if self.this else "0"
        return f"{self.change:+d} ({100 * self.change / self.last:+.0f}%)"


@dataclass(frozen=True, slots=True)
class WeekReport:
    """Counts per clinic for ISO week ``year-Wweek``."""

    year: int
    week: int
    tz: ZoneInfo
    window: Window
    previous: Window
    lines: tuple[WeekLine, ...]
    coverage: Mapping[str, tuple[Coverage, Coverage]] = field(default_factory=dict)
    """Per clinic, screening coverage this week and the week before (absent: none reported)."""

    @property
    def title(self) -> str:
        return f"{self.year}-W{self.week:02d}"

    def by_site(self) -> dict[str, list[WeekLine]]:
        out: dict[str, list[WeekLine]] = {}
        for line in self.lines:
            out.setdefault(line.site, []).append(line)
        return out


def _per_site(engine: Engine, w: Window, site: str | None) -> dict[str, Counts]:
    """Counts per site summed in the database from the daily rollups of the window's local days
    (what ``reconcile`` proves equal to counting the raw events; a district week is ~14,000
    desk-days, not ~35 M events)."""
    d, a = rollup_days, rollup_alerts
    days_q = (
        select(
            d.c.site,
            func.sum(d.c.screened),
            func.sum(d.c.fevers),
            func.sum(d.c.invalid),
            func.sum(d.c.arrivals),
            func.max(d.c.peak),
        )
        .where(d.c.day >= w.first, d.c.day <= w.last)
        .group_by(d.c.site)
    )
    alerts_q = (
        select(a.c.site, a.c.alert, func.sum(a.c.raised), func.sum(a.c.worn_wrong))
        .where(a.c.day >= w.first, a.c.day <= w.last)
        .group_by(a.c.site, a.c.alert)
    )
    if site is not None:
        days_q = days_q.where(d.c.site == site)
        alerts_q = alerts_q.where(a.c.site == site)
    raised: dict[str, dict[str, int]] = {}
    worn_wrong: dict[str, dict[str, int]] = {}
    out: dict[str, Counts] = {}
    with engine.connect() as conn:
        for s, alert, n, wrong in conn.execute(alerts_q):
            raised.setdefault(s, {})[alert] = int(n)
            if wrong:
                worn_wrong.setdefault(s, {})[alert] = int(wrong)
        for r in conn.execute(days_q):
            out[r[0]] = Counts(int(r[1]), int(r[2]), int(r[3]), int(r[4]), int(r[5]),
                               dict(sorted(raised.get(r[0], {}).items())),
                               dict(sorted(worn_wrong.get(r[0], {}).items())))  # fmt: skip
    return out


def _coverage(engine: Engine, w: Window, tz: ZoneInfo, site: str | None) -> dict[str, Coverage]:
    """Per clinic, the week's coverage: each day's day summaries (the periodic ones of the day's
    desks that sent none), summed."""
    d = rollup_days
    stmt = select(d.c.site, d.c.desk, d.c.day).where(d.c.day >= w.first, d.c.day <= w.last)
    if site is not None:
        stmt = stmt.where(d.c.site == site)
    desks: dict[date, list[Desk]] = defaultdict(list)
    with engine.connect() as conn:
        for s, desk, day in conn.execute(stmt):
            desks[day].append((s, desk))
        sites = None if site is None else {site}
        return days_coverage(conn, w.first, w.last, tz, sites, desks)


def weekly_report(
    engine: Engine, year: int, week: int, tz: ZoneInfo, site: str | None = None
) -> WeekReport:
    """Counts per site for the week and the week before."""
    window = week_window(year, week, tz)
    prev = week_window(*previous_week(year, week), tz)
    this, last = _per_site(engine, window, site), _per_site(engine, prev, site)
    lines: list[WeekLine] = []
    for s in sorted(set(this) | set(last)):
        a, b = this.get(s, Counts()), last.get(s, Counts())
        for name, label in BASE_METRICS:
            lines.append(WeekLine(s, name, label, metric(a, name), metric(b, name)))
        for alert in sorted(set(a.raised) | set(b.raised)):
            key = f"raised:{alert}"
            lines.append(
                WeekLine(s, key, f"  {label_for(alert).label}", metric(a, key), metric(b, key))
            )
            if a.worn_wrong.get(alert) or b.worn_wrong.get(alert):
                key = f"worn_wrong:{alert}"
                lines.append(
                    WeekLine(s, key, f"    {WORN_WRONG_LABEL}", metric(a, key), metric(b, key))
                )
    cov_this, cov_last = _coverage(engine, window, tz, site), _coverage(engine, prev, tz, site)
    coverage = {
        s: (cov_this.get(s, Coverage()), cov_last.get(s, Coverage()))
        for s in sorted(set(this) | set(last))
    }
    return WeekReport(year, week, tz, window, prev, tuple(lines), coverage)

"""The district's week by problem kind (issue 21 item 7): totals per kind, clinics ranked by
problems, and the 8-week trend drawn as an inline SVG chart on the server.

Read from ``rollup_alerts`` (alerts raised per desk and day, mapped to kinds by
central/report/kinds.py; fevers are screenings, not counted) and, for "triage point not working",
the offline periods that began in the week (``status`` events ``offline``: the Will timed when it
was received, a clean stop at its ``ts``). Every reading takes the viewer's clinics ``sites``.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date
from html import escape
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, Engine, Select, func, select

from central.i18n import Translator
from central.report.days import Window, previous_week, week_window
from central.report.kinds import KINDS, NOT_WORKING, OTHER, kind_of
from central.store import reader
from central.store.tables import events, rollup_alerts

WEEKS = 8
RANKED = 50
"""Clinics listed in the ranking (the most problems first)."""
COLOURS = {"not_working": "#7b4bc4", "staff": "#c98a00", "crowding": "#1f78c8",
           "unmasked": "#c8372d", "other": "#777777"}  # fmt: skip


@dataclass(frozen=True, slots=True)
class KindWeek:
    """One ISO week's problems per kind."""

    year: int
    week: int
    first: date
    per_kind: dict[str, int]

    @property
    def total(self) -> int:
        return sum(self.per_kind.values())


@dataclass(frozen=True, slots=True)
class ClinicRank:
    site: str
    per_kind: dict[str, int]
    last_week: int

    @property
    def total(self) -> int:
        return sum(self.per_kind.values())


@dataclass(frozen=True, slots=True)
class DistrictWeek:
    """The week of the viewer's clinics: totals, ranking, trend (oldest week first)."""

    this: KindWeek
    last: KindWeek
    ranking: tuple[ClinicRank, ...]
    clinics_with_problems: int
    trend: tuple[KindWeek, ...]


def _empty() -> dict[str, int]:
    return {k.key: 0 for k in KINDS}


def district_week(
    engine: Engine, year: int, week: int, tz: ZoneInfo, sites: frozenset[str] | None = None
) -> DistrictWeek:
    """Problems per kind of ISO week ``year-Wweek`` and the :data:`WEEKS` - 1 before it."""
    weeks: list[tuple[int, int]] = [(year, week)]
    for _ in range(WEEKS - 1):
        weeks.append(previous_week(*weeks[-1]))
    weeks.reverse()
    windows = [week_window(y, w, tz) for y, w in weeks]
    first, last = windows[0].first, windows[-1].last

    def index_of_day(d: date) -> int:
        return (d - first).days // 7

    per_week = [_empty() for _ in windows]
    per_site: dict[str, dict[str, int]] = defaultdict(_empty)
    per_site_last: dict[str, int] = defaultdict(int)
    t = rollup_alerts
    scope = [t.c.site.in_(sorted(sites))] if sites is not None else []
    # The trend: per day and alert over the weeks (no site: ~56 x alert names rows).
    trend_q = (
        select(t.c.day, t.c.alert, func.sum(t.c.raised))
        .where(t.c.day >= first, t.c.day <= last, *scope)
        .group_by(t.c.day, t.c.alert)
    )

    # The ranking: per clinic and alert, this week and the week before.
    def per_site_q(lo: date, hi: date) -> Select[Any]:
        return (
            select(t.c.site, t.c.alert, func.sum(t.c.raised))
            .where(t.c.day >= lo, t.c.day <= hi, *scope)
            .group_by(t.c.site, t.c.alert)
        )

    with engine.connect() as conn:
        trend_rows = conn.execute(trend_q).all()
        rank_rows = [
            (s_, a, True, n)
            for s_, a, n in conn.execute(per_site_q(windows[-1].first, windows[-1].last))
        ]
        rank_rows += [
            (s_, a, False, n)
            for s_, a, n in conn.execute(per_site_q(windows[-2].first, windows[-2].last))
        ]
        offline = _offline_starts(conn, windows[0], windows[-1], sites)
    for day, alert, n in trend_rows:
        kind = kind_of(alert)
        i = index_of_day(day)
        if kind is not None and 0 <= i < len(windows):
            per_week[i][kind] = per_week[i].get(kind, 0) + int(n)
    for site, alert, this, n in rank_rows:
        kind = kind_of(alert)
        if kind is None:
            continue
        if this:
            per_site[site][kind] = per_site[site].get(kind, 0) + int(n)
        else:
            per_site_last[site] += int(n)
    for site, at in offline:
        for i, w in enumerate(windows):
            if w.start <= at < w.end:
                per_week[i][NOT_WORKING] += 1
                if i == len(windows) - 1:
                    per_site[site][NOT_WORKING] += 1
                elif i == len(windows) - 2:
                    per_site_last[site] += 1
    trend = tuple(
        KindWeek(y, w, win.first, per_week[i])
        for i, ((y, w), win) in enumerate(zip(weeks, windows, strict=True))
    )
    ranking = sorted(
        (ClinicRank(s, k, per_site_last.get(s, 0)) for s, k in per_site.items() if sum(k.values())),
        key=lambda c: (-c.total, c.site),
    )
    return DistrictWeek(trend[-1], trend[-2], tuple(ranking[:RANKED]), len(ranking), trend)


def _offline_starts(
    conn: Connection, first: Window, last: Window, sites: frozenset[str] | None
) -> list[tuple[str, float]]:
    """(site, when it went offline) for the ``offline`` statuses that took effect in the weeks."""
    stmt = select(*reader.COLUMNS).where(
        events.c.kind == "status",
        events.c.state == "offline",
        events.c.ts >= first.start - 14 * 86400,
        events.c.ts < last.end,
        reader.SANE,
    )
    if sites is not None:
        stmt = stmt.where(events.c.site.in_(sorted(sites)))
    out = []
    for e in reader.rows(conn, stmt):
        at = e.received if e.doc.get("reason") != "stopped" else e.ts
        if first.start <= at < last.end:
            out.append((e.site, at))
    return out


def trend_svg(d: DistrictWeek, t: Translator, width: int = 640, height: int = 220) -> str:
    """The 8-week trend: one line per kind, weeks on the x axis (server-drawn, no script)."""
    left, right, top, bottom = 40, 10, 10, 60
    plot_w, plot_h = width - left - right, height - top - bottom
    top_value = max([1, *(v for w in d.trend for v in w.per_kind.values())])
    n = len(d.trend)

    def x(i: int) -> float:
        return left + (plot_w * i / max(1, n - 1))

    def y(v: int) -> float:
        return top + plot_h - plot_h * v / top_value

    title = t.gettext("Problems per kind, 8 weeks")
    parts = [
        f'<svg class="trend" xmlns="http://www.w3.org/2000/svg" width="{width}" '
        f'height="{height}" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="{escape(title)}">',
        f'<line x1="{left}" y1="{top + plot_h}" x2="{left + plot_w}" y2="{top + plot_h}" '
        'stroke="#999"/>',
        f'<text x="{left - 4}" y="{top + 4}" text-anchor="end" font-size="11">'
        f"{escape(t.number(top_value))}</text>",
        f'<text x="{left - 4}" y="{top + plot_h}" text-anchor="end" font-size="11">0</text>',
    ]
    for i, w in enumerate(d.trend):
        parts.append(
            f'<text x="{x(i):.1f}" y="{top + plot_h + 14}" text-anchor="middle" '
            f'font-size="10">W{w.week:02d}</text>'
        )
    legend_y = top + plot_h + 32
    legend_x = left
    for k in KINDS:
        if k.key == OTHER:
            continue
        pts = " ".join(
            f"{x(i):.1f},{y(w.per_kind.get(k.key, 0)):.1f}" for i, w in enumerate(d.trend)
        )
        colour = COLOURS[k.key]
        parts.append(
            f'<polyline class="kind-{k.key}" fill="none" stroke="{colour}" stroke-width="2" '
            f'points="{pts}"/>'
        )
        label = escape(t.gettext(k.short))
        parts.append(
            f'<rect x="{legend_x}" y="{legend_y - 9}" width="10" height="10" fill="{colour}"/>'
            f'<text x="{legend_x + 14}" y="{legend_y}" font-size="11">{label}</text>'
        )
        legend_x += 16 + 7 * len(t.gettext(k.short)) + 30
        if legend_x > width - 120:
            legend_x, legend_y = left, legend_y + 16
    parts.append("</svg>")
    return "".join(parts)

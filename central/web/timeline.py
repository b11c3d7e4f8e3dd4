"""A clinic day's timeline as inline SVG, drawn on the server: occupancy as a step line, each
problem as a bar in its own lane, offline periods shaded. No script, no external assets."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from html import escape
from zoneinfo import ZoneInfo

from central.report.daily import DeskDay
from central.report.days import Window
from central.report.labels import family_for
from central.store.reader import Stored

WIDTH = 960
LEFT = 44
RIGHT = 24
CHART_H = 110
LANE_H = 18
COLOURS = {
    "patient": "#d9534f",
    "staff": "#e0a100",
    "crowding": "#2b7bd6",
    "setup": "#7d4cc2",
    "other": "#6c757d",
}


@dataclass(frozen=True, slots=True)
class Span:
    start: float
    end: float

    def x(self, ts: float) -> float:
        frac = (min(max(ts, self.start), self.end) - self.start) / (self.end - self.start)
        return LEFT + frac * (WIDTH - LEFT - RIGHT)


def span_for(window: Window, events: list[Stored], now: float, tz: ZoneInfo) -> Span:
    """Whole hours around the day's events (at least 08:00-17:00), inside the day."""
    times = [e.ts for e in events if window.contains(e.ts)]
    lo = min([*times, datetime.fromtimestamp(window.start, tz).replace(hour=8).timestamp()])
    hi = max([*times, datetime.fromtimestamp(window.start, tz).replace(hour=17).timestamp()])
    if window.contains(now):
        hi = max(hi, now)
    start = datetime.fromtimestamp(lo, tz).replace(minute=0, second=0, microsecond=0)
    end = datetime.fromtimestamp(hi, tz).replace(minute=0, second=0, microsecond=0)
    end += timedelta(hours=1)
    return Span(max(start.timestamp(), window.start), min(end.timestamp(), window.end))


def svg(desk: DeskDay, occupancy: list[Stored], window: Window, now: float, tz: ZoneInfo) -> str:
    """The SVG markup for one desk's day."""
    span = span_for(window, occupancy, now, tz)
    lanes = list(desk.problems)
    height = CHART_H + 26 + max(1, len(lanes)) * LANE_H + 6
    peak = max([1, *(max(e.integer("count"), e.integer("max")) for e in occupancy)])
    top = 8
    y0 = top + CHART_H

    def y(v: float) -> float:
        return y0 - v / peak * (CHART_H - 10)

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="timeline" width="{WIDTH}" '
        f'height="{height}" viewBox="0 0 {WIDTH} {height}" role="img" '
        f'aria-label="timeline of {escape(desk.site)} {escape(desk.desk)}">',
        f'<rect x="{LEFT}" y="{top}" width="{WIDTH - LEFT - RIGHT}" height="{CHART_H}" '
        'fill="#fff" stroke="#c9d0d8"/>',
    ]
    for o in desk.offline:
        x1, x2 = span.x(o.start), span.x(o.end if o.end is not None else min(now, span.end))
        parts.append(
            f'<rect class="offline" x="{x1:.1f}" y="{top}" width="{max(x2 - x1, 1):.1f}" '
            f'height="{CHART_H}" fill="#9aa3ad" fill-opacity="0.35"><title>offline '
            f"({escape(o.how)})</title></rect>"
        )
    # Hour grid and labels.
    hour = datetime.fromtimestamp(span.start, tz)
    step = 1 if (span.end - span.start) <= 14 * 3600 else 2
    while hour.timestamp() <= span.end:
        x = span.x(hour.timestamp())
        parts.append(f'<line x1="{x:.1f}" y1="{top}" x2="{x:.1f}" y2="{y0}" stroke="#eef0f3"/>')
        parts.append(
            f'<text x="{x:.1f}" y="{y0 + 14}" font-size="11" text-anchor="middle" '
            f'fill="#556">{hour:%H:%M}</text>'
        )
        hour += timedelta(hours=step)
    for v in sorted({0, peak, math.ceil(peak / 2)}):
        parts.append(
            f'<text x="{LEFT - 6}" y="{y(v) + 4:.1f}" font-size="11" text-anchor="end" '
            f'fill="#556">{v}</text>'
        )
    # Occupancy as a step line (the count holds until the next report).
    pts: list[str] = []
    last_y: float | None = None
    for e in occupancy:
        if not window.contains(e.ts):
            continue
        x = span.x(e.ts)
        vy = y(
            max(e.integer("count"), e.integer("max"))
            if e.number("window_s")
            else e.integer("count")
        )
        if last_y is not None:
            pts.append(f"{x:.1f},{last_y:.1f}")
        pts.append(f"{x:.1f},{vy:.1f}")
        last_y = vy
    if pts and last_y is not None:
        pts.append(f"{span.x(min(now, span.end)):.1f},{last_y:.1f}")
        parts.append(
            f'<polyline class="occupancy" points="{" ".join(pts)}" fill="none" '
            'stroke="#1f6fbf" stroke-width="2"/>'
        )
    parts.append(
        f'<text x="{LEFT + 4}" y="{top + 12}" font-size="11" fill="#1f6fbf">people in view</text>'
    )
    # One lane per problem.
    for i, p in enumerate(lanes):
        ly = y0 + 22 + i * LANE_H
        start = p.raised if p.raised is not None else span.start
        end = p.cleared if p.cleared is not None else min(now, span.end)
        x1, x2 = span.x(start), span.x(end)
        colour = COLOURS.get(family_for(p.alert, p.family), COLOURS["other"])
        state = "open" if p.is_open else "put right"
        parts.append(
            f'<rect class="problem" x="{x1:.1f}" y="{ly}" width="{max(x2 - x1, 3):.1f}" '
            f'height="{LANE_H - 5}" rx="3" fill="{colour}"><title>{escape(p.label)} '
            f"({state})</title></rect>"
        )
        tx, anchor = (x2 + 4, "start") if x2 < WIDTH - 220 else (x1 - 4, "end")
        parts.append(
            f'<text x="{tx:.1f}" y="{ly + LANE_H - 8}" font-size="11" text-anchor="{anchor}" '
            f'fill="#333">{escape(p.label)}{" (open)" if p.is_open else ""}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)

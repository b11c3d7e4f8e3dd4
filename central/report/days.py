"""Local days and ISO weeks in the district's time zone, as POSIX-second windows."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from central.config import ConfigError


@dataclass(frozen=True, slots=True)
class Window:
    """``[start, end)`` in POSIX seconds, with the local dates it covers."""

    first: date
    last: date
    start: float
    end: float

    def contains(self, ts: float) -> bool:
        return self.start <= ts < self.end


def day_window(d: date, tz: ZoneInfo) -> Window:
    """Local midnight to the next local midnight (23 or 25 hours on DST change days)."""
    start = datetime.combine(d, time(0), tz).timestamp()
    end = datetime.combine(d + timedelta(days=1), time(0), tz).timestamp()
    return Window(d, d, start, end)


def week_window(year: int, week: int, tz: ZoneInfo) -> Window:
    """Monday 00:00 to the next Monday 00:00, local time, of ISO week ``year-Wweek``."""
    monday = date.fromisocalendar(year, week, 1)
    start = datetime.combine(monday, time(0), tz).timestamp()
    end = datetime.combine(monday + timedelta(days=7), time(0), tz).timestamp()
    return Window(monday, monday + timedelta(days=6), start, end)


def today(tz: ZoneInfo, now: float | None = None) -> date:
    return (datetime.now(tz) if now is None else datetime.fromtimestamp(now, tz)).date()


FIRST_YEAR, LAST_YEAR = 2020, 2099
"""Days and weeks a report can be asked for (no event is stored outside them)."""


def parse_date(text: str, tz: ZoneInfo) -> date:
    """``YYYY-MM-DD``, ``today`` or ``yesterday``; :class:`ConfigError` otherwise."""
    if text == "today":
        return today(tz)
    if text == "yesterday":
        return today(tz) - timedelta(days=1)
    try:
        d = date.fromisoformat(text)
    except ValueError:
        raise ConfigError(
            f"date: {text[:40]!r} is not YYYY-MM-DD, 'today' or 'yesterday'"
        ) from None
    if not FIRST_YEAR <= d.year <= LAST_YEAR:
        raise ConfigError(f"date: {d.isoformat()} is outside {FIRST_YEAR}..{LAST_YEAR}")
    return d


_WEEK = re.compile(r"^(\d{4})-?W(\d{1,2})$")


def parse_week(text: str, tz: ZoneInfo) -> tuple[int, int]:
    """``2026-W48``, ``this`` or ``last`` -> (ISO year, ISO week)."""
    if text in ("this", "last"):
        d = today(tz) - timedelta(days=7 if text == "last" else 0)
        iso = d.isocalendar()
        return iso.year, iso.week
    m = _WEEK.match(text)
    if m is None:
        raise ConfigError(f"week: {text[:40]!r} is not an ISO week such as 2026-W48")
    year, week = int(m.group(1)), int(m.group(2))
    if not FIRST_YEAR <= year <= LAST_YEAR:
        raise ConfigError(f"week: {year} is outside {FIRST_YEAR}..{LAST_YEAR}")
    try:
        date.fromisocalendar(year, week, 1)
    except ValueError:
        raise ConfigError(f"week: {year} has no week {week}") from None
    return year, week


def previous_week(year: int, week: int) -> tuple[int, int]:
    iso = (date.fromisocalendar(year, week, 1) - timedelta(days=7)).isocalendar()
    return iso.year, iso.week


def local(ts: float, tz: ZoneInfo) -> datetime:
    return datetime.fromtimestamp(ts, tz)


def clock(ts: float | None, tz: ZoneInfo, day: date | None = None) -> str:
    """``14:05`` on ``day``, else ``2026-11-24 14:05``; empty for None."""
    if ts is None:
        return ""
    t = local(ts, tz)
    return (
        t.strftime("%H:%M") if day is not None and t.date() == day else t.strftime("%Y-%m-%d %H:%M")
    )


def duration_text(seconds: float | None) -> str:
    """``2 h 05 min``, ``7 min``, ``45 s``."""
    if seconds is None:
        return ""
    s = max(0, round(seconds))
    if s < 60:
        return f"{s} s"
    h, m = divmod(s // 60, 60)
    return f"{h} h {m:02d} min" if h else f"{m} min"

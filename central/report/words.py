"""Times, durations, counts and problem lines in the reader's language (central/i18n): the words
the daily notification, the fleet and the weekly pages share.

Every number goes through the locale (0 reads "0", never blank); every count with a noun through
``ngettext`` ("1 problem", "2 problems"; Chinese has one form).
"""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from central.i18n import Translator
from central.report.kinds import OFFLINE, kind_label
from central.report.labels import problem_label, value_text
from central.report.problems import DayProblem


def clock(ts: float | None, tz: ZoneInfo, t: Translator, day: date | None = None) -> str:
    """``14:05`` on ``day``, else ``2026-11-22 17:00`` (24-hour in every locale: a notice's times
    are read against each other); empty for None."""
    if ts is None:
        return ""
    when = datetime.fromtimestamp(ts, tz)
    hhmm = t.time(when, "HH:mm")
    if day is not None and when.date() == day:
        return hhmm
    return f"{when.date().isoformat()} {hhmm}"


def duration(seconds: float | None, t: Translator) -> str:
    """``2 h 05 min`` / ``2小时05分``, ``7 min``, ``45 s``; empty for None."""
    if seconds is None:
        return ""
    s = max(0, round(seconds))
    if s < 60:
        return t.gettext("%(s)d s") % {"s": s}
    h, m = divmod(s // 60, 60)
    if h:
        return t.gettext("%(h)d h %(m)02d min") % {"h": h, "m": m}
    return t.gettext("%(m)d min") % {"m": m}


def count(message: str, n: int, t: Translator) -> str:
    """``message`` (``t.ngettext("%(num)s problem", "%(num)s problems", n)``, written at the caller
    so the catalogs see it) with ``n`` formatted for the locale."""
    return message % {"num": t.number(n)}


def problem_what(p: DayProblem, t: Translator) -> str:
    """The problem in plain words: its alert's label (and zone), or the box offline."""
    if p.alert == OFFLINE:
        if p.reason is None:
            return t.gettext("Box offline")
        how = t.gettext("connection lost") if p.reason != "stopped" else t.gettext("stopped")
        return t.gettext("Box offline (%(how)s)") % {"how": how}
    what = t.gettext(problem_label(p.alert, p.cause))
    return f"{what} ({p.zone})" if p.zone else what


def problem_status(p: DayProblem, window_end: float, t: Translator) -> str:
    if p.alert == OFFLINE:
        return t.gettext("still offline") if p.is_open else t.gettext("back online")
    if p.is_open:
        return t.gettext("still open")
    if p.end is not None and p.end >= window_end:
        return t.gettext("put right (later)")
    return t.gettext("put right")


def problem_value(p: DayProblem, t: Translator) -> str:
    return "" if p.alert == OFFLINE else value_text(p.alert, p.value, t)


def problem_duration(p: DayProblem, t: Translator) -> str:
    text = duration(p.duration_s, t)
    if text and p.is_open:
        return t.gettext("%(duration)s so far") % {"duration": text}
    return text


def kind(p: DayProblem, t: Translator, short: bool = True) -> str:
    return kind_label(p.kind, t, short)

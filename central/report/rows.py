"""The daily notification and the weekly counts as plain rows of text, shared by every output
(terminal table, CSV, HTML, the dashboard)."""

from __future__ import annotations

from dataclasses import dataclass

from central.i18n import N_, Translator, translator
from central.report import words
from central.report.daily import DayReport, DeskDay, Problem
from central.report.days import clock, duration_text
from central.report.labels import family_for, value_text


@dataclass(frozen=True, slots=True)
class ProblemRow:
    """One line of the notification: an alert or an offline period."""

    site: str
    desk: str
    what: str
    family: str
    raised: str
    cleared: str
    duration: str
    duration_min: str
    value: str
    status: str
    is_open: bool
    note: str


def problem_rows(report: DayReport, desk: DeskDay) -> list[ProblemRow]:
    """The desk's problems and offline periods, oldest first."""
    tz, day, now = report.tz, report.day, report.generated
    rows: list[tuple[float, ProblemRow]] = []
    for p in desk.problems:
        rows.append((p.raised or p.cleared or 0.0, _problem(p, report)))
    for o in desk.offline:
        dur = o.duration(now)
        rows.append(
            (
                o.start,
                ProblemRow(
                    desk.site,
                    desk.desk,
                    f"Box offline ({o.how})",
                    "setup",
                    clock(o.start, tz, day),
                    clock(o.end, tz, day),
                    duration_text(dur),
                    f"{dur / 60:.0f}",
                    "",
                    "still offline" if o.end is None else "back online",
                    o.end is None,
                    "",
                ),
            )
        )
    return [r for _, r in sorted(rows, key=lambda x: x[0])]


def _problem(p: Problem, report: DayReport) -> ProblemRow:
    tz, day, now = report.tz, report.day, report.generated
    dur = p.duration(now)
    if p.is_open:
        status = "still open"
    elif p.cleared is not None and p.cleared >= report.window.end:
        status = "put right (later)"
    else:
        status = "put right"
    notes = []
    if p.raised is None:
        notes.append("raise not received")
    if p.raised is not None and p.raised < report.window.start:
        notes.append("raised before this day")
    if p.reason:
        notes.append(f"cleared: {p.reason}")
    return ProblemRow(
        p.site,
        p.desk,
        p.label,
        family_for(p.alert, p.family),
        clock(p.raised, tz, day) if p.raised is not None else "?",
        clock(p.cleared, tz, day),
        (duration_text(dur) + (" so far" if p.is_open else "")) if dur is not None else "",
        f"{dur / 60:.0f}" if dur is not None else "",
        value_text(p.alert, p.value),
        status,
        p.is_open,
        "; ".join(notes),
    )


def check_text(desk: DeskDay, t: Translator | None = None) -> str:
    """One sentence on how the stored counts compare with the box's own summaries, in ``t``'s
    language (English by default: the terminal, the CSV)."""
    t = t or translator("en")
    c = desk.check
    if c is None:
        return t.gettext("no summary from the box for this day: counts not cross-checked")
    cover = words.duration(c.covered_s, t)
    if c.consistent:
        said = t.ngettext(
            "matches the box's own counts (%(num)s summary covering %(cover)s)",
            "matches the box's own counts (%(num)s summaries covering %(cover)s)",
            c.summaries,
        )
        return said % {"num": t.number(c.summaries), "cover": cover}
    why = []
    if c.missing_seq:
        why.append(
            t.ngettext("%(num)s sequence number missing", "%(num)s sequence numbers missing",
                       c.missing_seq) % {"num": t.number(c.missing_seq)}
        )  # fmt: skip
    if c.evicted:
        why.append(
            t.ngettext("%(num)s event evicted on the box", "%(num)s events evicted on the box",
                       c.evicted) % {"num": t.number(c.evicted)}
        )  # fmt: skip
    explain = (
        t.gettext(" (%(why)s: events evicted on the box or never delivered)")
        % {"why": t.gettext(", ").join(why)}
        if why
        else t.gettext(" (no gap in sequence numbers: the summaries and events disagree)")
    )
    head = t.gettext("DIFFERS from the box's own counts over %(cover)s: ") % {"cover": cover}
    return head + "; ".join(c.differences) + explain


MINUTE_LABELS = {
    "desk": N_("desk unattended"),
    "crowding": N_("crowding"),
    "setup": N_("camera or thermometer not usable"),
    "offline": N_("agent offline"),
}


def minutes_text(desk: DeskDay, t: Translator | None = None) -> str:
    """The problem minutes the box itself reported, e.g. ``desk unattended 12 min, crowding 5 min``
    in ``t``'s language (English by default); empty when its summaries carry none."""
    if desk.check is None or not desk.check.minutes:
        return ""
    t = t or translator("en")
    order = list(MINUTE_LABELS)
    items = sorted(
        desk.check.minutes.items(),
        key=lambda kv: (order.index(kv[0]) if kv[0] in order else len(order), kv[0]),
    )
    parts = [
        f"{t.gettext(MINUTE_LABELS[k]) if k in MINUTE_LABELS else k.replace('_', ' ')} "
        + t.gettext("%(m)d min") % {"m": int(v + 0.5)}
        for k, v in items
    ]
    return t.gettext(", ").join(parts)


def counts_text(desk: DeskDay) -> str:
    c = desk.counts
    return (
        f"screened {c.screened}, fevers {c.fevers}, invalid {c.invalid}, "
        f"arrivals {c.arrivals}, peak occupancy {c.peak}"
    )


STATE_WORDS = {True: N_("online"), False: N_("OFFLINE"), None: N_("status unknown")}


def status_text(desk: DeskDay, report: DayReport, t: Translator | None = None) -> str:
    """``online, last event 14:05`` in ``t``'s language (English by default)."""
    t = t or translator("en")
    state = t.gettext(STATE_WORDS[desk.online])
    seen = (
        words.clock(desk.last_seen, report.tz, t, report.day)
        if desk.last_seen
        else t.gettext("never")
    )
    return t.gettext("%(state)s, last event %(seen)s") % {"state": state, "seen": seen}

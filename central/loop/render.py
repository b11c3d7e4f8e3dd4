"""One notice for a reader, in their language: as HTML (a phone-sized page, or an e-mail body) and
as plain text (group chats, terminals). Both come from :func:`view`, which puts every word through
the :class:`~central.i18n.Translator` and every time in the district's time zone.

Public: :func:`notice_html`, :func:`notice_text`, :func:`view`, :func:`duration_words`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from central.i18n import Translator
from central.loop.notices import IssuedNotice, NoticeProblem
from central.report.kinds import NOT_WORKING, kind_label
from central.report.labels import label_for, value_text
from central.report.render import templates


@dataclass(frozen=True)
class ProblemLine:
    kind: str
    label: str
    desk: str
    when: str
    duration: str
    value: str
    detail: str = ""
    """What exactly, for "not working" (unattended, camera covered, offline...)."""

    def text(self) -> str:
        label = f"{self.label} ({self.detail})" if self.detail else self.label
        parts = [label, f"{self.desk}", self.when]
        if self.duration:
            parts.append(self.duration)
        return " · ".join(parts)


@dataclass(frozen=True)
class NoticeView:
    """A notice's words in one language."""

    title: str
    number: str
    clinic: str
    site: str
    day: str
    problems: tuple[ProblemLine, ...]
    actions: tuple[str, ...]
    deadline: str
    escalation: str
    issued: str
    dropped: tuple[str, ...]
    language_tag: str


def duration_words(t: Translator, seconds: float | None) -> str:
    """``25 min`` / ``2 h 5 min`` in the reader's language ('' when unknown)."""
    if seconds is None:
        return ""
    minutes = max(0, round(seconds / 60))
    if minutes < 60:
        return t.gettext("%(m)d min") % {"m": minutes}
    return t.gettext("%(h)d h %(m)d min") % {"h": minutes // 60, "m": minutes % 60}


def _clock(t: Translator, ts: float | None, tz: ZoneInfo) -> str:
    return "?" if ts is None else t.time(datetime.fromtimestamp(ts, tz))


def problem_line(p: NoticeProblem, t: Translator, tz: ZoneInfo) -> ProblemLine:
    start, end = _clock(t, p.raised, tz), _clock(t, p.cleared, tz)
    if p.cleared is None:
        when = t.gettext("from %(start)s, still open") % {"start": start}
    else:
        when = f"{start}\u2013{end}"
    value = value_text(p.alert, p.value) if p.kind in ("crowding",) else ""
    return ProblemLine(
        kind=p.kind,
        label=kind_label(p.kind, t),
        desk=t.gettext("desk %(desk)s") % {"desk": p.desk},
        when=when,
        duration=duration_words(t, p.duration_s),
        value=value,
        detail=t.gettext(label_for(p.alert).label) if p.kind == NOT_WORKING else "",
    )


def view(n: IssuedNotice, t: Translator, tz: ZoneInfo) -> NoticeView:
    """The words of notice ``n`` in ``t``'s language, times in ``tz``."""
    day = f"{t.date(n.day, 'long')} {t.weekday(n.day)}"
    esc = t.gettext("Notice %(n)d for this clinic within %(days)d days.") % {
        "n": n.notices_in_window,
        "days": n.window_days,
    }
    issued = t.gettext("Issued by %(who)s, %(when)s") % {
        "who": n.issued_by,
        "when": t.datetime(datetime.fromtimestamp(n.issued_at, tz), "short"),
    }
    dropped = tuple(
        t.gettext("Not included: %(what)s (%(reason)s)")
        % {"what": kind_label(d.problem.kind, t), "reason": d.reason}
        for d in n.dropped
    )
    return NoticeView(
        title=t.gettext("Supervision notice"),
        number=n.number,
        clinic=n.clinic_name,
        site=n.site,
        day=day,
        problems=tuple(problem_line(p, t, tz) for p in n.problems),
        actions=tuple(t.gettext(a) for a in n.required_actions),
        deadline=t.date(n.deadline, "long"),
        escalation=esc,
        issued=issued,
        dropped=dropped,
        language_tag=t.language_tag,
    )


def notice_text(n: IssuedNotice, t: Translator, tz: ZoneInfo, link: str = "") -> str:
    """The notice as plain text (a chat message's body, a terminal)."""
    v = view(n, t, tz)
    out = [
        f"{v.title} {v.number}",
        f"{t.gettext('Clinic')}: {v.clinic}" + (f" ({v.site})" if v.clinic != v.site else ""),
        f"{t.gettext('Day')}: {v.day}",
        f"{t.gettext('Problems found')}:",
    ]
    out += [f"{i}. {p.text()}" for i, p in enumerate(v.problems, 1)]
    out.append(f"{t.gettext('Required')}:")
    out += [f"- {a}" for a in v.actions]
    out.append(f"{t.gettext('Rectification deadline')}: {v.deadline}")
    out.append(v.escalation)
    out += list(v.dropped)
    out.append(v.issued)
    if link:
        out.append(link)
    return "\n".join(out) + "\n"


def notice_html(
    n: IssuedNotice, t: Translator, tz: ZoneInfo, standalone: bool = True, **page: object
) -> str:
    """The notice as HTML: a self-contained page (an e-mail body), or (``standalone=False``) a
    dashboard page (``page``: the dashboard's context)."""
    return (
        templates(t)
        .get_template("loop/notice.html")
        .render(**page, v=view(n, t, tz), notice=n, standalone=standalone)
    )

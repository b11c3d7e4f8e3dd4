"""What is sent, in the recipient's language: the short group-chat summary of a day
(:func:`summary_message`: the day, problems per kind, the clinics named with their notice numbers,
links to the full notices), a clinic's full notice (:func:`notice_message`: Markdown for the
robots, the loop's HTML for e-mail and its plain text), a closure-order alert
(:func:`closure_message`) and a test message (:func:`test_message`).

Every word goes through the :class:`~central.i18n.Translator` of the destination's locale; the
notice's own words come from central/loop/render.py, so a notice reads the same on every channel.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import date, datetime
from urllib.parse import quote
from zoneinfo import ZoneInfo

from central.delivery.message import Message
from central.i18n import Translator
from central.loop.escalation import ClosureBreach
from central.loop.kinds import NOTICE_KINDS
from central.loop.notices import IssuedNotice
from central.loop.render import notice_html, notice_text, view
from central.report.kinds import kind_label


def notice_url(base_url: str, number: str) -> str:
    return f"{base_url.rstrip('/')}/notice/{quote(number)}" if base_url else ""


def day_url(base_url: str, day: date) -> str:
    return f"{base_url.rstrip('/')}/loop?date={day.isoformat()}" if base_url else ""


_INERT = str.maketrans(
    {
        "[": "\uff3b",
        "]": "\uff3d",
        "*": "\uff0a",
        "_": "\uff3f",
        "`": "'",
        "<": "\u2039",
        ">": "\u203a",
    }
)


def _md(text: str) -> str:
    """Text made inert inside Markdown (no link, emphasis or HTML from a clinic's name): the
    robots' Markdown knows no backslash escapes, so the few active characters become their
    full-width forms, and line breaks become spaces."""
    return " ".join(text.translate(_INERT).split())


def _day_words(t: Translator, day: date) -> str:
    return f"{t.date(day, 'long')} {t.weekday(day)}"


def summary_message(
    notices: Sequence[IssuedNotice],
    day: date,
    t: Translator,
    base_url: str = "",
    part: int = 1,
) -> Message:
    """The group chat's short message for ``day``: counts per kind, the clinics with their notice
    numbers and links. ``part`` > 1: notices issued after the first summary of the day."""
    when = _day_words(t, day)
    title = t.gettext("Daily notification %(day)s") % {"day": when}
    if part > 1:
        title += " " + t.gettext("(supplement %(n)d)") % {"n": part - 1}
    more = t.gettext("Full notices")
    url = day_url(base_url, day)
    kinds = Counter(p.kind for n in notices for p in n.problems)
    problems = sum(kinds.values())
    md = [f"**{_md(title)}**", ""]
    txt = [title, ""]
    if not notices:
        line = t.gettext("No clinic was notified: no problems were found.")
        md.append(line)
        txt.append(line)
    else:
        found = t.ngettext(
            "%(problems)d problem found", "%(problems)d problems found", problems
        ) % {"problems": problems}
        at = t.ngettext("at %(clinics)d clinic.", "at %(clinics)d clinics.", len(notices)) % {
            "clinics": len(notices)
        }
        # The two halves in the language's order and spacing ("3 problems found at 1 clinic.").
        head = t.gettext("%(problems_found)s %(at_clinics)s") % {
            "problems_found": found,
            "at_clinics": at,
        }
        md += [head, ""]
        txt += [head, ""]
        for k in NOTICE_KINDS:
            if kinds.get(k):
                md.append(f"- {_md(kind_label(k, t))}: **{kinds[k]}**")
                txt.append(f"- {kind_label(k, t)}: {kinds[k]}")
        md += ["", f"**{_md(t.gettext('Clinics notified'))}**"]
        txt += ["", t.gettext("Clinics notified")]
        for i, n in enumerate(notices, 1):
            label = t.gettext("Notice %(number)s") % {"number": n.number}
            what = t.gettext(", ").join(kind_label(k, t, short=True) for k in n.kinds)
            link = notice_url(base_url, n.number)
            shown = f"[{_md(label)}]({link})" if link else _md(label)
            extra = []
            if n.summoned:
                extra.append(t.gettext("leaders summoned"))
            elif n.written_report:
                extra.append(t.gettext("written report required"))
            tail = f" ({t.gettext(', ').join(extra)})" if extra else ""
            md.append(
                f"{i}. {_md(n.clinic_name)} · {shown} · {_md(what)}{' ' + _md(tail) if tail else ''}"
            )
            txt.append(
                f"{i}. {n.clinic_name} · {label} · {what}{tail}" + (f" {link}" if link else "")
            )
    if url:
        md += ["", f"[{_md(more)}]({url})"]
        txt += ["", f"{more}: {url}"]
    return Message(title=title, markdown="\n".join(md), text="\n".join(txt), url=url, more=more)


def notice_markdown(n: IssuedNotice, t: Translator, tz: ZoneInfo, link: str = "") -> str:
    """One notice as Markdown for a group robot (the same words as the loop's text and HTML)."""
    v = view(n, t, tz)
    clinic = _md(v.clinic) + (f" ({_md(v.site)})" if v.clinic != v.site else "")
    out = [
        f"**{_md(v.title)} {_md(v.number)}**",
        "",
        f"{_md(t.gettext('Clinic'))}: **{clinic}**",
        f"{_md(t.gettext('Day'))}: {_md(v.day)}",
        "",
        f"**{_md(t.gettext('Problems found'))}**",
    ]
    out += [f"{i}. {_md(p.text())}" for i, p in enumerate(v.problems, 1)]
    out += ["", f"**{_md(t.gettext('Required'))}**"]
    out += [f"- {_md(a)}" for a in v.actions]
    out += ["", f"{_md(t.gettext('Rectification deadline'))}: **{_md(v.deadline)}**"]
    out.append(_md(v.escalation))
    out += [_md(d) for d in v.dropped]
    out.append(_md(v.issued))
    if link:
        out += ["", f"[{_md(t.gettext('Full notice'))}]({link})"]
    return "\n".join(out)


def notice_message(n: IssuedNotice, t: Translator, tz: ZoneInfo, base_url: str = "") -> Message:
    """A clinic's full notice: Markdown (robots), text and HTML (e-mail)."""
    link = notice_url(base_url, n.number)
    title = f"{t.gettext('Supervision notice')} {n.number} · {n.clinic_name}"
    return Message(
        title=title,
        markdown=notice_markdown(n, t, tz, link),
        text=notice_text(n, t, tz).rstrip("\n"),
        html=notice_html(n, t, tz, standalone=True),
        url=link,
        more=t.gettext("Full notice"),
    )


def closure_message(b: ClosureBreach, t: Translator, base_url: str = "") -> Message:
    """A clinic ordered to close for rectification has people at its desks."""
    title = t.gettext("Closure order not kept: %(clinic)s") % {"clinic": b.clinic_name}
    body = t.gettext(
        "%(clinic)s is ordered to close for rectification, but on %(day)s its triage point "
        "recorded %(arrivals)d arrivals and %(screened)d temperature checks."
    ) % {
        "clinic": b.clinic_name,
        "day": _day_words(t, b.day),
        "arrivals": b.arrivals,
        "screened": b.screened,
    }
    url = f"{base_url.rstrip('/')}/clinic/{quote(b.site)}/loop" if base_url else ""
    more = t.gettext("Clinic page")
    md = f"**{_md(title)}**\n\n{_md(body)}" + (f"\n\n[{_md(more)}]({url})" if url else "")
    return Message(title=title, markdown=md, text=f"{title}\n\n{body}", url=url, more=more)


def check_message(t: Translator, now: datetime, base_url: str = "") -> Message:
    """``triage-central deliver --check``: proves a destination receives and shows our messages."""
    title = t.gettext("Test message from triage-central")
    body = t.gettext(
        "If you can read this, notices will reach this destination. Sent %(when)s."
    ) % {"when": t.datetime(now, "short")}
    return Message(
        title=title,
        markdown=f"**{_md(title)}**\n\n{_md(body)}",
        text=f"{title}\n\n{body}",
        html="",
        url=base_url,
        more=t.gettext("Dashboard"),
    )

"""The daily notification (central/report/notification.py) as text for a terminal, CSV and HTML,
in the reader's language; the text and CSV are written clinic by clinic as they are read (a
district's day stays within a few tens of MB, whatever its number of clinics).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import TextIO

from central.i18n import Translator
from central.report import coverage, words
from central.report.kinds import KINDS, kind_label
from central.report.notification import ClinicDay, Notification
from central.report.render import templates
from central.report.safe import BOM, cell, terminal
from central.store.coverage import Coverage


def generated(n: Notification, t: Translator) -> str:
    when = datetime.fromtimestamp(n.generated, n.tz)
    return f"{t.date(when.date())} {t.time(when)}"


def headline_lines(n: Notification, t: Translator) -> list[str]:
    """The district's day in a few lines: problems per kind (offline time in "not working"),
    clinics with problems, screenings."""
    h = n.headline
    out = [
        t.gettext("%(problems)s at %(clinics)s of %(all)s; %(open)s still open.")
        % {
            "problems": words.count(
                t.ngettext("%(num)s problem", "%(num)s problems", h.total), h.total, t
            ),
            "clinics": words.count(
                t.ngettext("%(num)s clinic", "%(num)s clinics", h.clinics_with_problems),
                h.clinics_with_problems,
                t,
            ),
            "all": t.number(h.clinics),
            "open": t.number(h.open),
        }
    ]
    for k in KINDS:
        n_k = h.problems.get(k.key, 0)
        if k.key == "other" and not n_k:
            continue
        line = f"{t.gettext(k.label)}: {t.number(n_k)}"
        if k.key == "not_working" and h.offline_periods:
            line += " " + t.gettext("(of which box offline %(n)s times, %(duration)s)") % {
                "n": t.number(h.offline_periods),
                "duration": words.duration(h.offline_s, t),
            }
        out.append(line)
    out.append(
        t.gettext(
            "Screened %(screened)s; fevers %(fevers)s (sent to the fever clinic; not problems)."
        )
        % {"screened": t.number(h.screened), "fevers": t.number(h.fevers)}
    )
    out.append(coverage.text(h.coverage, t))
    return out


def _clinic_title(c: ClinicDay) -> str:
    return f"{c.site} {c.name}" if c.name else c.site


def problem_cells(c: ClinicDay, n: Notification, t: Translator) -> list[list[str]]:
    """Per problem: kind, problem, desk, start, end, duration, value, status."""
    return [
        [
            words.kind(p, t),
            words.problem_what(p, t),
            p.desk,
            words.clock(p.start, n.tz, t, n.day) if p.start is not None else "?",
            words.clock(p.end, n.tz, t, n.day),
            words.problem_duration(p, t),
            words.problem_value(p, t),
            words.problem_status(p, n.window.end, t),
        ]
        for p in c.problems
    ]


def _width(s: str) -> int:
    """Columns on a terminal (CJK characters take two)."""
    return sum(2 if ord(ch) >= 0x1100 else 1 for ch in s)


def _table(headers: list[str], rows: list[list[str]], indent: str = "    ") -> str:
    widths = [max(_width(h), *(_width(r[i]) for r in rows)) for i, h in enumerate(headers)]

    def line(cells: list[str]) -> str:
        return (
            indent
            + "  ".join(
                c + " " * (w - _width(c)) for c, w in zip(cells, widths, strict=True)
            ).rstrip()
        )

    return "\n".join(
        [line(headers), indent + "  ".join("-" * w for w in widths)] + [line(r) for r in rows]
    )


def write_table(
    head: Notification, clinics: Iterable[ClinicDay], out: TextIO, t: Translator
) -> None:
    """The notification for a terminal, written clinic by clinic."""
    title = t.gettext("Daily notification %(day)s (%(tz)s), generated %(when)s") % {
        "day": head.day.isoformat(), "tz": head.tz.key, "when": generated(head, t),
    }  # fmt: skip
    out.write(terminal(title + "\n" + "\n".join(headline_lines(head, t)) + "\n"))
    headers = [t.gettext("Kind"), t.gettext("Problem"), t.gettext("Desk"), t.gettext("Raised"),
               t.gettext("Cleared"), t.gettext("Duration"), t.gettext("Value"),
               t.gettext("Status")]  # fmt: skip
    shown = 0
    for c in clinics:
        shown += 1
        text = [
            "",
            f"{_clinic_title(c)}: "
            + t.gettext("%(problems)s (%(open)s open); screened %(screened)s, fevers %(fevers)s")
            % {
                "problems": words.count(
                    t.ngettext("%(num)s problem", "%(num)s problems", len(c.problems)),
                    len(c.problems),
                    t,
                ),
                "open": t.number(c.open),
                "screened": t.number(c.screened),
                "fevers": t.number(c.fevers),
            },
        ]
        text.append("    " + coverage.text(c.coverage, t))
        cells = problem_cells(c, head, t)
        text.append(_table(headers, cells) if cells else "    " + t.gettext("No problems."))
        out.write(terminal("\n".join(text) + "\n"))
    if not shown:
        out.write(terminal(t.gettext("No clinic sent anything this day.") + "\n"))


CSV_HEADER = [
    "date", "site", "name", "desk", "record", "kind", "what", "raised", "cleared",
    "duration_min", "value", "status", "screened", "fevers", "invalid", "arrivals",
    "peak_occupancy", "arrivals_screened", "arrivals_unscreened", "coverage_pct", "scans",
]  # fmt: skip


def csv_rows(head: Notification, clinics: Iterable[ClinicDay], t: Translator) -> Iterator[str]:
    """The notification as CSV, one chunk per clinic: a ``counts`` row per desk, a ``problem``
    row per problem (``kind`` its key), a ``fever`` row per fever (a screening result)."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    buf.write(BOM)
    w.writerow(CSV_HEADER)
    day = head.day.isoformat()
    for c in clinics:
        name = c.name or ""
        for d in c.desks:
            w.writerow([cell(v) for v in [day, c.site, name, d.desk, "counts", "", "", "", "", "",
                        "", d.last_status or "", d.screened, d.fevers, d.invalid, d.arrivals,
                        d.peak, *_coverage_cells(d.coverage)]])  # fmt: skip
        for p in c.problems:
            w.writerow([cell(v) for v in [
                day, c.site, name, p.desk, "problem", p.kind, words.problem_what(p, t),
                words.clock(p.start, head.tz, t, head.day) if p.start is not None else "?",
                words.clock(p.end, head.tz, t, head.day),
                f"{p.duration_s / 60:.0f}" if p.duration_s is not None else "",
                words.problem_value(p, t), words.problem_status(p, head.window.end, t),
                "", "", "", "", "", "", "", "", ""]])  # fmt: skip
        for f in c.fever_list:
            w.writerow([cell(v) for v in [
                day, c.site, name, f.desk, "fever", "", t.gettext("Fever"),
                words.clock(f.at, head.tz, t, head.day), "", "",
                f"{f.value:.1f} °C" if f.value is not None else "", "", "", "", "", "", "", "", "", "",
                ""]])  # fmt: skip
        yield buf.getvalue()
        buf.seek(0)
        buf.truncate()
    yield buf.getvalue()


def _coverage_cells(c: Coverage) -> list[object]:
    """arrivals_screened, arrivals_unscreened, coverage_pct, scans: empty when not reported
    (and coverage_pct empty when nobody arrived), never 0 for a missing figure."""
    pct = "" if c.percent is None else f"{c.percent:.1f}"
    return [*("" if v is None else v for v in (c.screened, c.unscreened)), pct,
            "" if c.scans is None else c.scans]  # fmt: skip


def html(n: Notification, t: Translator, standalone: bool = True, **page: object) -> str:
    """One page of the notification as HTML (``notification.html``)."""
    return (
        templates(t)
        .get_template("notification.html")
        .render(
            **page,
            n=n,
            standalone=standalone,
            generated=generated(n, t),
            headline=headline_lines(n, t),
            words=words,
            cells=problem_cells,
            kinds=KINDS,
            kind_label=kind_label,
            coverage=coverage,
        )
    )

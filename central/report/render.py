"""Rendering reports: a terminal table, CSV and HTML (Jinja2 templates in central/templates)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime
from functools import cache

from jinja2 import Environment, PackageLoader, select_autoescape

from central.i18n import Translator, install, translator
from central.report.daily import DayReport
from central.report.rows import (
    check_text,
    counts_text,
    minutes_text,
    problem_rows,
    status_text,
)
from central.report.safe import csv_text, terminal
from central.report.weekly import WeekReport


@cache
def _environment(t: Translator) -> Environment:
    env = Environment(
        loader=PackageLoader("central", "templates"),
        autoescape=select_autoescape(["html"]),
        trim_blocks=True,
        lstrip_blocks=True,
        extensions=["jinja2.ext.i18n"],
    )
    install(env, t)
    return env


def templates(t: Translator | None = None) -> Environment:
    """The Jinja2 environment of one language (reports, dashboard, notices); English by default.
    Templates write messages as ``{{ _("...") }}`` (central/i18n)."""
    return _environment(t or translator("en"))


def _table(headers: Sequence[str], rows: Sequence[Sequence[str]], indent: str = "    ") -> str:
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]
    line = "  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True))
    out = [indent + line.rstrip(), indent + "  ".join("-" * w for w in widths)]
    out += [
        indent + "  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip()
        for r in rows
    ]
    return "\n".join(out)


def _generated(report: DayReport) -> str:
    return datetime.fromtimestamp(report.generated, report.tz).strftime("%Y-%m-%d %H:%M")


def day_table(report: DayReport) -> str:
    """The daily notification for a terminal."""
    out = [
        f"Daily notification {report.day.isoformat()} ({report.tz.key}), "
        f"generated {_generated(report)}"
    ]
    if not report.desks:
        out.append("no events stored for this day")
    for site, desks in report.by_site().items():
        c = report.site_counts()[site]
        out.append("")
        out.append(
            f"{site}: {c.problems} problems raised, screened {c.screened}, fevers {c.fevers}"
        )
        for d in desks:
            out.append(f"  {d.desk}: {status_text(d, report)}")
            out.append(f"    counts: {counts_text(d)}")
            rows = problem_rows(report, d)
            if rows:
                out.append(
                    _table(
                        ["problem", "raised", "cleared", "duration", "value", "status", "note"],
                        [
                            [r.what, r.raised, r.cleared, r.duration, r.value, r.status, r.note]
                            for r in rows
                        ],
                    )
                )
            else:
                out.append("    no problems")
            out.append(f"    check: {check_text(d)}")
            if minutes_text(d):
                out.append(f"    the box reported: {minutes_text(d)}")
    return terminal("\n".join(out) + "\n")


DAY_CSV_HEADER = [
    "date", "site", "desk", "record", "what", "raised", "cleared", "duration_min", "value",
    "status", "screened", "fevers", "invalid", "arrivals", "peak_occupancy", "note",
]  # fmt: skip


def day_csv(report: DayReport) -> str:
    """One ``counts`` row per desk, then one ``problem`` row per problem or offline period."""
    return csv_text(DAY_CSV_HEADER, _day_rows(report))


def _day_rows(report: DayReport) -> Iterator[list[object]]:
    day = report.day.isoformat()
    for d in report.desks:
        c = d.counts
        yield [day, d.site, d.desk, "counts", "", "", "", "", "", "online" if d.online else
               "offline" if d.online is False else "", c.screened, c.fevers, c.invalid,
               c.arrivals, c.peak, check_text(d)]  # fmt: skip
        for r in problem_rows(report, d):
            yield [day, d.site, d.desk, "problem", r.what, r.raised, r.cleared, r.duration_min,
                   r.value, r.status, "", "", "", "", "", r.note]  # fmt: skip


def day_html(report: DayReport, standalone: bool = True, **page: object) -> str:
    """The notification as HTML: a self-contained page, or (``standalone=False``) a dashboard page
    (``page`` carries the dashboard's own context, e.g. ``tz_name``)."""
    return (
        templates()
        .get_template("day.html")
        .render(
            **page,
            report=report,
            standalone=standalone,
            generated=_generated(report),
            problem_rows=problem_rows,
            check_text=check_text,
            status_text=status_text,
            minutes_text=minutes_text,
        )
    )


def week_table(report: WeekReport) -> str:
    out = [
        f"Weekly counts {report.title} ({report.window.first} to {report.window.last}, "
        f"{report.tz.key}) against the week before"
    ]
    if not report.lines:
        out.append("no events stored for this week")
    for site, lines in report.by_site().items():
        out.append("")
        out.append(site)
        out.append(
            _table(
                ["", "this week", "last week", "change"],
                [[ln.label, str(ln.this), str(ln.last), ln.change_text] for ln in lines],
                indent="  ",
            )
        )
    return terminal("\n".join(out) + "\n")


def week_csv(report: WeekReport) -> str:
    return csv_text(
        ["week", "site", "metric", "this_week", "last_week", "change"],
        ([report.title, ln.site, ln.metric, ln.this, ln.last, ln.change] for ln in report.lines),
    )


def week_html(
    report: WeekReport, standalone: bool = True, t: Translator | None = None, **page: object
) -> str:
    """The weekly counts as HTML in ``t``'s language (English by default); ``page`` may carry
    ``district`` (central/report/trends.py DistrictWeek) for the totals per kind, the ranking and
    the 8-week trend."""
    return (
        templates(t).get_template("week.html").render(**page, report=report, standalone=standalone)
    )

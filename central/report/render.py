"""Rendering reports: a terminal table, CSV and HTML (Jinja2 templates in central/templates)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime
from functools import cache

from jinja2 import Environment, PackageLoader, select_autoescape

from central.i18n import Translator, install, translator
from central.report import coverage as cov
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
from central.store.coverage import Coverage


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


def _label(label: str, t: Translator) -> str:
    """A metric's label translated, its indent (an alert under "problems raised") kept."""
    return label[: len(label) - len(label.lstrip())] + t.gettext(label.strip())


def coverage_rows(report: WeekReport, site: str, t: Translator) -> list[list[str]]:
    """The week's screening coverage and registration scans of ``site``: label, this week, last
    week, change (a dash for a figure not reported; central/report/coverage.py)."""
    this, last = report.coverage.get(site, (Coverage(), Coverage()))
    rows = [[t.gettext(cov.LABEL), cov.percent(this, t), cov.percent(last, t),
             cov.change(this, last, t)]]  # fmt: skip
    if this.scans is not None or last.scans is not None:
        diff = cov.NOT_REPORTED
        if this.scans is not None and last.scans is not None:
            diff = f"{this.scans - last.scans:+d}" if this.scans != last.scans else "0"
        rows.append([t.gettext(cov.SCANS), cov.count(this.scans, t), cov.count(last.scans, t),
                     diff])  # fmt: skip
    return rows


def week_table(report: WeekReport, t: Translator | None = None) -> str:
    """The weekly counts for a terminal, in ``t``'s language (English by default)."""
    t = t or translator("en")
    out = [
        t.gettext("Weekly counts %(week)s (%(first)s to %(last)s, %(tz)s) against the week before")
        % {
            "week": report.title,
            "first": report.window.first,
            "last": report.window.last,
            "tz": report.tz.key,
        }
    ]
    if not report.lines:
        out.append(t.gettext("No events stored for this week."))
    for site, lines in report.by_site().items():
        out.append("")
        out.append(site)
        out.append(
            _table(
                ["", t.gettext("This week"), t.gettext("Last week"), t.gettext("Change")],
                [[_label(ln.label, t), str(ln.this), str(ln.last), ln.change_text] for ln in lines]
                + coverage_rows(report, site, t),
                indent="  ",
            )
        )
    return terminal("\n".join(out) + "\n")


def _week_rows(report: WeekReport) -> Iterator[list[object]]:
    for site, lines in report.by_site().items():
        for ln in lines:
            yield [report.title, ln.site, ln.metric, ln.this, ln.last, ln.change]
        this, last = report.coverage.get(site, (Coverage(), Coverage()))
        figures: tuple[tuple[str, float | None, float | None], ...] = (
            ("arrivals_screened", this.screened, last.screened),
            ("arrivals_unscreened", this.unscreened, last.unscreened),
            ("coverage_pct", this.percent, last.percent),
            ("scans", this.scans, last.scans),
        )
        for metric, a, b in figures:
            change = "" if a is None or b is None else round(a - b, 1)
            yield [report.title, site, metric, "" if a is None else a, "" if b is None else b,
                   change]  # fmt: skip


def week_csv(report: WeekReport) -> str:
    """One row per clinic and metric; the coverage rows (``arrivals_screened``,
    ``arrivals_unscreened``, ``coverage_pct``, ``scans``) empty where not reported."""
    return csv_text(["week", "site", "metric", "this_week", "last_week", "change"],
                    _week_rows(report))  # fmt: skip


def week_html(
    report: WeekReport, standalone: bool = True, t: Translator | None = None, **page: object
) -> str:
    """The weekly counts as HTML in ``t``'s language (English by default); ``page`` may carry
    ``district`` (central/report/trends.py DistrictWeek) for the totals per kind, the ranking and
    the 8-week trend."""
    return (
        templates(t)
        .get_template("week.html")
        .render(**page, report=report, standalone=standalone, coverage_rows=coverage_rows)
    )

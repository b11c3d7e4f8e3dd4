"""Scope filters for the reports' pages: a fleet, a day or a week cut down to the clinics a
:class:`~central.accounts.roles.Viewer` may see (on the server, before anything is rendered)."""

from __future__ import annotations

import dataclasses

from central.accounts.roles import Viewer
from central.report.daily import DayReport
from central.report.weekly import WeekReport
from central.web.fleet import Fleet


def fleet(f: Fleet, v: Viewer) -> Fleet:
    if v.sites is None:
        return f
    return dataclasses.replace(f, desks=tuple(d for d in f.desks if v.sees(d.site)), quarantined={})


def day(report: DayReport, v: Viewer) -> DayReport:
    if v.sites is None:
        return report
    return dataclasses.replace(
        report,
        desks=tuple(d for d in report.desks if v.sees(d.site)),
        sites=tuple(s for s in report.sites if v.sees(s)),
    )


def week(report: WeekReport, v: Viewer) -> WeekReport:
    if v.sites is None:
        return report
    return dataclasses.replace(
        report,
        lines=tuple(ln for ln in report.lines if v.sees(ln.site)),
        coverage={s: c for s, c in report.coverage.items() if v.sees(s)},
    )

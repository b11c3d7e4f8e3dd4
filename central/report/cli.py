"""``triage-central report``: the daily notification (``--date``, from the rollups, written clinic
by clinic as it is read) or weekly counts (``--week``), in the installation's language."""

from __future__ import annotations

import argparse
import sys
from contextlib import ExitStack
from typing import TextIO

from central.config import CentralSettings, zone
from central.i18n import translator
from central.report import notification_render
from central.report.days import parse_date, parse_week
from central.report.notification import MAX_PER_PAGE, Filters, all_clinics, notification
from central.report.render import week_csv, week_html, week_table
from central.report.weekly import weekly_report
from central.store.db import open_db


def run_report(a: argparse.Namespace, settings: CentralSettings) -> int:
    tz = zone(settings.tz)
    t = translator(settings.language)
    engine = open_db(settings.db)
    sites = frozenset({a.site}) if a.site else None
    with ExitStack() as stack:
        out: TextIO = (
            stack.enter_context(a.output.open("w", encoding="utf-8", newline=""))
            if a.output is not None
            else sys.stdout
        )
        if a.date is not None:
            day = parse_date(a.date, tz)
            if a.format == "html":
                n = notification(engine, day, tz, sites, Filters(per_page=MAX_PER_PAGE * 1000))
                out.write(notification_render.html(n, t))
                return 0
            head, clinics = all_clinics(engine, day, tz, sites)
            if a.format == "csv":
                for chunk in notification_render.csv_rows(head, clinics, t):
                    out.write(chunk)
            else:
                notification_render.write_table(head, clinics, out, t)
            return 0
        year, week = parse_week(a.week, tz)
        wk = weekly_report(engine, year, week, tz, a.site)
        if a.format == "csv":
            out.write(week_csv(wk))
        else:
            out.write(week_table(wk, t) if a.format == "table" else week_html(wk, t=t))
    return 0

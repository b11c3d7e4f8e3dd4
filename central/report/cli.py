"""``triage-central report``: the daily notification (``--date``) or weekly counts (``--week``)."""

from __future__ import annotations

import argparse
import sys

from central.config import CentralSettings, zone
from central.report.daily import daily_report
from central.report.days import parse_date, parse_week
from central.report.render import day_csv, day_html, day_table, week_csv, week_html, week_table
from central.report.weekly import weekly_report
from central.store.db import open_db


def run_report(a: argparse.Namespace, settings: CentralSettings) -> int:
    tz = zone(settings.tz)
    engine = open_db(settings.db)
    if a.date is not None:
        day = daily_report(engine, parse_date(a.date, tz), tz, a.site)
        text = {"table": day_table, "csv": day_csv, "html": day_html}[a.format](day)
    else:
        year, week = parse_week(a.week, tz)
        wk = weekly_report(engine, year, week, tz, a.site)
        text = {"table": week_table, "csv": week_csv, "html": week_html}[a.format](wk)
    if a.output is not None:
        a.output.write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    return 0

"""The loop's commands: ``triage-central registry import FILE.csv | export [FILE]`` and
``triage-central notices draft | issue | show | verify | run`` (``run``: every day at ``--draft-at`` local
time, draft the day's notices, issue them when ``--auto-issue``, verify cases automatically)."""

from __future__ import annotations

import argparse
import logging
import os
import sys
import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import Engine

from central.config import CentralSettings, ConfigError, zone
from central.i18n import translator
from central.loop import cases, notices
from central.loop.registry_edits import import_csv
from central.loop.render import notice_text
from central.loop.settings import ENV_NAMES, LoopSettings, LoopSettingsError, settings_from
from central.registry.csvfile import ImportRefusedError, export_text
from central.report.days import parse_date, today
from central.store.db import open_db

log = logging.getLogger(__name__)
ACTOR = "cli"


def _loop_flags(p: argparse.ArgumentParser) -> None:
    for name, envname in ENV_NAMES.items():
        flag = "--" + name.replace("_", "-")
        if name == "window_days":
            flag = "--escalation-window-days"
        p.add_argument(flag, dest=f"loop_{name}", default=None,
                       help=f"(TRIAGE_CENTRAL_{envname}; default {getattr(LoopSettings(), name)})")  # fmt: skip


def add_parsers(
    sub: argparse._SubParsersAction[argparse.ArgumentParser],
    common: Callable[[argparse.ArgumentParser], None],
) -> None:
    r = sub.add_parser("registry", help="the clinic registry: import or export its CSV")
    common(r)
    rs = r.add_subparsers(dest="registry_command", required=True)
    ri = rs.add_parser(
        "import", help="import a CSV (UTF-8, BOM tolerated); nothing if a row is bad"
    )
    ri.add_argument("file", type=Path)
    re_ = rs.add_parser("export", help="write the registry as CSV (to a file or standard output)")
    re_.add_argument("file", type=Path, nargs="?")
    n = sub.add_parser("notices", help="the daily notices: draft, issue, show, or run the schedule")
    common(n)
    _loop_flags(n)
    ns = n.add_subparsers(dest="notices_command", required=True)
    for name, text in (("draft", "draft the day's notices"), ("issue", "issue the day's drafts")):
        x = ns.add_parser(name, help=text)
        x.add_argument("--date", default="yesterday", help="local day (default yesterday)")
        x.add_argument("--site", action="append", help="only these clinics (issue)")
    sh = ns.add_parser("show", help="print the day's issued notices as text")
    sh.add_argument("--date", default="today")
    v = ns.add_parser("verify", help="verify automatically the cases without recurrence")
    v.add_argument("--date", default="today", help="local day (default today)")
    ns.add_parser("run", help="every day at --draft-at: draft (and issue with --auto-issue)")


def loop_settings(a: argparse.Namespace) -> LoopSettings:
    values = {
        k: (getattr(a, f"loop_{k}", None) or os.environ.get(f"TRIAGE_CENTRAL_{v}"))
        for k, v in ENV_NAMES.items()
    }
    try:
        return settings_from(values)
    except LoopSettingsError as exc:
        raise ConfigError(str(exc)) from None


def run_registry(a: argparse.Namespace, settings: CentralSettings) -> int:
    engine = open_db(settings.db)
    if a.registry_command == "export":
        with engine.connect() as conn:
            text = export_text(conn)
        if a.file:
            a.file.write_text(text, encoding="utf-8", newline="")
        else:
            sys.stdout.write(text)
        return 0
    try:
        text = a.file.read_bytes().decode("utf-8")
    except OSError as exc:
        raise ConfigError(f"file: cannot read {a.file} ({exc.strerror})") from None
    except UnicodeDecodeError:
        raise ConfigError(f"file: {a.file} is not UTF-8 (save the CSV as UTF-8)") from None
    try:
        with engine.begin() as conn:
            result = import_csv(conn, text, actor=ACTOR, role="admin")
    except ImportRefusedError as exc:
        print(f"triage-central: {a.file}: {exc}", file=sys.stderr)
        return 65  # EX_DATAERR
    print(f"{a.file}: {result.rows} clinics read, {result.changed} added or changed")
    return 0


def run_notices(a: argparse.Namespace, settings: CentralSettings) -> int:
    tz = zone(settings.tz)
    ls = loop_settings(a)
    engine = open_db(settings.db)
    t = translator(settings.language)
    if a.notices_command == "run":
        return _schedule(engine, tz, ls)
    day = parse_date(a.date, tz)
    if a.notices_command == "draft":
        for d in notices.draft_day(engine, day, tz, ls, actor=ACTOR, role="officer"):
            state = d.issued_number or "draft"
            print(f"{d.site}\t{d.clinic_name}\t{len(d.kept)} problems\t{state}")
        return 0
    if a.notices_command == "verify":
        with engine.begin() as conn:
            for c in cases.auto_verify(conn, day, ls):
                print(f"case {c.id}\t{c.number}\t{c.site}\t{c.kind}\tverified automatically")
        return 0
    if a.notices_command == "issue":
        with engine.begin() as conn:
            issued = notices.issue(conn, day, ls, actor=ACTOR, role="officer", sites=a.site)
        for n in issued:
            print(f"{n.number}\t{n.site}\t{n.clinic_name}\t{len(n.problems)} problems")
        return 0
    with engine.connect() as conn:
        for n in notices.notices_of_day(conn, day):
            print(notice_text(n, t, tz))
    return 0


def _schedule(
    engine: Engine, tz: ZoneInfo, ls: LoopSettings, stop: threading.Event | None = None
) -> int:
    stop = stop or threading.Event()
    while not stop.is_set():
        now = datetime.now(tz)
        at = datetime.combine(now.date(), ls.draft_time, tz)
        if at <= now:
            at += timedelta(days=1)
        log.info("next drafting at %s", at.isoformat())
        if stop.wait(max(1.0, at.timestamp() - time.time())):
            break
        day = today(tz)
        try:
            found = notices.draft_day(engine, day, tz, ls)
            with engine.begin() as conn:
                verified = cases.auto_verify(conn, day, ls)
            log.info("drafted %d notices for %s; %d cases verified automatically", len(found), day,
                     len(verified))  # fmt: skip
        except Exception:
            log.exception("drafting the notices of %s failed; trying again tomorrow", day)
    return 0

"""``triage-central``: collect events, report a day or a week, serve the dashboard, migrate.

    triage-central collect [--db central.sqlite3] [--host H --port P ...]
    triage-central report --date 2026-11-23 [--format table|csv|html] [--site S]
    triage-central report --week 2026-W48 [--format table|csv|html]
    triage-central serve [--bind 127.0.0.1 --port 8080] [--allowed-hosts H,...] [--secure-cookies]
    triage-central users add|list|set-role|lock|unlock|reset-password|remove|token ...
    triage-central spotcheck draw|verify|list ...
    triage-central quarantine [--limit 20] [--reason R]
    triage-central deliver [--delivery-config F] [--send-only] [--once] [--check]
    triage-central deliveries [--state S] [--limit 30] [--retry PK]
    triage-central migrate
    triage-central maintain [--retention-days 90] [--ahead-days 7]
    triage-central reconcile (--date D | --since D) [--retz]

Every flag also reads ``TRIAGE_CENTRAL_<FLAG>`` from the environment (see central/config.py).

One module because it is the one command table: the parser and one short ``_run_*`` per command,
each handing over to the package that does the work (the accounts' and loop's commands already
live in their packages).
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from sqlalchemy import select

from central.accounts.commands import add_parsers as account_parsers
from central.accounts.commands import run_spotcheck, run_users
from central.collect import Collector, subscriptions
from central.config import (
    DEFAULT_DB,
    EX_CONFIG,
    BrokerSettings,
    CentralSettings,
    ConfigError,
    TlsSettings,
    default_tz,
    env,
    zone,
)
from central.delivery.commands import add_parsers as delivery_parsers
from central.delivery.commands import run_deliver, run_deliveries
from central.loop.commands import add_parsers as loop_parsers
from central.loop.commands import run_notices, run_registry
from central.report.cli import run_report
from central.report.days import parse_date, today
from central.report.safe import terminal
from central.store.db import open_db
from central.store.partitions import AHEAD_DAYS, RETENTION_DAYS, apply_retention, ensure_partitions
from central.store.rollups import reconcile, retz
from central.store.tables import quarantine
from central.store.writer import upkeep
from central.web.guard import LOCAL_HOSTS, WebSecurity
from central.web.server import run_server

log = logging.getLogger("central")


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--db",
        default=env("DB", DEFAULT_DB),
        help="SQLite file path or SQLAlchemy URL (postgresql+psycopg://user@host/db)",
    )
    p.add_argument("--tz", default=default_tz(), help="district time zone (IANA name)")
    p.add_argument(
        "--language",
        default=env("LANGUAGE", "zh_CN"),
        help="language of pages, reports and notices: zh_CN (default) or en",
    )
    p.add_argument("--log-level", default=env("LOG_LEVEL", "INFO"), help="DEBUG, INFO, WARNING")


def _broker_flags(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("broker")
    g.add_argument("--host", default=env("MQTT_HOST", "127.0.0.1"))
    g.add_argument("--port", type=int, default=int(env("MQTT_PORT", "0") or 0) or None)
    g.add_argument("--protocol", default=env("MQTT_PROTOCOL", "5"), choices=["5", "3.1.1"])
    g.add_argument("--username", default=env("MQTT_USERNAME"))
    g.add_argument("--password", default=env("MQTT_PASSWORD"), help="better: the env variable")
    g.add_argument("--prefix", default=env("MQTT_PREFIX", "triage/v1"), help="topic prefix")
    g.add_argument("--client-id", default=env("MQTT_CLIENT_ID"), help="stable per collector")
    g.add_argument("--share-group", default=env("MQTT_SHARE_GROUP"), help="$share group name")
    g.add_argument(
        "--session-expiry", type=int, default=int(env("MQTT_SESSION_EXPIRY", "604800") or 0)
    )
    g.add_argument(
        "--exact-status",
        action="store_true",
        default=env("MQTT_EXACT_STATUS", "") == "1",
        help="subscribe to each known desk's status and health topics exactly (RabbitMQ: no "
        "retained messages on wildcard subscriptions)",
    )
    g.add_argument(
        "--desks-file",
        type=Path,
        default=env("MQTT_DESKS_FILE"),
        help="with --exact-status: a file of 'site/desk' lines (the inventory)",
    )
    g.add_argument("--tls", action="store_true", default=env("MQTT_TLS", "") == "1")
    g.add_argument("--ca-file", type=Path, default=env("MQTT_CA_FILE"))
    g.add_argument("--cert-file", type=Path, default=env("MQTT_CERT_FILE"))
    g.add_argument("--key-file", type=Path, default=env("MQTT_KEY_FILE"))
    g.add_argument("--insecure-skip-verify", action="store_true")
    g.add_argument(
        "--max-payload",
        type=int,
        default=int(env("MAX_PAYLOAD", "4096") or 4096),
        help="largest payload stored, bytes (bigger ones are refused before parsing)",
    )
    g.add_argument(
        "--quarantine-keep",
        type=int,
        default=int(env("QUARANTINE_KEEP", "10000") or 10000),
        help="refused messages kept in the quarantine table (the newest)",
    )


def _desks(path: Path | None) -> tuple[tuple[str, str], ...]:
    if path is None:
        return ()
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise ConfigError(f"desks_file: {exc}") from None
    out = []
    for n, line in enumerate(lines, 1):
        text = line.split("#", 1)[0].strip()
        if not text:
            continue
        site, _, desk = text.partition("/")
        if not site or not desk or "/" in desk:
            raise ConfigError(f"desks_file: line {n}: {line!r} is not 'site/desk'")
        out.append((site, desk))
    return tuple(out)


def broker_settings(a: argparse.Namespace) -> BrokerSettings:
    values: dict[str, Any] = {
        "host": a.host,
        "protocol": a.protocol,
        "username": a.username,
        "password": a.password,
        "topic_prefix": a.prefix,
        "share_group": a.share_group,
        "session_expiry_s": a.session_expiry,
        "exact_status": a.exact_status,
        "desks": _desks(a.desks_file),
        "max_payload": a.max_payload,
        "quarantine_keep": a.quarantine_keep,
        "tls": TlsSettings(
            enabled=a.tls or a.ca_file is not None,
            ca_file=a.ca_file,
            cert_file=a.cert_file,
            key_file=a.key_file,
            insecure_skip_verify=a.insecure_skip_verify,
        ),
    }
    values["port"] = a.port or (8883 if values["tls"].enabled else 1883)
    if a.client_id:
        values["client_id"] = a.client_id
    return BrokerSettings(**values)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="triage-central", description=__doc__.splitlines()[0] if __doc__ else None
    )
    sub = p.add_subparsers(dest="command", required=True)
    c = sub.add_parser("collect", help="subscribe to the boxes' events and store them")
    _common(c)
    _broker_flags(c)
    r = sub.add_parser("report", help="the daily notification or the weekly counts")
    _common(r)
    when = r.add_mutually_exclusive_group(required=True)
    when.add_argument("--date", help="local day, YYYY-MM-DD (or 'today', 'yesterday')")
    when.add_argument("--week", help="ISO week, YYYY-Www (e.g. 2026-W48) or 'this', 'last'")
    r.add_argument("--format", choices=["table", "csv", "html"], default="table")
    r.add_argument("--site", help="only this clinic")
    r.add_argument("--output", "-o", type=Path, help="write to a file instead of stdout")
    s = sub.add_parser("serve", help="the web dashboard")
    _common(s)
    s.add_argument("--bind", default=env("BIND", "127.0.0.1"), help="address to listen on")
    s.add_argument("--http-port", type=int, default=int(env("HTTP_PORT", "8080") or 8080))
    s.add_argument(
        "--token",
        default=env("TOKEN"),
        help="DEPRECATED shared token: an administrator's API token (at least 32 characters); "
        "use accounts and per-user tokens (docs/CENTRAL.md, 'Who sees what')",
    )
    s.add_argument(
        "--allowed-hosts",
        default=env("ALLOWED_HOSTS", ""),
        help="comma-separated host names the dashboard answers to (others: 400)",
    )
    s.add_argument(
        "--secure-cookies",
        action="store_true",
        default=env("SECURE_COOKIES", "") == "1",
        help="served over TLS (behind a reverse proxy): Secure cookies and HSTS",
    )
    s.add_argument(
        "--trusted-proxy",
        default=env("TRUSTED_PROXY", ""),
        help="comma-separated addresses of reverse proxies whose X-Forwarded-For counts",
    )
    s.add_argument(
        "--sso-header",
        default=env("SSO_HEADER"),
        help="a trusted proxy's authenticated-user header (e.g. X-Remote-User)",
    )
    q = sub.add_parser("quarantine", help="the newest messages the collector refused, and why")
    _common(q)
    q.add_argument("--limit", type=int, default=20, help="how many (newest first)")
    q.add_argument("--reason", help="only this reason (topic, oversize, json, number, ...)")
    m = sub.add_parser("migrate", help="create or upgrade the database schema and exit")
    _common(m)
    k = sub.add_parser(
        "maintain", help="create the day partitions ahead and drop raw events past the retention"
    )
    _common(k)
    k.add_argument(
        "--retention-days",
        type=int,
        default=int(env("RETENTION_DAYS", str(RETENTION_DAYS)) or RETENTION_DAYS),
        help=f"days of raw events kept (default {RETENTION_DAYS}); rollups are kept",
    )
    k.add_argument(
        "--ahead-days",
        type=int,
        default=AHEAD_DAYS,
        help=f"day partitions created ahead (PostgreSQL; default {AHEAD_DAYS})",
    )
    rc = sub.add_parser(
        "reconcile", help="rebuild the daily rollups from the raw events; exit 1 if they differed"
    )
    _common(rc)
    days = rc.add_mutually_exclusive_group(required=True)
    days.add_argument("--date", help="one local day, YYYY-MM-DD (or 'today', 'yesterday')")
    days.add_argument("--since", help="every local day from this one to today")
    rc.add_argument(
        "--retz",
        action="store_true",
        help="the rollups were kept in another time zone: forget them all and keep them in --tz "
        "from now on (then rebuild the days given)",
    )
    delivery_parsers(sub, _common)
    loop_parsers(sub, _common)
    account_parsers(sub, _common)
    return p


EX_SOFTWARE = 70
"""Exit status when the collector's writer stopped on an error it cannot handle."""


def _run_collect(a: argparse.Namespace, settings: CentralSettings) -> int:
    engine = open_db(settings.db)
    upkeep(engine, settings.tz, force=True)  # partitions ahead; the rollups' time zone
    collector = Collector(settings.broker, engine, tz=settings.tz)
    done = threading.Event()

    def on_signal(signum: int, frame: object) -> None:
        done.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    collector.start()
    log.info(
        "collecting %s into %s", ", ".join(_subs(settings.broker)), engine.url.render_as_string()
    )
    last = time.monotonic()
    while not done.wait(1.0) and collector.failed is None:
        if time.monotonic() - last >= 60:
            last = time.monotonic()
            log.info("%s", collector.stats.summary())
    failed = collector.failed
    collector.stop()
    log.info("stopped: %s", collector.stats.summary())
    if failed is not None:
        log.error(
            "exiting with status %d: the writer stopped (%s: %s); the broker keeps what was not "
            "acknowledged for the next start",
            EX_SOFTWARE,
            type(failed).__name__,
            failed,
        )
        return EX_SOFTWARE
    return 0


def _subs(cfg: BrokerSettings) -> list[str]:
    return subscriptions(cfg)


def _run_report(a: argparse.Namespace, settings: CentralSettings) -> int:
    return run_report(a, settings)


def _run_serve(a: argparse.Namespace, settings: CentralSettings) -> int:
    hosts = tuple(h.strip().lower() for h in a.allowed_hosts.split(",") if h.strip())
    proxies = tuple(h.strip() for h in a.trusted_proxy.split(",") if h.strip())
    if a.sso_header and not proxies:
        raise ConfigError("sso_header: needs --trusted-proxy (who may assert the user)")
    security = WebSecurity(
        allowed_hosts=hosts or LOCAL_HOSTS,
        secure_cookies=a.secure_cookies,
        trusted_proxies=proxies,
        sso_header=a.sso_header or None,
    )
    return run_server(settings, a.bind, a.http_port, a.token, security)


def _run_quarantine(a: argparse.Namespace, settings: CentralSettings) -> int:
    engine = open_db(settings.db)
    tz = zone(settings.tz)
    stmt = select(quarantine).order_by(quarantine.c.pk.desc()).limit(max(1, a.limit))
    if a.reason:
        stmt = stmt.where(quarantine.c.reason == a.reason)
    with engine.connect() as conn:
        rows = conn.execute(stmt).mappings().all()
    lines = [f"{len(rows)} refused messages, newest first ({tz.key})"]
    for r in rows:
        when = datetime.fromtimestamp(r["received"], tz).strftime("%Y-%m-%d %H:%M:%S")
        lines.append(f"{when}  {r['reason']:<9} {r['topic']}  {r['size']} bytes")
        lines.append(f"    why:  {r['detail']}")
        lines.append(f"    head: {r['head'][:160]}")
    sys.stdout.write(terminal("\n".join(lines) + "\n"))
    return 0


def _run_migrate(a: argparse.Namespace, settings: CentralSettings) -> int:
    engine = open_db(settings.db)
    print(f"database {engine.url.render_as_string()} is at the newest schema")
    return 0


def _run_maintain(a: argparse.Namespace, settings: CentralSettings) -> int:
    if a.retention_days < 1 or a.ahead_days < 1:
        raise ConfigError("retention_days and ahead_days must be at least 1")
    engine = open_db(settings.db)
    created = ensure_partitions(engine, a.ahead_days)
    pruned = apply_retention(engine, a.retention_days)
    horizon = datetime.fromtimestamp(pruned.horizon, UTC).strftime("%Y-%m-%d %H:%M UTC")
    print(
        f"partitions created: {len(created)}"
        + (f" ({created[0]} to {created[-1]})" if created else "")
        + f"; raw events kept from {horizon} ({a.retention_days} days): "
        f"{len(pruned.partitions_dropped)} day partitions dropped, {pruned.rows_deleted} rows "
        f"deleted, {pruned.ids_pruned} event ids pruned"
    )
    return 0


def _run_reconcile(a: argparse.Namespace, settings: CentralSettings) -> int:
    engine = open_db(settings.db)
    tz = zone(settings.tz)
    if a.retz:
        retz(engine, settings.tz)
    first = parse_date(a.date or a.since, tz)
    last = first if a.date else max(first, today(tz))
    days = [first + timedelta(days=i) for i in range((last - first).days + 1)]
    done = reconcile(engine, days, settings.tz)
    if done.skipped:
        print(
            f"{len(done.skipped)} days before the retention's horizon skipped "
            f"({done.skipped[0]} to {done.skipped[-1]}): their raw events are gone, their rollups "
            "are kept"
        )
    if not done.days:
        return 0
    first, last = done.days[0], done.days[-1]
    span = f"{first}" if first == last else f"{first} to {last}"
    if done.matched:
        print(f"rollups of {span} ({tz.key}) match the raw events ({done.desk_days} desk-days)")
        return 0
    print(
        f"rollups of {span} ({tz.key}) DIFFERED from the raw events on {len(done.differences)} "
        f"desk-days (stored/rebuilt), now rebuilt:"
    )
    for line in done.differences:
        print(f"  {line}")
    return 1


def main(argv: list[str] | None = None) -> int:
    a = parser().parse_args(argv)
    logging.basicConfig(
        level=getattr(logging, str(a.log_level).upper(), logging.INFO),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    logging.getLogger("alembic").setLevel(logging.WARNING)
    try:
        broker = broker_settings(a) if a.command == "collect" else BrokerSettings()
        settings = CentralSettings(db=a.db, tz=a.tz, language=a.language, broker=broker)
    except ValidationError as exc:
        for err in exc.errors():
            field = ".".join(str(x) for x in err["loc"])
            print(f"triage-central: config error: {field}: {err['msg']}", file=sys.stderr)
        return EX_CONFIG
    except ConfigError as exc:
        print(f"triage-central: config error: {exc}", file=sys.stderr)
        return EX_CONFIG
    runners = {
        "collect": _run_collect,
        "report": _run_report,
        "serve": _run_serve,
        "users": run_users,
        "spotcheck": run_spotcheck,
        "migrate": _run_migrate,
        "quarantine": _run_quarantine,
        "maintain": _run_maintain,
        "reconcile": _run_reconcile,
        "deliver": run_deliver,
        "deliveries": run_deliveries,
        "registry": run_registry,
        "notices": run_notices,
    }
    try:
        return runners[a.command](a, settings)
    except ConfigError as exc:
        print(f"triage-central: config error: {exc}", file=sys.stderr)
        return EX_CONFIG
    except BrokenPipeError:
        return 0

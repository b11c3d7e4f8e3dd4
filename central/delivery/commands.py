"""The delivery commands of ``triage-central``:

    triage-central deliver [--delivery-config delivery.toml] [--send-only] [--once] [--check]
    triage-central deliveries [--state dead] [--limit 30] [--retry PK]

``deliver`` runs :class:`~central.delivery.worker.Worker` until SIGTERM or SIGINT (it finishes
the delivery in flight, records it, and exits 0); ``--once`` does one round and exits (1 if a
delivery is left to retry or dead); ``--check`` queues a test message to every group first.
``deliveries`` prints the queue: counts per state and the newest rows, destinations redacted;
``--retry PK`` gives a dead letter its tries again (audited, actor ``cli``).
"""

from __future__ import annotations

import argparse
import signal
import sys
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from central.config import CentralSettings, ConfigError, env, zone
from central.delivery import plan, queue
from central.delivery.settings import load
from central.delivery.worker import Worker
from central.report.safe import terminal
from central.store.db import open_db


def add_parsers(
    sub: argparse._SubParsersAction[argparse.ArgumentParser],
    common: Callable[[argparse.ArgumentParser], None],
) -> None:
    d = sub.add_parser(
        "deliver", help="draft the day's notices on schedule and deliver notices (long-running)"
    )
    common(d)
    d.add_argument(
        "--delivery-config",
        type=Path,
        default=env("DELIVERY_CONFIG"),
        help="TOML file: base_url, [[groups]], [smtp], [retry], [loop] (docs/CENTRAL.md)",
    )
    d.add_argument(
        "--send-only", action="store_true", help="only send (another worker drafts and enqueues)"
    )
    d.add_argument("--once", action="store_true", help="one round, then exit")
    d.add_argument(
        "--check", action="store_true", help="queue a test message to every group, then run"
    )
    q = sub.add_parser("deliveries", help="the delivery queue: counts per state, newest rows")
    common(q)
    q.add_argument("--state", action="append", choices=queue.STATES, help="only this state")
    q.add_argument("--limit", type=int, default=30, help="rows shown (newest first)")
    q.add_argument("--retry", type=int, metavar="PK", help="retry this dead letter")


def run_deliver(a: argparse.Namespace, settings: CentralSettings) -> int:
    cfg = load(a.delivery_config, settings.language)
    tz = zone(settings.tz)
    engine = open_db(settings.db)
    w = Worker(engine, cfg, tz, settings.language, schedule=not a.send_only)
    if a.check:
        if not cfg.groups:
            raise ConfigError("check: no [[groups]] in the delivery settings to send a test to")
        with engine.begin() as conn:
            plan.enqueue_check(conn, cfg, tz)

    def on_signal(signum: int, frame: object) -> None:
        w.stopping.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    if a.once:
        t = w.tick()
        print(
            f"enqueued {t.enqueued}; sent {t.drained.sent}, to retry {t.drained.retry}, "
            f"dead {t.drained.dead}" + (f"; drafted {t.drafted}" if t.drafted else "")
        )
        return 1 if t.drained.retry or t.drained.dead else 0
    w.run()
    return 0


def run_deliveries(a: argparse.Namespace, settings: CentralSettings) -> int:
    engine = open_db(settings.db)
    tz = zone(settings.tz)
    if a.retry is not None:
        try:
            with engine.begin() as conn:
                row = queue.retry_dead(conn, a.retry, actor="cli", role="admin")
        except queue.QueueError as exc:
            print(f"triage-central: {exc}", file=sys.stderr)
            return 1
        print(f"delivery {row.pk} ({row.subject} to {row.shown}) is queued again")
        return 0
    with engine.connect() as conn:
        counts = queue.counts(conn)
        rows = queue.rows(conn, states=a.state or (), limit=a.limit)
    lines = ["  ".join(f"{s} {n}" for s, n in counts.items())]

    def when(ts: float | None) -> str:
        return "-" if ts is None else datetime.fromtimestamp(ts, tz).strftime("%m-%d %H:%M:%S")

    for r in rows:
        lines.append(
            f"{r.pk:>6} {r.state:<7} {r.attempts:>2}x {r.kind:<7} {r.subject:<28} {r.shown}"
        )
        detail = f"created {when(r.created_at)}"
        if r.state == "sent":
            detail += f", sent {when(r.sent_at)}"
        elif r.state in ("queued", "retry"):
            detail += f", next {when(r.next_at)}"
        if r.last_error and r.state != "sent":
            detail += f", last error: {r.last_error}"
        lines.append(f"{'':>7}{detail}")
    sys.stdout.write(terminal("\n".join(lines) + "\n"))
    return 0

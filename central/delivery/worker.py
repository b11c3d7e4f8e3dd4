"""``triage-central deliver``: the scheduler of the district's daily loop and the delivery worker.

Every ``poll_s`` seconds one :meth:`Worker.tick`:

1. takes back deliveries a dead worker left in ``sending`` (after the lease);
2. at the configured local time (``[loop] draft_at``), once a day, drafts the day's notices
   (central/loop: issued at once with ``auto_issue``) and verifies cases automatically; a worker
   started after that time drafts at once (a missed schedule is caught up, never skipped);
3. enqueues deliveries for notices issued since the last look (to the clinics' recipients) and the
   days' summaries once their issuing settled (to the groups), and closure-order alerts;
4. sends what is due (central/delivery/send.py); a message carrying notices moves their cases to
   ``notified`` once sent.

Several workers may send from one PostgreSQL queue (rows are claimed with ``SKIP LOCKED``); only
one should schedule (the others run with ``--send-only``). SIGTERM or SIGINT stops it after the
delivery in flight: nothing is claimed after the signal, and a row it held is recorded first.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import Engine

from central.delivery import plan, queue
from central.delivery.send import Drained, drain
from central.delivery.settings import DeliverySettings
from central.loop.cases import auto_verify, mark_notified
from central.loop.escalation import closure_breaches
from central.loop.notices import draft_day, issued_since, notice

log = logging.getLogger(__name__)

CLOSURE_CHECK_S = 60.0
NOTICE_MARGIN_S = 600.0
"""Notices issued this long before the last look are looked at again (a slow transaction may
commit after a later one); enqueueing is idempotent, so nothing is queued twice."""


@dataclass(frozen=True)
class Tick:
    """What one :meth:`Worker.tick` did."""

    drafted: date | None = None
    drafts: int = 0
    verified: int = 0
    enqueued: int = 0
    drained: Drained = field(default_factory=Drained)


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"[:64]


class Worker:
    """The scheduler and sender over a migrated database."""

    def __init__(
        self,
        engine: Engine,
        settings: DeliverySettings,
        tz: ZoneInfo,
        language: str,
        *,
        name: str | None = None,
        schedule: bool = True,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.engine = engine
        self.settings = settings
        self.tz = tz
        self.language = language
        self.name = name or worker_name()
        self.schedule = schedule
        self.clock = clock
        now = clock()
        self._since = now - settings.lookback_days * 86400
        self._drafted: date | None = None
        self._closures_at = 0.0
        self._days: set[date] = set()
        self._empty_ok: set[date] = set()
        self.stopping = threading.Event()

    def _today(self, now: float) -> date:
        return datetime.fromtimestamp(now, self.tz).date()

    def _due_draft(self, now: float) -> date | None:
        local = datetime.fromtimestamp(now, self.tz)
        if local.time() < self.settings.loop.draft_time:
            return None
        day = local.date()
        return None if self._drafted == day else day

    def draft(self, day: date, now: float) -> tuple[int, int]:
        """Draft ``day``'s notices (auto-issue if configured), verify cases; (drafts, verified)."""
        found = draft_day(self.engine, day, self.tz, self.settings.loop, now=now)
        with self.engine.begin() as conn:
            verified = auto_verify(conn, day, self.settings.loop)
        log.info(
            "drafted %d notices of %s%s; %d cases verified automatically",
            len(found),
            day.isoformat(),
            " (issued automatically)" if self.settings.loop.auto_issue else "",
            len(verified),
        )
        return len(found), len(verified)

    def enqueue(self, now: float) -> int:
        """Queue what newly issued notices, settled days and closure breaches call for."""
        added = 0
        since = min(self._since, now - NOTICE_MARGIN_S)
        with self.engine.begin() as conn:
            found = issued_since(conn, since)
            for n in found:
                added += plan.enqueue_notice(conn, n, self.settings, self.tz, self.language, now)
                self._days.add(n.day)
            if found:
                self._since = max(n.issued_at for n in found)
        for day in sorted(self._days):
            with self.engine.begin() as conn:
                added += plan.enqueue_summary(
                    conn, day, self.settings, now, empty_ok=day in self._empty_ok
                )
        today = self._today(now)
        self._days = {d for d in self._days if d >= today - timedelta(days=7)}
        self._empty_ok &= self._days
        if now - self._closures_at >= CLOSURE_CHECK_S:
            self._closures_at = now
            with self.engine.begin() as conn:
                for b in closure_breaches(conn, today - timedelta(days=1), today):
                    added += plan.enqueue_closure(conn, b, self.settings, now)
        return added

    def _notified(self, c: queue.Claimed) -> None:
        if not c.notices:
            return
        with self.engine.begin() as conn:
            for number in c.notices:
                n = notice(conn, number)
                if n is not None and mark_notified(conn, n.id, at=self.clock()):
                    log.info("notice %s reached its readers: its cases are notified", number)

    def tick(self) -> Tick:
        now = self.clock()
        queue.recover(self.engine, self.settings.policy, now)
        drafted, drafts, verified, added = None, 0, 0, 0
        if self.schedule:
            day = self._due_draft(now)
            if day is not None:
                drafts, verified = self.draft(day, now)
                self._drafted = drafted = day
                self._days.add(day)
                if self.settings.loop.auto_issue:
                    self._empty_ok.add(day)
            added = self.enqueue(now)
        done = drain(
            self.engine, self.name, self.settings.policy, self.settings.smtp,
            stop=self.stopping.is_set, clock=self.clock, on_sent=self._notified,
        )  # fmt: skip
        return Tick(drafted, drafts, verified, added, done)

    def run(self) -> None:
        """Tick every ``poll_s`` until :attr:`stopping` is set."""
        log.info(
            "delivering as %s: %d group destinations, %s, drafting %s at %s (%s)",
            self.name,
            len(self.settings.groups),
            f"mail relay {self.settings.smtp.host}:{self.settings.smtp.port}"
            if self.settings.smtp
            else "no mail relay",
            "automatically issued notices" if self.settings.loop.auto_issue else "notices",
            self.settings.loop.draft_at,
            self.tz.key,
        )
        while not self.stopping.is_set():
            try:
                t = self.tick()
                if t.enqueued or t.drained.attempts:
                    log.info(
                        "enqueued %d; sent %d, to retry %d, dead %d",
                        t.enqueued, t.drained.sent, t.drained.retry, t.drained.dead,
                    )  # fmt: skip
            except Exception:
                log.exception("delivery tick failed; trying again in %g s", self.settings.poll_s)
            self.stopping.wait(self.settings.poll_s)
        log.info("stopped")

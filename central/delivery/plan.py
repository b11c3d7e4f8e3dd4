"""Which deliveries a notice, a day or a closure breach makes, enqueued once each:

- each issued notice -> its clinic's recipients (the registry's ``recipients``: channel, address,
  language), subject ``notice:<number>``, the full notice in the recipient's language;
- each day's issued notices -> the district's groups (settings), subject ``summary:<day>:<part>``:
  the first summary once no notice of the day was issued for ``settle_s``; notices issued later
  make a supplement listing only them; with automatic issuing a day without notices gets a
  "no problems" summary (``summary:<day>:none``);
- each day a clinic under a closure order shows people at its desks -> the groups, subject
  ``closure:<site>:<day>``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from datetime import date, datetime
from functools import cache
from zoneinfo import ZoneInfo

from sqlalchemy import Connection

from central.delivery import queue
from central.delivery.compose import (
    check_message,
    closure_message,
    notice_message,
    summary_message,
)
from central.delivery.destinations import Destination, DestinationError, check_destination
from central.delivery.message import Kind, Message
from central.delivery.settings import DeliverySettings
from central.i18n import Translator, translator
from central.loop.escalation import ClosureBreach
from central.loop.notices import IssuedNotice, notices_of_day
from central.registry.clinics import get

log = logging.getLogger(__name__)


@cache
def _t(locale: str) -> Translator:
    return translator(locale)


def clinic_destinations(conn: Connection, site: str, default_locale: str) -> list[Destination]:
    """The clinic's registry recipients as destinations (a bad one is logged and skipped)."""
    clinic = get(conn, site)
    if clinic is None:
        return []
    out = []
    for i, r in enumerate(clinic.recipients):
        try:
            out.append(check_destination(
                r.channel, r.address, r.language or default_locale, name=clinic.name[:40],
                where=f"registry {site} recipients[{i}]"))  # fmt: skip
        except DestinationError as exc:
            log.warning("%s: not sent there", exc)
    return out


def enqueue_notice(
    conn: Connection,
    n: IssuedNotice,
    settings: DeliverySettings,
    tz: ZoneInfo,
    default_locale: str,
    now: float | None = None,
) -> int:
    """Queue notice ``n`` for its clinic's recipients; returns how many rows are new."""
    if not settings.clinic_notices:
        return 0
    added = 0
    for dest in clinic_destinations(conn, n.site, default_locale):
        msg = notice_message(n, _t(dest.locale), tz, settings.base_url)
        added += queue.enqueue(
            conn, subject=f"notice:{n.number}", kind="notice", dest=dest, message=msg,
            site=n.site, day=n.day.isoformat(), notices=[n.number], now=now,
        )  # fmt: skip
    return added


def _to_groups(
    conn: Connection,
    settings: DeliverySettings,
    subject: str,
    kind: Kind,
    make: Callable[[Translator], Message],
    *,
    day: date | None,
    site: str | None = None,
    notices: Sequence[str] = (),
    now: float | None = None,
) -> int:
    added = 0
    for dest in settings.groups:
        msg = make(_t(dest.locale))
        added += queue.enqueue(
            conn, subject=subject, kind=kind, dest=dest, message=msg, site=site,
            day=day.isoformat() if day else None, notices=notices, now=now,
        )  # fmt: skip
    return added


def enqueue_summary(
    conn: Connection,
    day: date,
    settings: DeliverySettings,
    now: float | None = None,
    *,
    empty_ok: bool = False,
) -> int:
    """Queue the day's summary (or its supplement) for the groups once the day's issuing has
    settled; with ``empty_ok`` a day without notices gets a "no problems" summary."""
    if not settings.groups:
        return 0
    now = time.time() if now is None else now
    issued = notices_of_day(conn, day)
    done = queue.subjects_of_day(conn, day.isoformat(), "summary")
    covered = {num for nums in done.values() for num in nums}
    new = [n for n in issued if n.number not in covered]
    if not new:
        if issued or not empty_ok or done:
            return 0
        return _to_groups(
            conn, settings, f"summary:{day.isoformat()}:none", "summary",
            lambda t: summary_message([], day, t, settings.base_url), day=day, now=now,
        )  # fmt: skip
    if now - max(n.issued_at for n in new) < settings.settle_s:
        return 0
    part = len([s for s in done if not s.endswith(":none")]) + 1
    return _to_groups(
        conn, settings, f"summary:{day.isoformat()}:{part}", "summary",
        lambda t: summary_message(new, day, t, settings.base_url, part), day=day,
        notices=[n.number for n in new], now=now,
    )  # fmt: skip


def enqueue_closure(
    conn: Connection, b: ClosureBreach, settings: DeliverySettings, now: float | None = None
) -> int:
    """Queue the alert for a clinic under a closure order that shows people at its desks."""
    return _to_groups(
        conn, settings, f"closure:{b.site}:{b.day.isoformat()}", "closure",
        lambda t: closure_message(b, t, settings.base_url), day=b.day, site=b.site, now=now,
    )  # fmt: skip


def enqueue_check(
    conn: Connection, settings: DeliverySettings, tz: ZoneInfo, now: float | None = None
) -> int:
    """Queue a test message to every group (``deliver --check``)."""
    now = time.time() if now is None else now
    when = datetime.fromtimestamp(now, tz)
    return _to_groups(
        conn, settings, f"test:{when.strftime('%Y%m%dT%H%M%S')}", "test",
        lambda t: check_message(t, when, settings.base_url), day=when.date(), now=now,
    )  # fmt: skip

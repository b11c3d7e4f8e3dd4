"""Escalation by the district's rules, and closure orders.

- Notices per clinic are counted in a rolling window (``LoopSettings.window_days``, default 30
  days, ending on the day looked at): from ``report_at`` (1) the clinic must report its
  rectification in writing, from ``summon_at`` (3) its leaders are summoned. Each notice records
  the level it brought when issued (:class:`~central.loop.notices.IssuedNotice`).
- A clinic can be **ordered to close for rectification** (``escalation.manage``): an order with its
  first day, an optional planned last day, and the day it is lifted; the registry's opening status
  follows. While an order runs, any arrivals or screenings at the clinic's desks (the daily
  rollups) are a **closure breach**: listed on the pages and delivered as their own message type.

For the weekly report: :func:`escalations_of_week`; for the deliveries: :func:`closure_breaches`.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from sqlalchemy import Connection, Row, func, insert, select, update

from central.audit.trail import record
from central.i18n import N_, RefusalError
from central.loop.notices import IssuedNotice, notices_between
from central.loop.registry_edits import change_status
from central.loop.settings import LoopSettings
from central.loop.tables import closure_orders, notices
from central.registry.clinics import clinic_names, get
from central.store.tables import rollup_days


class EscalationError(RefusalError):
    """A closure order the loop refuses; the message says why."""


@dataclass(frozen=True)
class Standing:
    """One clinic's escalation on a day: notices in the window and what they bring."""

    site: str
    clinic_name: str
    notices: int
    window_days: int
    written_report: bool
    summoned: bool
    last_notice: str | None


@dataclass(frozen=True)
class ClosureOrder:
    """An order to close for rectification."""

    id: int
    site: str
    starts: date
    until: date | None
    lifted: date | None
    reason: str
    ordered_by: str
    ordered_at: float
    lifted_by: str | None

    def active(self, day: date) -> bool:
        return (
            self.starts <= day
            and (self.lifted is None or day < self.lifted)
            and (self.until is None or day <= self.until)
        )


@dataclass(frozen=True)
class ClosureBreach:
    """A day a clinic under a closure order still had people at its desks (a deliverable alert)."""

    site: str
    clinic_name: str
    day: date
    order_id: int
    arrivals: int
    screened: int


def standing(
    conn: Connection, day: date, settings: LoopSettings, sites: Iterable[str] | None = None
) -> list[Standing]:
    """Clinics with at least one notice in the window ending on ``day``, most notices first."""
    first = day - timedelta(days=settings.window_days - 1)
    q = (
        select(notices.c.site, func.count().label("n"), func.max(notices.c.number).label("last"))
        .where(notices.c.day >= first, notices.c.day <= day)
        .group_by(notices.c.site)
    )
    if sites is not None:
        q = q.where(notices.c.site.in_(list(sites)))
    rows = list(conn.execute(q))
    names = clinic_names(conn, [r.site for r in rows])
    out = [
        Standing(
            site=r.site,
            clinic_name=names.get(r.site, r.site),
            notices=int(r.n),
            window_days=settings.window_days,
            written_report=int(r.n) >= settings.report_at,
            summoned=int(r.n) >= settings.summon_at,
            last_notice=r.last,
        )
        for r in rows
    ]
    return sorted(out, key=lambda s: (-s.notices, s.site))


def standing_of(conn: Connection, site: str, day: date, settings: LoopSettings) -> Standing:
    found = standing(conn, day, settings, [site])
    if found:
        return found[0]
    names = clinic_names(conn, [site])
    return Standing(site, names.get(site, site), 0, settings.window_days, False, False, None)


@dataclass(frozen=True)
class WeekEscalations:
    """The week's notices and the escalations they brought (for the weekly report)."""

    first: date
    last: date
    notices: tuple[IssuedNotice, ...]
    written_reports: tuple[IssuedNotice, ...]
    """Notices of the week that required a written report."""
    summoned: tuple[IssuedNotice, ...]
    """Notices of the week that summoned the clinic's leaders."""
    closures: tuple[ClosureOrder, ...]
    """Closure orders running at any time during the week."""


def escalations_of_week(
    conn: Connection, year: int, week: int, sites: Iterable[str] | None = None
) -> WeekEscalations:
    """ISO week ``year-Wweek``: its notices, the escalations and the closure orders."""
    monday = date.fromisocalendar(year, week, 1)
    sunday = monday + timedelta(days=6)
    wanted = None if sites is None else list(sites)
    ns = tuple(notices_between(conn, monday, sunday, wanted))
    orders = tuple(
        o
        for o in closure_orders_of(conn, wanted)
        if any(o.active(monday + timedelta(days=i)) for i in range(7))
    )
    return WeekEscalations(
        monday,
        sunday,
        ns,
        tuple(n for n in ns if n.written_report),
        tuple(n for n in ns if n.summoned),
        orders,
    )


def _order(r: Row[Any]) -> ClosureOrder:
    return ClosureOrder(
        id=int(r.pk), site=r.site, starts=r.starts, until=r.until, lifted=r.lifted,
        reason=r.reason, ordered_by=r.ordered_by, ordered_at=float(r.ordered_at),
        lifted_by=r.lifted_by,
    )  # fmt: skip


def closure_orders_of(conn: Connection, sites: Iterable[str] | None = None) -> list[ClosureOrder]:
    q = select(closure_orders).order_by(closure_orders.c.starts.desc(), closure_orders.c.pk)
    if sites is not None:
        q = q.where(closure_orders.c.site.in_(list(sites)))
    return [_order(r) for r in conn.execute(q)]


def order_closure(
    conn: Connection,
    site: str,
    starts: date,
    reason: str,
    *,
    actor: str,
    role: str,
    until: date | None = None,
) -> ClosureOrder:
    """Order ``site`` to close for rectification from ``starts`` (to ``until`` if planned)."""
    why = reason.strip()
    if not why:
        raise EscalationError(N_("reason: say why the clinic is ordered to close"))
    if until is not None and until < starts:
        raise EscalationError(N_("until: the last day is before the first"))
    if get(conn, site) is None:
        raise EscalationError(N_("site: %(site)s is not in the registry"), site=repr(site))
    if any(o.lifted is None and (o.until is None or o.until >= starts)
           for o in closure_orders_of(conn, [site])):  # fmt: skip
        raise EscalationError(N_("%(site)s is already under a closure order"), site=site)
    pk = conn.execute(
        insert(closure_orders)
        .values(site=site, starts=starts, until=until, reason=why[:1000], ordered_by=actor[:64],
                ordered_at=time.time())
        .returning(closure_orders.c.pk)
    ).scalar_one()  # fmt: skip
    record(conn, actor=actor, role=role, action="closure.ordered", target_kind="clinic",
           target_id=site, site=site,
           detail={"order": int(pk), "starts": starts.isoformat(),
                   "until": until.isoformat() if until else None, "reason": why})  # fmt: skip
    change_status(conn, site, "ordered_to_close", actor=actor, role=role)
    return _order(conn.execute(select(closure_orders).where(closure_orders.c.pk == pk)).one())


def lift_closure(
    conn: Connection, order_id: int, day: date, *, actor: str, role: str
) -> ClosureOrder:
    """Lift an order from ``day`` on; the clinic is open again."""
    r = conn.execute(select(closure_orders).where(closure_orders.c.pk == order_id)).first()
    if r is None:
        raise EscalationError(N_("closure order %(order)s does not exist"), order=order_id)
    if r.lifted is not None:
        raise EscalationError(N_("closure order %(order)s was lifted on %(day)s"), order=order_id,
                              day=r.lifted)  # fmt: skip
    if day < r.starts:
        raise EscalationError(N_("day: before the order's first day"))
    conn.execute(
        update(closure_orders)
        .where(closure_orders.c.pk == order_id)
        .values(lifted=day, lifted_by=actor[:64])
    )
    record(conn, actor=actor, role=role, action="closure.lifted", target_kind="clinic",
           target_id=r.site, site=r.site, detail={"order": order_id, "day": day.isoformat()})  # fmt: skip
    change_status(conn, r.site, "open", actor=actor, role=role)
    return _order(conn.execute(select(closure_orders).where(closure_orders.c.pk == order_id)).one())


def closure_breaches(
    conn: Connection, first: date, last: date, sites: Iterable[str] | None = None
) -> list[ClosureBreach]:
    """Days from ``first`` to ``last`` on which a clinic under a running closure order had
    arrivals or screenings at its desks (the order is not being kept)."""
    orders = closure_orders_of(conn, sites)
    if not orders:
        return []
    q = (
        select(
            rollup_days.c.site,
            rollup_days.c.day,
            func.sum(rollup_days.c.arrivals).label("arrivals"),
            func.sum(rollup_days.c.screened).label("screened"),
        )
        .where(
            rollup_days.c.day >= first,
            rollup_days.c.day <= last,
            rollup_days.c.site.in_(sorted({o.site for o in orders})),
        )
        .group_by(rollup_days.c.site, rollup_days.c.day)
        .order_by(rollup_days.c.day, rollup_days.c.site)
    )
    names = clinic_names(conn, {o.site for o in orders})
    out = []
    for r in conn.execute(q):
        arrivals, screened = int(r.arrivals or 0), int(r.screened or 0)
        if arrivals == 0 and screened == 0:
            continue
        order = next((o for o in orders if o.site == r.site and o.active(r.day)), None)
        if order is not None:
            out.append(
                ClosureBreach(
                    r.site, names.get(r.site, r.site), r.day, order.id, arrivals, screened
                )
            )
    return out

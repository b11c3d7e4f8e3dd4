"""Cases: each issued problem followed until it is put right.

States: ``open`` (issued) -> ``notified`` (the notice reached the clinic: :func:`mark_notified`,
called by the deliveries) -> ``reported`` (the clinic's rectification: text, who, when) ->
``verified`` (by a named person in scope, or automatically when the box's facts show no
recurrence of that kind for ``auto_verify_days`` open days after the notice) -> ``closed``.
A case not reported by its deadline is overdue. Every transition is audited; a transition from a
state that does not allow it is refused with the reason.

Beside each case, the box's later facts: per day after the notice, whether the desk was open and
how often the case's kind was raised again (:func:`later_facts`, from the daily rollups).
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any, Final, Literal, get_args

from sqlalchemy import Connection, Row, Select, func, select, update

from central.audit.trail import record
from central.i18n import N_, RefusalError
from central.loop.kinds import kind_of
from central.loop.settings import LoopSettings
from central.loop.tables import cases, notices
from central.store.tables import rollup_alerts, rollup_days

State = Literal["open", "notified", "reported", "verified", "closed"]
STATES: Final[tuple[State, ...]] = get_args(State)
STATE_LABELS: Final[dict[str, str]] = {
    "open": N_("Open"),
    "notified": N_("Notified"),
    "reported": N_("Rectification reported"),
    "verified": N_("Verified"),
    "closed": N_("Closed"),
}


class CaseError(RefusalError):
    """A transition the case's state does not allow, or a bad input; the message says which."""


@dataclass(frozen=True)
class Case:
    """One problem of an issued notice and how far it got."""

    id: int
    notice_id: int
    number: str
    site: str
    clinic_name: str
    day: date
    kind: str
    desk: str
    state: State
    deadline: date
    opened_at: float
    notified_at: float | None
    reported_text: str | None
    reported_by: str | None
    reported_at: float | None
    verified_by: str | None
    verified_at: float | None
    verified_how: str | None
    closed_by: str | None
    closed_at: float | None
    position: int = 0
    """The problem's place in its notice (0, 1, ...; shown from 1): two cases of one kind in one
    notice differ by it."""

    def overdue(self, today: date) -> bool:
        """Not reported (nor verified) by its deadline."""
        return self.state in ("open", "notified") and today > self.deadline


@dataclass(frozen=True)
class LaterDay:
    """One day after the notice at the case's desk: was it open, did the kind recur."""

    day: date
    open: bool
    recurred: int


def _case(r: Row[Any]) -> Case:
    return Case(
        id=int(r.pk), notice_id=int(r.notice_pk), number=r.number, site=r.site,
        clinic_name=r.clinic_name, day=r.day, kind=r.kind, desk=r.desk, state=r.state,
        deadline=r.deadline, opened_at=float(r.opened_at), notified_at=r.notified_at,
        reported_text=r.reported_text, reported_by=r.reported_by, reported_at=r.reported_at,
        verified_by=r.verified_by, verified_at=r.verified_at, verified_how=r.verified_how,
        closed_by=r.closed_by, closed_at=r.closed_at, position=int(r.position),
    )  # fmt: skip


def _query() -> Select[Any]:
    return select(cases, notices.c.number, notices.c.clinic_name, notices.c.day).join(
        notices, notices.c.pk == cases.c.notice_pk
    )


def list_cases(
    conn: Connection,
    *,
    sites: Iterable[str] | None = None,
    states: Iterable[str] | None = None,
    notice_id: int | None = None,
    limit: int = 500,
) -> list[Case]:
    """Cases, newest notice first (``sites``: a scoped reader's clinics)."""
    q = _query().order_by(notices.c.day.desc(), cases.c.site, cases.c.pk).limit(limit)
    if sites is not None:
        q = q.where(cases.c.site.in_(list(sites)))
    if states is not None:
        q = q.where(cases.c.state.in_(list(states)))
    if notice_id is not None:
        q = q.where(cases.c.notice_pk == notice_id)
    return [_case(r) for r in conn.execute(q)]


def get(conn: Connection, case_id: int) -> Case | None:
    r = conn.execute(_query().where(cases.c.pk == case_id)).first()
    return None if r is None else _case(r)


OPEN_STATES: Final[tuple[State, ...]] = ("open", "notified", "reported")
"""A case is open until it is verified or closed."""


def open_per_site(conn: Connection, sites: Iterable[str] | None = None) -> dict[str, int]:
    """Open cases (not verified nor closed) per clinic, now (``sites``: the viewer's clinics)."""
    q = select(cases.c.site, func.count()).where(cases.c.state.in_(list(OPEN_STATES)))
    if sites is not None:
        q = q.where(cases.c.site.in_(list(sites)))
    return {str(s): int(n) for s, n in conn.execute(q.group_by(cases.c.site))}


def overdue(conn: Connection, today: date, sites: Iterable[str] | None = None) -> list[Case]:
    """Cases past their deadline and not yet reported."""
    return [
        c for c in list_cases(conn, sites=sites, states=("open", "notified")) if c.overdue(today)
    ]


def _move(
    conn: Connection,
    case_id: int,
    allowed: tuple[str, ...],
    to: State,
    action: str,
    actor: str,
    role: str,
    values: dict[str, object],
    detail: dict[str, object],
) -> Case:
    c = get(conn, case_id)
    if c is None:
        raise CaseError(N_("case %(case)s does not exist"), case=case_id)
    if c.state not in allowed:
        raise CaseError(N_("case %(case)s is %(state)s: it cannot become %(to)s"), case=case_id,
                        state=c.state, to=to)  # fmt: skip
    done = conn.execute(
        update(cases)
        .where(cases.c.pk == case_id, cases.c.state == c.state)
        .values(state=to, **values)
    )
    if done.rowcount != 1:
        raise CaseError(N_("case %(case)s changed meanwhile; look again"), case=case_id)
    record(conn, actor=actor, role=role, action=action, target_kind="case",
           target_id=str(case_id), site=c.site,
           detail={"from": c.state, "to": to, "notice": c.number, **detail})  # fmt: skip
    found = get(conn, case_id)
    assert found is not None
    return found


def mark_notified(conn: Connection, notice_id: int, *, at: float | None = None) -> int:
    """The notice reached the clinic (the deliveries call this): its open cases become notified;
    returns how many."""
    when = time.time() if at is None else at
    n = 0
    for c in list_cases(conn, notice_id=notice_id, states=("open",)):
        _move(conn, c.id, ("open",), "notified", "case.notified", "system", "system",
              {"notified_at": when}, {})  # fmt: skip
        n += 1
    return n


def report(conn: Connection, case_id: int, text: str, *, actor: str, role: str) -> Case:
    """The clinic's rectification (text required); may be reported again before verification."""
    body = text.strip()
    if not body:
        raise CaseError(N_("text: say what was done to rectify"))
    if len(body) > 4000:
        raise CaseError(N_("text: at most 4000 characters"))
    return _move(conn, case_id, ("open", "notified", "reported"), "reported", "case.reported",
                 actor, role, {"reported_text": body, "reported_by": actor[:64],
                               "reported_at": time.time()}, {"text": body})  # fmt: skip


def verify(conn: Connection, case_id: int, *, actor: str, role: str, note: str = "") -> Case:
    """A named person checked the rectification (after it was reported)."""
    return _move(conn, case_id, ("reported",), "verified", "case.verified", actor, role,
                 {"verified_by": actor[:64], "verified_at": time.time(), "verified_how": "person"},
                 {"how": "person", "note": note.strip()[:500]})  # fmt: skip


def reject(conn: Connection, case_id: int, *, actor: str, role: str, reason: str) -> Case:
    """The reported rectification is not accepted: back to notified (reason required)."""
    why = reason.strip()
    if not why:
        raise CaseError(N_("reason: say why the rectification is not accepted"))
    return _move(conn, case_id, ("reported", "verified"), "notified", "case.reopened", actor, role,
                 {"verified_by": None, "verified_at": None, "verified_how": None},
                 {"reason": why[:500]})  # fmt: skip


def close(conn: Connection, case_id: int, *, actor: str, role: str) -> Case:
    return _move(conn, case_id, ("verified",), "closed", "case.closed", actor, role,
                 {"closed_by": actor[:64], "closed_at": time.time()}, {})  # fmt: skip


def later_facts(conn: Connection, c: Case, until: date) -> list[LaterDay]:
    """The days after the notice's day up to ``until`` that the case's desk sent anything, with how
    often the case's kind was raised (alerts of that kind, from the rollups)."""
    days = conn.execute(
        select(rollup_days.c.day, rollup_days.c.events).where(
            rollup_days.c.site == c.site, rollup_days.c.desk == c.desk,
            rollup_days.c.day > c.day, rollup_days.c.day <= until,
        ).order_by(rollup_days.c.day)
    ).all()  # fmt: skip
    raised: dict[date, int] = {}
    for r in conn.execute(
        select(rollup_alerts.c.day, rollup_alerts.c.alert, rollup_alerts.c.raised).where(
            rollup_alerts.c.site == c.site, rollup_alerts.c.desk == c.desk,
            rollup_alerts.c.day > c.day, rollup_alerts.c.day <= until,
        )
    ):  # fmt: skip
        if kind_of(r.alert) == c.kind:
            raised[r.day] = raised.get(r.day, 0) + int(r.raised)
    return [LaterDay(r.day, int(r.events) > 0, raised.get(r.day, 0)) for r in days]


def auto_verify(conn: Connection, today: date, settings: LoopSettings) -> list[Case]:
    """Verify automatically the cases whose desk was open ``auto_verify_days`` days after the
    notice without the kind recurring (``not_working`` cases need an open day with no setup
    alert; lost connections are not in the rollups, an open day means the box sent events)."""
    if settings.auto_verify_days <= 0:
        return []
    out = []
    for c in list_cases(conn, states=("open", "notified", "reported")):
        later = [d for d in later_facts(conn, c, today - timedelta(days=1)) if d.open]
        if any(d.recurred for d in later) or len(later) < settings.auto_verify_days:
            continue
        out.append(
            _move(
                conn,
                c.id,
                ("open", "notified", "reported"),
                "verified",
                "case.verified",
                "system",
                "system",
                {"verified_by": "system", "verified_at": time.time(), "verified_how": "automatic"},
                {"how": "automatic", "open_days": len(later)},
            )
        )
    return out

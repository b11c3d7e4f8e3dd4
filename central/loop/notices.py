"""Notices: each day one draft per clinic with problems; the officer reviews (drops a problem with
a reason) and issues them, or they are issued automatically. An issued notice is numbered per year
(``2026-0001``), carries its deadline and the escalation it brings (written report, leaders
summoned), opens one case per problem, and is never changed again: its rows are protected by
database triggers and this module offers no update.

Public, for the deliveries and pages: :class:`IssuedNotice` (with :class:`NoticeProblem`),
:func:`issued_since`, :func:`notices_of_day`, :func:`notices_of_week`, :func:`notice`.

One module because drafting, issuing and reading share one table layout, the per-year numbering
and the immutability rule: the functions that write a notice and those that read it back must
change together.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, Connection, Engine, Row, and_, func, insert, select, update

from central.audit.trail import record
from central.i18n import N_, RefusalError
from central.loop.kinds import KIND_ACTIONS, NOTICE_KINDS, FoundProblem, problems_of_day
from central.loop.settings import LoopSettings
from central.loop.tables import cases, notice_drafts, notice_problems, notices
from central.registry.clinics import clinic_names

WRITTEN_REPORT = N_("Report the rectification in writing to the district office by the deadline.")
SUMMONED = N_("The clinic's leaders are summoned to the district office for a talk.")
RECTIFY = N_("Rectify every problem listed by the deadline.")


class NoticeError(RefusalError):
    """A request the loop refuses (unknown draft, empty reason, already issued...)."""


@dataclass(frozen=True)
class NoticeProblem:
    """One problem in a notice (a draft's or an issued one's)."""

    position: int
    kind: str
    """A kind key of central/report/kinds.py (label: ``kind_label(kind, t)``)."""
    alert: str
    """The alert name on the wire (``offline`` for a lost connection)."""
    desk: str
    raised: float | None
    """POSIX seconds UTC (None: only the clear was received)."""
    cleared: float | None
    """None: still open when drafted."""
    duration_s: float | None
    value: float | None

    @property
    def key(self) -> str:
        return f"{self.desk}/{self.alert}/{self.raised if self.raised is not None else '-'}"


@dataclass(frozen=True)
class DroppedProblem:
    """A problem the officer left out of the notice, and why."""

    problem: NoticeProblem
    reason: str
    by: str
    at: float


@dataclass(frozen=True)
class IssuedNotice:
    """An issued notice, as it was issued (immutable)."""

    id: int
    number: str
    """``YYYY-NNNN``: per district (database) and year of the notice's day."""
    site: str
    clinic_name: str
    """The registry's name when issued (the site id for a clinic not in the registry)."""
    day: date
    """The local day the problems were found."""
    problems: tuple[NoticeProblem, ...]
    deadline: date
    required_actions: tuple[str, ...]
    """English message ids: translate with ``Translator.gettext`` (one per problem kind, then
    the rectification, the written report, the summons)."""
    written_report: bool
    summoned: bool
    notices_in_window: int
    """This clinic's notices in the rolling window, this one included."""
    issued_at: float
    issued_by: str
    dropped: tuple[DroppedProblem, ...] = ()
    window_days: int = 30
    """The rolling window's length when issued."""

    @property
    def kinds(self) -> tuple[str, ...]:
        return tuple(k for k in NOTICE_KINDS if any(p.kind == k for p in self.problems))


@dataclass(frozen=True)
class Draft:
    """A clinic's draft notice for a day."""

    id: int
    site: str
    clinic_name: str
    registered: bool
    day: date
    problems: tuple[NoticeProblem, ...]
    """Every problem found, the dropped ones included (see :attr:`dropped`)."""
    dropped: dict[str, tuple[str, str, float]]
    """problem key -> (reason, by, at)."""
    drafted_at: float
    issued_number: str | None

    @property
    def kept(self) -> tuple[NoticeProblem, ...]:
        return tuple(p for p in self.problems if p.key not in self.dropped)


def required_actions(kinds: Iterable[str], written_report: bool, summoned: bool) -> tuple[str, ...]:
    out = [KIND_ACTIONS[k] for k in NOTICE_KINDS if k in set(kinds)]
    out.append(RECTIFY)
    if written_report:
        out.append(WRITTEN_REPORT)
    if summoned:
        out.append(SUMMONED)
    return tuple(out)


def _problem_json(p: FoundProblem | NoticeProblem) -> dict[str, object]:
    return {"kind": p.kind, "alert": p.alert, "desk": p.desk, "raised": p.raised,
            "cleared": p.cleared, "duration_s": p.duration_s, "value": p.value}  # fmt: skip


def _problems_from_json(text: str) -> tuple[NoticeProblem, ...]:
    return tuple(
        NoticeProblem(
            position=i,
            kind=str(d["kind"]),
            alert=str(d["alert"]),
            desk=str(d["desk"]),
            raised=d.get("raised"),
            cleared=d.get("cleared"),
            duration_s=d.get("duration_s"),
            value=d.get("value"),
        )
        for i, d in enumerate(json.loads(text))
    )


def _draft(r: Row[Any], names: dict[str, str]) -> Draft:
    site: str = r.site
    dropped = {k: (str(v[0]), str(v[1]), float(v[2])) for k, v in json.loads(r.dropped).items()}
    return Draft(
        id=int(r.pk),
        site=site,
        clinic_name=names.get(site, site),
        registered=site in names,
        day=r.day,
        problems=_problems_from_json(r.problems),
        dropped=dropped,
        drafted_at=float(r.drafted_at),
        issued_number=r.issued_number,
    )


def drafts(conn: Connection, day: date, sites: Iterable[str] | None = None) -> list[Draft]:
    """The drafts of ``day`` (issued ones too, with their number), by clinic."""
    q = select(notice_drafts).where(notice_drafts.c.day == day).order_by(notice_drafts.c.site)
    if sites is not None:
        q = q.where(notice_drafts.c.site.in_(list(sites)))
    rows = list(conn.execute(q))
    names = clinic_names(conn, [r.site for r in rows])
    return [_draft(r, names) for r in rows]


def draft(conn: Connection, draft_id: int) -> Draft | None:
    r = conn.execute(select(notice_drafts).where(notice_drafts.c.pk == draft_id)).first()
    return None if r is None else _draft(r, clinic_names(conn, [r.site]))


def draft_day(
    engine: Engine,
    day: date,
    tz: ZoneInfo,
    settings: LoopSettings,
    *,
    actor: str = "system",
    role: str = "system",
    now: float | None = None,
) -> list[Draft]:
    """Draft (or redraft) one notice per clinic with problems on ``day``; a clinic already issued
    for the day is left alone; dropped problems stay dropped. With ``settings.auto_issue`` the
    drafts are issued at once (by ``system``)."""
    at = time.time() if now is None else now
    found = problems_of_day(engine, day, tz, settings.offline_min_s, now=now)
    with engine.begin() as conn:
        existing = {r.site: r for r in conn.execute(
            select(notice_drafts).where(notice_drafts.c.day == day))}  # fmt: skip
        for site, problems in found.items():
            body = json.dumps([_problem_json(p) for p in problems])
            old = existing.get(site)
            if old is None:
                conn.execute(insert(notice_drafts).values(
                    site=site, day=day, drafted_at=at, problems=body, dropped="{}"))  # fmt: skip
            elif old.issued_number is None and old.problems != body:
                conn.execute(
                    update(notice_drafts)
                    .where(notice_drafts.c.pk == old.pk)
                    .values(problems=body, drafted_at=at)
                )
            else:
                continue
            record(conn, actor=actor, role=role, action="notice.drafted", target_kind="draft",
                   target_id=f"{site}/{day.isoformat()}", site=site,
                   detail={"problems": len(problems), "day": day.isoformat()}, at=at)  # fmt: skip
    if settings.auto_issue:
        with engine.begin() as conn:
            issue(conn, day, settings, actor="system", role="system", now=at)
    with engine.connect() as conn:
        return drafts(conn, day)


def drop_problem(
    conn: Connection, draft_id: int, key: str, reason: str, *, actor: str, role: str
) -> None:
    """Leave one problem out of a draft, with the reason (required), audited."""
    reason = reason.strip()
    if not reason:
        raise NoticeError(N_("reason: say why the problem is dropped"))
    d = draft(conn, draft_id)
    if d is None:
        raise NoticeError(N_("draft %(draft)s does not exist"), draft=draft_id)
    if d.issued_number is not None:
        raise NoticeError(N_("the notice %(number)s is issued: it cannot change"),
                          number=d.issued_number)  # fmt: skip
    if key not in {p.key for p in d.problems}:
        raise NoticeError(N_("problem %(key)s is not in the draft"), key=repr(key))
    at = time.time()
    dropped = {k: list(v) for k, v in d.dropped.items()}
    dropped[key] = [reason[:500], actor, at]
    conn.execute(
        update(notice_drafts)
        .where(notice_drafts.c.pk == draft_id)
        .values(dropped=json.dumps(dropped, ensure_ascii=False))
    )
    record(conn, actor=actor, role=role, action="notice.problem_dropped", target_kind="draft",
           target_id=f"{d.site}/{d.day.isoformat()}", site=d.site,
           detail={"problem": key, "reason": reason[:500]}, at=at)  # fmt: skip


def notices_in_window(conn: Connection, site: str, day: date, window_days: int) -> int:
    """Issued notices of ``site`` whose day is within ``window_days`` ending on ``day``."""
    q = select(func.count()).where(
        notices.c.site == site,
        notices.c.day > day - timedelta(days=window_days),
        notices.c.day <= day,
    )
    return int(conn.execute(q).scalar_one())


def _next_number(conn: Connection, year: int) -> str:
    last = conn.execute(
        select(func.max(notices.c.number)).where(notices.c.number.like(f"{year}-%"))
    ).scalar_one()
    n = int(str(last).split("-")[1]) + 1 if last else 1
    return f"{year}-{n:04d}"


def issue(
    conn: Connection,
    day: date,
    settings: LoopSettings,
    *,
    actor: str,
    role: str,
    sites: Iterable[str] | None = None,
    now: float | None = None,
) -> list[IssuedNotice]:
    """Issue the day's drafts (all, or those of ``sites``) in the caller's transaction: number,
    deadline, escalation, one case per kept problem, all audited. A draft whose problems were all
    dropped is not issued."""
    at = time.time() if now is None else now
    out: list[IssuedNotice] = []
    wanted = None if sites is None else set(sites)
    for d in drafts(conn, day):
        if d.issued_number is not None or (wanted is not None and d.site not in wanted):
            continue
        kept = d.kept
        if not kept:
            continue
        count = notices_in_window(conn, d.site, day, settings.window_days) + 1
        written, summoned = count >= settings.report_at, count >= settings.summon_at
        number = _next_number(conn, day.year)
        deadline = day + timedelta(days=settings.deadline_days)
        dropped = [
            {**_problem_json(p), "reason": d.dropped[p.key][0], "by": d.dropped[p.key][1],
             "at": d.dropped[p.key][2]}
            for p in d.problems if p.key in d.dropped
        ]  # fmt: skip
        pk = conn.execute(
            insert(notices)
            .values(number=number, site=d.site, clinic_name=d.clinic_name, day=day,
                    deadline=deadline, written_report=written, summoned=summoned,
                    in_window=count, window_days=settings.window_days, issued_at=at, issued_by=actor[:64],
                    dropped=json.dumps(dropped, ensure_ascii=False))
            .returning(notices.c.pk)
        ).scalar_one()  # fmt: skip
        conn.execute(
            insert(notice_problems),
            [{"notice_pk": pk, "position": i, **_problem_json(p)} for i, p in enumerate(kept)],
        )
        conn.execute(
            insert(cases),
            [
                {"notice_pk": pk, "position": i, "site": d.site, "kind": p.kind, "desk": p.desk,
                 "state": "open", "deadline": deadline, "opened_at": at}
                for i, p in enumerate(kept)
            ],
        )  # fmt: skip
        conn.execute(
            update(notice_drafts).where(notice_drafts.c.pk == d.id).values(issued_number=number)
        )
        record(conn, actor=actor, role=role, action="notice.issued", target_kind="notice",
               target_id=number, site=d.site, at=at,
               detail={"day": day.isoformat(), "problems": len(kept), "dropped": len(dropped),
                       "deadline": deadline.isoformat(), "in_window": count,
                       "written_report": written, "summoned": summoned})  # fmt: skip
        if count in (settings.report_at, settings.summon_at):
            record(conn, actor=actor, role=role, action="escalation.raised", target_kind="clinic",
                   target_id=d.site, site=d.site, at=at,
                   detail={"notice": number, "in_window": count, "window_days":
                           settings.window_days, "written_report": written,
                           "summoned": summoned})  # fmt: skip
        found = notice(conn, number)
        assert found is not None
        out.append(found)
    return out


def _issued(
    conn: Connection, where: ColumnElement[bool], limit: int | None = None
) -> list[IssuedNotice]:
    q = select(notices).where(where).order_by(notices.c.issued_at, notices.c.number)
    if limit is not None:
        q = q.limit(limit)
    rows = list(conn.execute(q))
    if not rows:
        return []
    probs: dict[int, list[NoticeProblem]] = {}
    for p in conn.execute(
        select(notice_problems)
        .where(notice_problems.c.notice_pk.in_([r.pk for r in rows]))
        .order_by(notice_problems.c.notice_pk, notice_problems.c.position)
    ):
        probs.setdefault(int(p.notice_pk), []).append(
            NoticeProblem(
                p.position, p.kind, p.alert, p.desk, p.raised, p.cleared, p.duration_s, p.value
            )
        )
    out = []
    for r in rows:
        ps = tuple(probs.get(int(r.pk), []))
        dropped = tuple(
            DroppedProblem(
                NoticeProblem(
                    -1,
                    d["kind"],
                    d["alert"],
                    d["desk"],
                    d["raised"],
                    d["cleared"],
                    d["duration_s"],
                    d["value"],
                ),
                d["reason"],
                d["by"],
                float(d["at"]),
            )
            for d in json.loads(r.dropped)
        )
        out.append(
            IssuedNotice(
                id=int(r.pk),
                number=r.number,
                site=r.site,
                clinic_name=r.clinic_name,
                day=r.day,
                problems=ps,
                deadline=r.deadline,
                required_actions=required_actions(
                    {p.kind for p in ps}, bool(r.written_report), bool(r.summoned)
                ),
                written_report=bool(r.written_report),
                summoned=bool(r.summoned),
                notices_in_window=int(r.in_window),
                issued_at=float(r.issued_at),
                issued_by=r.issued_by,
                dropped=dropped,
                window_days=int(r.window_days),
            )
        )
    return out


def notice(conn: Connection, number_or_id: str | int) -> IssuedNotice | None:
    """One issued notice by number (``2026-0001``) or id."""
    if isinstance(number_or_id, int):
        found = _issued(conn, notices.c.pk == number_or_id)
    else:
        found = _issued(conn, notices.c.number == number_or_id)
    return found[0] if found else None


def issued_since(conn: Connection, since: float, limit: int | None = None) -> list[IssuedNotice]:
    """Notices issued at or after ``since`` (POSIX s), oldest first."""
    return _issued(conn, notices.c.issued_at >= since, limit)


def notices_of_day(
    conn: Connection, day: date, sites: Iterable[str] | None = None
) -> list[IssuedNotice]:
    """The notices of local ``day`` (its problems' day), by number."""
    where: ColumnElement[bool] = notices.c.day == day
    if sites is not None:
        where = and_(where, notices.c.site.in_(list(sites)))
    return _issued(conn, where)


def notices_between(
    conn: Connection, first: date, last: date, sites: Iterable[str] | None = None
) -> list[IssuedNotice]:
    where = and_(notices.c.day >= first, notices.c.day <= last)
    if sites is not None:
        where = and_(where, notices.c.site.in_(list(sites)))
    return _issued(conn, where)


def notices_of_week(
    conn: Connection, year: int, week: int, sites: Iterable[str] | None = None
) -> list[IssuedNotice]:
    """The notices whose day falls in ISO week ``year-Wweek``."""
    monday = date.fromisocalendar(year, week, 1)
    return notices_between(conn, monday, monday + timedelta(days=6), sites)


def notices_of_site(conn: Connection, site: str, limit: int = 100) -> list[IssuedNotice]:
    """The clinic's newest ``limit`` notices, newest first."""
    newest = select(notices.c.pk).where(notices.c.site == site)
    newest = newest.order_by(notices.c.issued_at.desc(), notices.c.pk.desc()).limit(limit)
    return list(reversed(_issued(conn, notices.c.pk.in_(newest.scalar_subquery()))))


def local_day(ts: float, tz: ZoneInfo) -> date:
    return datetime.fromtimestamp(ts, tz).date()

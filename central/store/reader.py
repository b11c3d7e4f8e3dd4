"""Reading stored events back: typed rows with their payload parsed, by window, desk and kind.

Values are checked where they are read, because the table may hold rows stored before the
collector checked everything (central/store/records.py): a payload that is not strict JSON reads as
an empty document, a number that is not finite or not plausible reads as absent, and rows dated
outside 2020..2100 are not read at all. No stored value can make a page or report fail.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Connection, Engine, Select, and_, exists, func, select

from central.store.records import TS_MAX, TS_MIN, Row, strict_json
from central.store.tables import events, quarantine

PLAUSIBLE = 1e12
"""Numbers read from a payload beyond this (either sign) read as absent: no count, temperature,
duration or sequence number in the contract comes near it."""


@dataclass(frozen=True, slots=True)
class Stored:
    """One stored event."""

    site: str
    desk: str
    kind: str
    seq: int | None
    ts: float
    received: float
    alert: str | None
    state: str | None
    alert_id: str | None
    doc: dict[str, Any]

    @property
    def key(self) -> tuple[str, str]:
        return (self.site, self.desk)

    def number(self, name: str) -> float | None:
        """A numeric payload field, or None when absent, not a number, not finite or beyond
        :data:`PLAUSIBLE` (read defensively)."""
        return plausible(self.doc.get(name))

    def integer(self, name: str) -> int:
        """An integer payload field, 0 when absent."""
        v = self.number(name)
        return int(v) if v is not None else 0

    @property
    def cause(self) -> str | None:
        """Why a mask alert (:data:`MASK_ALERTS`) was raised, ``no_mask`` or ``worn_wrong`` (a mask
        worn wrong); None for other events, other values, or boxes before the field (read
        defensively: the one rule the day's problems, the rollups and the counts share)."""
        cause = self.doc.get("cause")
        known = isinstance(cause, str) and cause in MASK_CAUSES
        return cause if known and self.alert in MASK_ALERTS else None


MASK_ALERTS = frozenset({"unmasked", "staff_unmasked"})
"""The alerts a box raises with a ``cause`` (docs/EVENTS.md)."""
MASK_CAUSES = frozenset({"no_mask", "worn_wrong"})
"""The ``cause`` values the contract knows; any other is ignored."""

_COLUMNS = (
    events.c.site,
    events.c.desk,
    events.c.kind,
    events.c.seq,
    events.c.ts,
    events.c.received,
    events.c.alert,
    events.c.state,
    events.c.alert_id,
    events.c.payload,
)


def plausible(v: object) -> float | None:
    """``v`` as a float when it is a finite number within :data:`PLAUSIBLE`, else None."""
    if isinstance(v, bool) or not isinstance(v, int | float):
        return None
    if isinstance(v, int) and abs(v) > PLAUSIBLE:
        return None
    f = float(v)
    return f if math.isfinite(f) and abs(f) <= PLAUSIBLE else None


def _load(doc: str) -> dict[str, Any]:
    try:
        out = strict_json(doc)
    except Exception:  # not strict JSON (NaN, huge numbers, too deep, garbage): read as empty
        return {}
    return out if isinstance(out, dict) else {}


COLUMNS = _COLUMNS
"""The columns :func:`rows` reads, in its order."""

_SANE = events.c.ts.between(TS_MIN, TS_MAX)
"""Rows dated where no event can be (stored before the collector checked ``ts``) are not read."""
SANE = _SANE


def _rows(engine: Engine, stmt: Select[Any]) -> Iterator[Stored]:
    with engine.connect() as conn:
        yield from rows(conn, stmt)


def rows(conn: Connection, stmt: Select[Any]) -> Iterator[Stored]:
    """The events a select of :data:`COLUMNS` finds, read defensively, streamed."""
    for r in conn.execution_options(yield_per=2000).execute(stmt):
        seq = r[3] if isinstance(r[3], int) and 0 < r[3] <= PLAUSIBLE else None
        yield Stored(r[0], r[1], r[2], seq, r[4], r[5], r[6], r[7], r[8], _load(r[9]))


def from_row(row: Row) -> Stored:
    """A row about to be stored, as it will read back."""
    seq = row.seq if row.seq is not None and 0 < row.seq <= PLAUSIBLE else None
    return Stored(row.site, row.desk, row.kind, seq, row.ts, row.received, row.alert, row.state,
                  row.alert_id, _load(row.payload))  # fmt: skip


def query(
    engine: Engine,
    start: float | None = None,
    end: float | None = None,
    kinds: Iterable[str] | None = None,
    site: str | None = None,
    desk: str | None = None,
    alert_ids: Iterable[str] | None = None,
) -> Iterator[Stored]:
    """Events with ``start <= ts < end`` (either bound optional), ordered by ts."""
    cond: list[ColumnElement[bool]] = [_SANE]
    if start is not None:
        cond.append(events.c.ts >= start)
    if end is not None:
        cond.append(events.c.ts < end)
    if kinds is not None:
        cond.append(events.c.kind.in_(list(kinds)))
    if site is not None:
        cond.append(events.c.site == site)
    if desk is not None:
        cond.append(events.c.desk == desk)
    if alert_ids is not None:
        cond.append(events.c.alert_id.in_(list(alert_ids)))
    stmt = select(*_COLUMNS).where(and_(True, *cond)).order_by(events.c.ts, events.c.seq)
    return _rows(engine, stmt)


@dataclass(frozen=True, slots=True)
class DeskSeen:
    """A desk the store has heard from."""

    site: str
    desk: str
    last_ts: float
    last_received: float
    events: int


def desks(engine: Engine, site: str | None = None) -> list[DeskSeen]:
    """Every (site, desk) with its newest event time, sorted by site then desk."""
    stmt = (
        select(
            events.c.site,
            events.c.desk,
            func.max(events.c.ts),
            func.max(events.c.received),
            func.count(),
        )
        .where(_SANE)
        .group_by(events.c.site, events.c.desk)
    )
    if site is not None:
        stmt = stmt.where(events.c.site == site)
    with engine.connect() as conn:
        rows = conn.execute(stmt.order_by(events.c.site, events.c.desk)).all()
    return [DeskSeen(r[0], r[1], float(r[2]), float(r[3]), int(r[4])) for r in rows]


def latest(engine: Engine, kind: str, site: str | None = None) -> dict[tuple[str, str], Stored]:
    """The most recently received event of ``kind`` per desk (for status: the retained state)."""
    newest = (
        select(events.c.site, events.c.desk, func.max(events.c.pk).label("pk"))
        .where(events.c.kind == kind, _SANE)
        .group_by(events.c.site, events.c.desk)
    )
    if site is not None:
        newest = newest.where(events.c.site == site)
    sub = newest.subquery()
    stmt = select(*_COLUMNS).join(sub, events.c.pk == sub.c.pk)
    return {s.key: s for s in _rows(engine, stmt)}


def missing_seq(
    engine: Engine, start: float, end: float, site: str | None = None
) -> dict[tuple[str, str], int]:
    """Sequence numbers missing per desk among the events dated in ``[start, end)``: per device,
    highest - lowest + 1 - distinct numbers (events a box numbered that never arrived), less the
    number after each ``online`` status that never arrived (that connection's Will, published only
    if the connection is lost: docs/EVENTS.md)."""
    in_window = and_(events.c.ts >= start, events.c.ts < end, events.c.seq.is_not(None), _SANE)
    if site is not None:
        in_window = and_(in_window, events.c.site == site)
    span = (
        select(
            events.c.site,
            events.c.desk,
            (
                func.max(events.c.seq)
                - func.min(events.c.seq)
                + 1
                - func.count(events.c.seq.distinct())
            ).label("missing"),
        )
        .where(in_window)
        .group_by(events.c.site, events.c.desk, events.c.device)
    )
    later = events.alias("later")
    unpublished_wills = (
        select(events.c.site, events.c.desk, func.count().label("wills"))
        .where(
            in_window,
            events.c.kind == "status",
            events.c.state == "online",
            ~exists().where(
                later.c.site == events.c.site,
                later.c.desk == events.c.desk,
                later.c.device == events.c.device,
                later.c.seq == events.c.seq + 1,
            ),
            # Only inside the span: the Will of the newest connection is not a gap yet.
            exists().where(
                later.c.site == events.c.site,
                later.c.desk == events.c.desk,
                later.c.device == events.c.device,
                later.c.seq > events.c.seq + 1,
                later.c.ts >= start,
                later.c.ts < end,
            ),
        )
        .group_by(events.c.site, events.c.desk)
    )
    out: dict[tuple[str, str], int] = {}
    with engine.connect() as conn:
        for r in conn.execute(span):
            if r[2]:
                out[(r[0], r[1])] = out.get((r[0], r[1]), 0) + int(r[2])
        for r in conn.execute(unpublished_wills):
            key = (r[0], r[1])
            if key in out:
                out[key] = max(0, out[key] - int(r[2]))
    return {k: v for k, v in out.items() if v}


def quarantined(engine: Engine, since: float) -> dict[str, int]:
    """Messages refused since ``since``, by reason (central/store/records.py)."""
    stmt = (
        select(quarantine.c.reason, func.count())
        .where(quarantine.c.received >= since)
        .group_by(quarantine.c.reason)
    )
    with engine.connect() as conn:
        return {str(r[0]): int(r[1]) for r in conn.execute(stmt)}

"""The durable delivery queue: enqueue once, claim safely, record each attempt, retry with backoff,
keep the dead letters until an officer retries them.

States: ``queued`` -> ``sending`` (claimed by one worker) -> ``sent``; a failed attempt goes to
``retry`` with ``next_at`` = now + min(cap, base * 2^(attempts-1)) * (1 +/- jitter), or to
``dead`` after :attr:`Policy.max_attempts` attempts or at once for a permanent refusal. A row
left in ``sending`` by a worker that died is taken back after :attr:`Policy.lease_s` (it may then
be sent twice: the only case; the receivers' idempotency is the message's ``id``).

Claiming is one ``UPDATE ... WHERE pk IN (SELECT ... FOR UPDATE SKIP LOCKED) RETURNING``: on
PostgreSQL two workers never take the same row and never wait on each other; on SQLite the
statement runs under the database's single write lock, which gives the same guarantee.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Final

from sqlalchemy import Connection, Engine, and_, func, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from central.audit.trail import record
from central.delivery.destinations import Destination
from central.delivery.message import Kind, Message
from central.delivery.tables import deliveries

STATES: Final = ("queued", "sending", "sent", "retry", "dead")
DUE: Final = ("queued", "retry")


class QueueError(ValueError):
    """A queue operation that cannot be done (no such delivery, not a dead letter...)."""


@dataclass(frozen=True)
class Policy:
    """How often and how long a delivery is tried."""

    max_attempts: int = 8
    base_s: float = 30.0
    cap_s: float = 3600.0
    jitter: float = 0.2
    lease_s: float = 600.0

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if self.base_s <= 0 or self.cap_s < self.base_s:
            raise ValueError("backoff: base_s must be > 0 and cap_s at least base_s")
        if not 0 <= self.jitter < 1:
            raise ValueError("jitter must be in [0, 1)")
        if self.lease_s < 30:
            raise ValueError("lease_s must be at least 30")

    def delay(self, attempts: int, rng: random.Random | None = None) -> float:
        """Seconds before attempt ``attempts + 1``."""
        base = min(self.cap_s, self.base_s * 2 ** max(0, attempts - 1))
        r = (rng or random).uniform(-self.jitter, self.jitter)
        return float(max(1.0, base * (1 + r)))


@dataclass(frozen=True)
class Claimed:
    """A delivery a worker holds: send it, then :func:`sent` or :func:`failed`."""

    pk: int
    subject: str
    kind: str
    destination: Destination
    payload: str
    attempts: int
    notices: tuple[str, ...] = ()
    """The notice numbers the message carries (their cases become notified once it is sent)."""


@dataclass(frozen=True)
class Row:
    """A delivery as pages and the CLI show it (no secret)."""

    pk: int
    subject: str
    kind: str
    site: str | None
    day: str | None
    notices: tuple[str, ...]
    channel: str
    shown: str
    locale: str
    title: str
    state: str
    attempts: int
    next_at: float
    last_error: str | None
    created_at: float
    sent_at: float | None


def enqueue(
    conn: Connection,
    *,
    subject: str,
    kind: Kind,
    dest: Destination,
    message: Message,
    site: str | None = None,
    day: str | None = None,
    notices: Sequence[str] = (),
    now: float | None = None,
) -> bool:
    """Queue ``message`` for ``dest`` once: ``False`` if this subject already went (or is going)
    to this destination."""
    if not subject or len(subject) > 96:
        raise QueueError(f"subject must be 1-96 characters: {subject!r}")
    now = time.time() if now is None else now
    values = {
        "subject": subject,
        "dest_key": dest.key(),
        "kind": kind,
        "site": site,
        "day": day,
        "notices": json.dumps(list(notices)),
        "channel": dest.channel,
        "address": dest.address,
        "secret": dest.secret,
        "shown": dest.shown(),
        "locale": dest.locale,
        "payload": message.to_json(),
        "state": "queued",
        "attempts": 0,
        "next_at": now,
        "created_at": now,
    }
    dialect = conn.dialect.name
    if dialect in ("postgresql", "sqlite"):
        ins = pg_insert if dialect == "postgresql" else sqlite_insert
        stmt = ins(deliveries).values(values).on_conflict_do_nothing()
    else:  # pragma: no cover - only the two databases are supported
        exists = conn.execute(
            select(deliveries.c.pk).where(
                deliveries.c.subject == subject, deliveries.c.dest_key == values["dest_key"]
            )
        ).first()
        if exists:
            return False
        conn.execute(insert(deliveries).values(values))
        return True
    return conn.execute(stmt.returning(deliveries.c.pk)).first() is not None


def recover(engine: Engine, policy: Policy, now: float | None = None) -> int:
    """Put back rows left in ``sending`` longer than the lease (their worker died)."""
    now = time.time() if now is None else now
    with engine.begin() as conn:
        res = conn.execute(
            update(deliveries)
            .where(deliveries.c.state == "sending", deliveries.c.claimed_at < now - policy.lease_s)
            .values(state="retry", next_at=now, claimed_by=None, last_error="worker stopped")
        )
    return int(res.rowcount or 0)


def claim(engine: Engine, worker: str, limit: int = 20, now: float | None = None) -> list[Claimed]:
    """Take up to ``limit`` due deliveries for ``worker`` (oldest due first)."""
    now = time.time() if now is None else now
    due = (
        select(deliveries.c.pk)
        .where(deliveries.c.state.in_(DUE), deliveries.c.next_at <= now)
        .order_by(deliveries.c.next_at, deliveries.c.pk)
        .limit(limit)
        .with_for_update(skip_locked=True)
        .scalar_subquery()
    )
    stmt = (
        update(deliveries)
        .where(deliveries.c.pk.in_(due), deliveries.c.state.in_(DUE))
        .values(
            state="sending",
            claimed_by=worker[:64],
            claimed_at=now,
            attempts=deliveries.c.attempts + 1,
        )
        .returning(
            deliveries.c.pk,
            deliveries.c.subject,
            deliveries.c.kind,
            deliveries.c.channel,
            deliveries.c.address,
            deliveries.c.secret,
            deliveries.c.locale,
            deliveries.c.shown,
            deliveries.c.payload,
            deliveries.c.attempts,
            deliveries.c.notices,
        )
    )
    with engine.begin() as conn:
        rows = conn.execute(stmt).all()
    out = []
    for r in sorted(rows, key=lambda r: r.pk):
        dest = Destination(r.channel, r.address, r.locale, r.secret)
        out.append(
            Claimed(r.pk, r.subject, r.kind, dest, r.payload, r.attempts, _numbers(r.notices))
        )
    return out


def _mine(pk: int, worker: str) -> object:
    return and_(
        deliveries.c.pk == pk, deliveries.c.state == "sending", deliveries.c.claimed_by == worker
    )


def sent(engine: Engine, c: Claimed, worker: str, now: float | None = None) -> None:
    now = time.time() if now is None else now
    with engine.begin() as conn:
        conn.execute(
            update(deliveries)
            .where(_mine(c.pk, worker))  # type: ignore[arg-type]
            .values(state="sent", sent_at=now, last_error=None, claimed_by=None)
        )


def failed(
    engine: Engine,
    c: Claimed,
    worker: str,
    error: str,
    policy: Policy,
    *,
    permanent: bool = False,
    least_wait_s: float = 0.0,
    now: float | None = None,
) -> str:
    """Record a failed attempt: ``retry`` (with its next time, at least ``least_wait_s`` away) or
    ``dead``; returns the state."""
    now = time.time() if now is None else now
    dead = permanent or c.attempts >= policy.max_attempts
    state = "dead" if dead else "retry"
    next_at = now if dead else now + max(policy.delay(c.attempts), least_wait_s)
    with engine.begin() as conn:
        conn.execute(
            update(deliveries)
            .where(_mine(c.pk, worker))  # type: ignore[arg-type]
            .values(state=state, next_at=next_at, last_error=error[:300], claimed_by=None)
        )
    return state


def retry_dead(
    conn: Connection,
    pk: int,
    *,
    actor: str,
    role: str,
    sites: frozenset[str] | None = None,
    now: float | None = None,
) -> Row:
    """Give a dead letter its tries again (``queued``, attempts from 0), in the audit trail as
    ``delivery.retried``; :class:`QueueError` if it is not a dead letter in ``sites``' scope."""
    now = time.time() if now is None else now
    found = _rows(conn, select_where=[deliveries.c.pk == pk], limit=1)
    if not found or (sites is not None and found[0].site not in sites):
        raise QueueError(f"no delivery {pk}")
    row = found[0]
    if row.state != "dead":
        raise QueueError(f"delivery {pk} is {row.state}, not a dead letter")
    conn.execute(
        update(deliveries)
        .where(deliveries.c.pk == pk, deliveries.c.state == "dead")
        .values(state="queued", attempts=0, next_at=now, claimed_by=None)
    )
    record(
        conn,
        actor=actor,
        role=role,
        action="delivery.retried",
        target_kind="delivery",
        target_id=str(pk),
        site=row.site,
        detail={
            "subject": row.subject,
            "destination": row.shown,
            "attempts": row.attempts,
            "last_error": row.last_error,
        },
        at=now,
    )
    return _rows(conn, select_where=[deliveries.c.pk == pk], limit=1)[0]


def _numbers(text: str) -> tuple[str, ...]:
    try:
        found = json.loads(text)
    except ValueError:
        return ()
    return tuple(str(n) for n in found) if isinstance(found, list) else ()


def _title(payload: str) -> str:
    try:
        return str(json.loads(payload).get("title", ""))[:200]
    except (ValueError, AttributeError):
        return ""


def _rows(conn: Connection, select_where: Iterable[object], limit: int) -> list[Row]:
    cols = [c for c in deliveries.c if c.name not in ("address", "secret")]
    stmt = select(*cols).where(*select_where).order_by(deliveries.c.pk.desc()).limit(limit)  # type: ignore[arg-type]
    out = []
    for r in conn.execute(stmt).mappings():
        notices = _numbers(r["notices"])
        out.append(
            Row(
                pk=r["pk"],
                subject=r["subject"],
                kind=r["kind"],
                site=r["site"],
                day=r["day"],
                notices=notices,
                channel=r["channel"],
                shown=r["shown"],
                locale=r["locale"],
                title=_title(r["payload"]),
                state=r["state"],
                attempts=r["attempts"],
                next_at=r["next_at"],
                last_error=r["last_error"],
                created_at=r["created_at"],
                sent_at=r["sent_at"],
            )
        )
    return out


def rows(
    conn: Connection,
    *,
    sites: frozenset[str] | None = None,
    states: Sequence[str] = (),
    limit: int = 200,
) -> list[Row]:
    """The newest deliveries (of ``states``), scoped: with ``sites`` only those clinics' own
    deliveries (a group summary names every clinic, so a scoped reader does not see it)."""
    where: list[object] = []
    if states:
        bad = [s for s in states if s not in STATES]
        if bad:
            raise QueueError(f"unknown state {bad[0]!r}: one of {', '.join(STATES)}")
        where.append(deliveries.c.state.in_(list(states)))
    if sites is not None:
        where.append(deliveries.c.site.in_(sorted(sites)))
    return _rows(conn, where, max(1, min(limit, 5000)))


def counts(conn: Connection, sites: frozenset[str] | None = None) -> dict[str, int]:
    """Deliveries per state (every state named, 0 included)."""
    stmt = select(deliveries.c.state, func.count()).group_by(deliveries.c.state)
    if sites is not None:
        stmt = stmt.where(deliveries.c.site.in_(sorted(sites)))
    found = {s: int(n) for s, n in conn.execute(stmt)}
    return {s: found.get(s, 0) for s in STATES}


def subjects_of_day(conn: Connection, day: str, kind: str) -> dict[str, tuple[str, ...]]:
    """subject -> notice numbers carried, for the ``kind`` deliveries of ``day``."""
    stmt = select(deliveries.c.subject, deliveries.c.notices).where(
        deliveries.c.day == day, deliveries.c.kind == kind
    )
    return {subject: _numbers(notices) for subject, notices in conn.execute(stmt)}

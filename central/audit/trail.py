"""The audit trail's table and its two operations: append an entry, read entries back.

Every change made on the district side (a notice issued, a problem dropped and why, a case
reported, verified or closed, an escalation, a registry edit, a user change, a spot-check draw)
appends one row: when, who (user name and role), what (an action name from :data:`ACTIONS`), on
what (target kind and id, the clinic when there is one, so scoped readers see their clinics'
entries) and a JSON detail. Rows are never changed or removed: the migration installs triggers
that refuse UPDATE and DELETE on both SQLite and PostgreSQL, and this module offers no way to.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Final

from sqlalchemy import (
    BigInteger,
    Column,
    Connection,
    Float,
    Index,
    Integer,
    String,
    Table,
    Text,
    insert,
    select,
)

from central.store.tables import metadata

ACTIONS: Final = frozenset(
    {
        "notice.drafted",
        "notice.issued",
        "notice.problem_dropped",
        "case.reported",
        "case.verified",
        "case.closed",
        "case.reopened",
        "case.notified",
        "escalation.raised",
        "closure.ordered",
        "closure.lifted",
        "registry.imported",
        "registry.edited",
        "user.added",
        "user.changed",
        "user.removed",
        "user.locked",
        "user.unlocked",
        "token.created",
        "token.revoked",
        "spotcheck.drawn",
        "spotcheck.result",
        "delivery.retried",
    }
)
"""Every action the trail knows; :func:`record` refuses others (a typo must not go unnoticed)."""

_BigId = BigInteger().with_variant(Integer(), "sqlite")

audit_log = Table(
    "audit_log",
    metadata,
    Column("pk", _BigId, primary_key=True, autoincrement=True),
    Column("at", Float(precision=53), nullable=False, comment="When, POSIX s UTC."),
    Column("actor", String(64), nullable=False, comment="User name, or 'system' for automatic."),
    Column("role", String(32), nullable=False, comment="The actor's role at that time."),
    Column("action", String(48), nullable=False, comment="One of central.audit.trail.ACTIONS."),
    Column("target_kind", String(32), nullable=False, comment="notice, case, clinic, user, ..."),
    Column("target_id", String(64), nullable=False, comment="The target's id."),
    Column("site", String(64), nullable=True, comment="The clinic concerned, if any."),
    Column("detail", Text, nullable=False, comment="JSON object: what changed, reasons."),
)

Index("ix_audit_log_target", audit_log.c.target_kind, audit_log.c.target_id)
Index("ix_audit_log_site_at", audit_log.c.site, audit_log.c.at)
Index("ix_audit_log_at", audit_log.c.at)


class UnknownActionError(ValueError):
    """An action name the trail does not declare."""


@dataclass(frozen=True)
class Entry:
    """One audit entry as read back."""

    pk: int
    at: float
    actor: str
    role: str
    action: str
    target_kind: str
    target_id: str
    site: str | None
    detail: Mapping[str, object]


def record(
    conn: Connection,
    *,
    actor: str,
    role: str,
    action: str,
    target_kind: str,
    target_id: str,
    site: str | None = None,
    detail: Mapping[str, object] | None = None,
    at: float | None = None,
) -> int:
    """Append one entry in the caller's transaction (so the change and its record commit
    together); returns its key."""
    if action not in ACTIONS:
        raise UnknownActionError(f"unknown audit action {action!r}")
    values = {
        "at": time.time() if at is None else at,
        "actor": actor[:64],
        "role": role[:32],
        "action": action,
        "target_kind": target_kind[:32],
        "target_id": target_id[:64],
        "site": site,
        "detail": json.dumps(dict(detail or {}), ensure_ascii=False, sort_keys=True, default=str),
    }
    pk = conn.execute(insert(audit_log).values(**values).returning(audit_log.c.pk)).scalar_one()
    return int(pk)


def entries(
    conn: Connection,
    *,
    sites: Iterable[str] | None = None,
    target_kind: str | None = None,
    target_id: str | None = None,
    since: float | None = None,
    limit: int = 200,
) -> list[Entry]:
    """Newest first. ``sites`` limits to entries about those clinics (a scoped reader); ``None``
    means every entry (district-wide readers)."""
    q = select(audit_log).order_by(audit_log.c.at.desc(), audit_log.c.pk.desc()).limit(limit)
    if sites is not None:
        q = q.where(audit_log.c.site.in_(list(sites)))
    if target_kind is not None:
        q = q.where(audit_log.c.target_kind == target_kind)
    if target_id is not None:
        q = q.where(audit_log.c.target_id == target_id)
    if since is not None:
        q = q.where(audit_log.c.at >= since)
    return [
        Entry(
            pk=int(r.pk),
            at=float(r.at),
            actor=r.actor,
            role=r.role,
            action=r.action,
            target_kind=r.target_kind,
            target_id=r.target_id,
            site=r.site,
            detail=json.loads(r.detail),
        )
        for r in conn.execute(q)
    ]

"""The sign-in throttle: failed sign-ins and bad API tokens counted per account and per client
address in the database (so every dashboard process agrees), and the lock-outs they cause.

- An **account** with :data:`ACCOUNT_LIMIT` failures in a row is locked for :data:`LOCK_S`; each
  further failure while locked extends it. A success resets the count. ``triage-central users
  unlock NAME`` (or the users page) lifts it at once.
- An **address** with :data:`ADDRESS_LIMIT` failures within :data:`WINDOW_S` is refused for
  :data:`LOCK_S` (whatever account it tries), so spraying many names from one machine stops too.
  ``triage-central users unlock --address IP`` lifts it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Final

from sqlalchemy import Connection, delete, insert, select, update

from central.accounts.tables import throttle

ACCOUNT_LIMIT: Final = 5
ADDRESS_LIMIT: Final = 20
WINDOW_S: Final = 900.0
LOCK_S: Final = 900.0


def account_key(username: str) -> str:
    return f"account:{username.strip().lower()[:120]}"


def address_key(address: str) -> str:
    return f"address:{address[:120]}"


@dataclass(frozen=True)
class Blocked:
    """Why a sign-in is refused before the password is even checked."""

    key: str
    until: float

    @property
    def retry_after(self) -> int:
        return max(1, int(self.until - time.time()) + 1)


def blocked(conn: Connection, keys: list[str], now: float | None = None) -> Blocked | None:
    """The first of ``keys`` locked out at ``now``, or None."""
    now = time.time() if now is None else now
    rows = conn.execute(
        select(throttle.c.key, throttle.c.locked_until).where(throttle.c.key.in_(keys))
    ).all()
    for key, until in rows:
        if until is not None and until > now:
            return Blocked(key, float(until))
    return None


def failed(conn: Connection, key: str, limit: int, now: float | None = None) -> bool:
    """Count one failure for ``key``; lock it when it reaches ``limit``. True if now locked."""
    now = time.time() if now is None else now
    row = conn.execute(select(throttle).where(throttle.c.key == key)).mappings().first()
    if row is None:
        conn.execute(insert(throttle).values(key=key, failures=1, first_failure=now))
        failures, first = 1, now
    else:
        failures, first = int(row["failures"]) + 1, float(row["first_failure"])
        if key.startswith("address:") and now - first > WINDOW_S:
            failures, first = 1, now
    until = now + LOCK_S if failures >= limit else None
    conn.execute(
        update(throttle)
        .where(throttle.c.key == key)
        .values(failures=failures, first_failure=first, locked_until=until)
    )
    return until is not None


def succeeded(conn: Connection, key: str) -> None:
    """Forget ``key``'s failures (a correct sign-in)."""
    conn.execute(delete(throttle).where(throttle.c.key == key))


def lift(conn: Connection, key: str) -> bool:
    """Lift a lock-out (an administrator's act); True if there was anything to lift."""
    return conn.execute(delete(throttle).where(throttle.c.key == key)).rowcount > 0


def locked_keys(conn: Connection, now: float | None = None) -> dict[str, float]:
    """Every key locked out at ``now`` and until when."""
    now = time.time() if now is None else now
    rows = conn.execute(
        select(throttle.c.key, throttle.c.locked_until).where(throttle.c.locked_until > now)
    ).all()
    return {str(k): float(u) for k, u in rows}

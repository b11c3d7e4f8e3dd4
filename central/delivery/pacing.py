"""Pacing the chat robots: each service's documented send limit, kept per destination.

A sub-district's group robot may be the recipient of fifty clinics' notices on one morning; the
services refuse a robot that sends faster than they allow, and DingTalk then silences it for ten
minutes. The limits, as each service documents them for its group/custom robots:

- **WeCom (企业微信) group robot**: at most 20 messages a minute (``errcode`` 45009 when exceeded);
- **DingTalk (钉钉) group robot**: at most 20 a minute; over it the robot is throttled for 10
  minutes (``errcode`` 130101);
- **Feishu (飞书) custom bot**: at most 100 a minute and 5 a second (``code`` 11232; 230020 is a
  chat's own limit);
- e-mail and the generic JSON webhook: no documented limit, not paced (HTTP 429 is still honoured).

Before a worker sends, :func:`wait_s` reads the destination's latest sends (``sent_at`` through the
``(dest_key, sent_at)`` index) and says how long the next one must wait; a delivery that must wait
is put back by :func:`defer` **without counting an attempt**. Workers take turns per robot
(:func:`turn`): the check, the send and the record of the send happen while one worker holds the
robot, so two workers draining the same robot at once never exceed its limit together.

A refusal as too fast (the codes above or HTTP 429,
:attr:`central.delivery.channels.SendError.throttled`) is an attempt like any other failure,
retried no sooner than the service's :data:`COOL_DOWN_S`, and holds the rest of that destination's
batch back (:func:`central.delivery.send.drain`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Final

from sqlalchemy import Engine, and_, select, text, update

from central.delivery.queue import Claimed
from central.delivery.tables import deliveries
from central.store.db import sqlite_file_lock

LIMITS: Final[dict[str, tuple[tuple[int, float], ...]]] = {
    "wecom": ((20, 60.0),),
    "dingtalk": ((20, 60.0),),
    "feishu": ((5, 1.0), (100, 60.0)),
}
"""Per channel: (at most this many sends, within this many seconds), each window kept."""

COOL_DOWN_S: Final[dict[str, float]] = {
    "wecom": 60.0,
    "dingtalk": 600.0,
    "feishu": 60.0,
    "webhook": 60.0,
}
"""After a refusal as too fast: the least wait before this destination is tried again."""


@contextmanager
def turn(engine: Engine, c: Claimed) -> Iterator[None]:
    """While inside, no other worker sends to ``c``'s robot (a paced channel; others: no wait).

    PostgreSQL: a session advisory lock keyed by the destination, on a connection of its own (held
    for one send: a round trip, at most the channel's timeout). SQLite (one machine): an exclusive
    ``flock`` on ``<database>.pacing.lock`` beside the database file, one for every robot."""
    if c.destination.channel not in LIMITS:
        yield
        return
    if engine.dialect.name == "postgresql":
        digest = hashlib.blake2b(c.destination.key().encode(), digest_size=8).digest()
        key = int.from_bytes(digest, "big", signed=True)
        with engine.connect() as conn:
            conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": key})
            conn.commit()
            try:
                yield
            finally:
                conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": key})
                conn.commit()
        return
    with sqlite_file_lock(engine, "pacing.lock"):
        yield


def wait_s(engine: Engine, c: Claimed, now: float) -> float:
    """Seconds before ``c`` may be sent under its channel's :data:`LIMITS` (0: send now)."""
    limits = LIMITS.get(c.destination.channel, ())
    if not limits:
        return 0.0
    key = c.destination.key()
    longest = 0.0
    with engine.connect() as conn:
        for most, window in limits:
            recent = (
                conn.execute(
                    select(deliveries.c.sent_at)
                    .where(deliveries.c.dest_key == key, deliveries.c.sent_at > now - window)
                    .order_by(deliveries.c.sent_at.desc())
                    .limit(most)
                )
                .scalars()
                .all()
            )
            if len(recent) >= most:
                longest = max(longest, float(recent[-1]) + window - now)
    return max(0.0, longest)


def cool_down_s(channel: str) -> float:
    """The least wait after ``channel`` refused a send as too fast."""
    return COOL_DOWN_S.get(channel, 60.0)


def defer(engine: Engine, c: Claimed, worker: str, until: float, reason: str) -> None:
    """Put ``c`` back, due at ``until``, its claim not counted as an attempt."""
    with engine.begin() as conn:
        conn.execute(
            update(deliveries)
            .where(
                and_(
                    deliveries.c.pk == c.pk,
                    deliveries.c.state == "sending",
                    deliveries.c.claimed_by == worker,
                )
            )
            .values(
                state="retry" if c.attempts > 1 else "queued",
                attempts=deliveries.c.attempts - 1,
                next_at=until,
                claimed_by=None,
                last_error=reason[:300],
            )
        )

"""The delivery queue's table on the shared metadata (migration branch ``delivery``:
``0006_delivery``, then ``0006_delivery_pacing``).

``deliveries`` holds one row per message per destination: what is sent (``kind``, ``subject`` the
notice or day it carries, ``payload`` the rendered message as JSON), where (``channel``,
``address`` and ``secret``, both secrets for the robots; ``shown`` is the redacted form that logs
and pages use), in which ``locale``, and how far it got (``state`` queued -> sending -> sent, or
retry -> ... -> dead, with ``attempts``, ``next_at``, ``last_error``). ``(subject, dest_key)`` is
unique: enqueueing the same message to the same destination twice is a no-op.

Anyone who can read this table can read the robots' webhook keys: grant it like the secrets file.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    Float,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from central.store.tables import metadata

_Id = BigInteger().with_variant(Integer(), "sqlite")
_Time = Float(precision=53)

deliveries = Table(
    "deliveries",
    metadata,
    Column("pk", _Id, primary_key=True, autoincrement=True),
    Column(
        "subject", String(96), nullable=False, comment="notice:<number>, summary:<day>:<n>, ..."
    ),
    Column("dest_key", String(64), nullable=False, comment="sha256 of channel and address."),
    Column("kind", String(16), nullable=False, comment="summary, notice, closure, test."),
    Column("site", String(64), nullable=True, comment="The clinic concerned, if any."),
    Column("day", String(10), nullable=True, comment="The local day concerned (YYYY-MM-DD)."),
    Column("notices", Text, nullable=False, comment="JSON list of the notice numbers carried."),
    Column(
        "channel", String(16), nullable=False, comment="wecom, dingtalk, feishu, email, webhook."
    ),
    Column("address", Text, nullable=False, comment="URL or e-mail address (a secret)."),
    Column("secret", Text, nullable=False, comment="Signing secret, '' if none (a secret)."),
    Column("shown", String(200), nullable=False, comment="The destination, redacted."),
    Column("locale", String(8), nullable=False),
    Column("payload", Text, nullable=False, comment="JSON: title, markdown, text, html, url."),
    Column("state", String(8), nullable=False, comment="queued, sending, sent, retry, dead."),
    Column("attempts", Integer, nullable=False),
    Column("next_at", _Time, nullable=False, comment="When it may be tried (again)."),
    Column("claimed_by", String(64), nullable=True, comment="Worker sending it."),
    Column("claimed_at", _Time, nullable=True),
    Column("last_error", String(300), nullable=True, comment="Short, secret-free."),
    Column("created_at", _Time, nullable=False),
    Column("sent_at", _Time, nullable=True),
    UniqueConstraint("subject", "dest_key", name="uq_deliveries_subject_dest"),
)

Index("ix_deliveries_state_next", deliveries.c.state, deliveries.c.next_at)
Index("ix_deliveries_site", deliveries.c.site, deliveries.c.created_at)
Index("ix_deliveries_day", deliveries.c.day, deliveries.c.kind)
Index("ix_deliveries_dest_sent", deliveries.c.dest_key, deliveries.c.sent_at)

"""The accounts' tables (migration 0007_accounts): users, sessions, API tokens, the sign-in
throttle, and the double-random spot checks with their per-clinic results.

Secrets are never stored: passwords as Argon2id hashes (central/accounts/passwords.py), session ids
and API tokens as SHA-256 digests of their high-entropy random values. The throttle lives in the
database so every dashboard process counts the same failures and honours the same lock-outs.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
)

from central.store.tables import metadata

_BigId = BigInteger().with_variant(Integer(), "sqlite")

users = Table(
    "users",
    metadata,
    Column("username", String(64), primary_key=True),
    Column("display_name", String(128), nullable=False),
    Column("role", String(16), nullable=False, comment="central.accounts.roles.Role"),
    Column("party", String(32), nullable=True, comment="For role 'party': one of PARTIES."),
    Column("site", String(64), nullable=True, comment="For role 'clinic': the clinic's id."),
    Column("password_hash", Text, nullable=True, comment="Argon2id; NULL: no password sign-in."),
    Column("locked", Boolean, nullable=False, default=False, comment="Locked by an admin."),
    Column("created", Float(precision=53), nullable=False),
    Column("changed", Float(precision=53), nullable=False),
)

sessions = Table(
    "user_sessions",
    metadata,
    Column("id_hash", String(64), primary_key=True, comment="SHA-256 of the cookie's session id."),
    Column(
        "username",
        String(64),
        ForeignKey("users.username", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("csrf", String(64), nullable=False, comment="The session's CSRF token."),
    Column("created", Float(precision=53), nullable=False),
    Column("last_seen", Float(precision=53), nullable=False),
    Column("expires", Float(precision=53), nullable=False, comment="Absolute expiry."),
)
Index("ix_user_sessions_username", sessions.c.username)

api_tokens = Table(
    "api_tokens",
    metadata,
    Column("pk", _BigId, primary_key=True, autoincrement=True),
    Column(
        "username",
        String(64),
        ForeignKey("users.username", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("label", String(64), nullable=False),
    Column("token_hash", String(64), nullable=False, unique=True, comment="SHA-256 of the token."),
    Column("created", Float(precision=53), nullable=False),
    Column("last_used", Float(precision=53), nullable=True),
    Column("revoked", Float(precision=53), nullable=True),
)

throttle = Table(
    "sign_in_throttle",
    metadata,
    Column("key", String(160), primary_key=True, comment="'account:<name>' or 'address:<ip>'."),
    Column("failures", Integer, nullable=False),
    Column("first_failure", Float(precision=53), nullable=False),
    Column("locked_until", Float(precision=53), nullable=True),
)

spot_checks = Table(
    "spot_checks",
    metadata,
    Column("id", String(32), primary_key=True, comment="e.g. SC-20261205-1a2b3c"),
    Column("day", Date, nullable=False, comment="The local day the checks concern."),
    Column("drawn_at", Float(precision=53), nullable=False),
    Column("drawn_by", String(64), nullable=False),
    Column("seed", String(64), nullable=False, comment="Hex seed of the draw (recorded, public)."),
    Column("inputs", Text, nullable=False, comment="Canonical JSON: candidates, n, m."),
    Column("inputs_digest", String(64), nullable=False, comment="SHA-256 of inputs."),
    Column("result", Text, nullable=False, comment="Canonical JSON: clinics, inspectors."),
)

spot_check_clinics = Table(
    "spot_check_clinics",
    metadata,
    Column(
        "check_id",
        String(32),
        ForeignKey("spot_checks.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("site", String(64), primary_key=True),
    Column("outcome", String(16), nullable=False, comment="pending, compliant, rectify, failed"),
    Column("rectification", String(16), nullable=False, comment="none, required, rectified"),
    Column("finding", Text, nullable=False, comment="What the inspectors found (published)."),
    Column("recorded_at", Float(precision=53), nullable=True),
    Column("recorded_by", String(64), nullable=True),
)

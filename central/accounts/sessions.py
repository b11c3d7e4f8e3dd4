"""Server-side sessions and per-user API tokens.

A session is a random id in an HttpOnly cookie; the database keeps only its SHA-256, the account,
the session's CSRF token and its times. It ends at sign-out (the row is deleted, so a copied cookie
is worthless), after :data:`IDLE_S` without a request, after :data:`MAX_AGE_S` in any case, and when
the account is locked, changed or removed.

An API token (``tca_`` + 43 random characters) is shown once when created; the database keeps its
SHA-256 (a random 256-bit secret needs no slow hash). Scripts send it as ``Authorization: Bearer``.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from dataclasses import dataclass
from typing import Final

from sqlalchemy import Connection, delete, insert, select, update

from central.accounts.tables import api_tokens, sessions, users
from central.accounts.users import Account, AccountError, Actor, account_from_row
from central.audit import trail

IDLE_S: Final = 8 * 3600.0
MAX_AGE_S: Final = 12 * 3600.0
TOKEN_PREFIX: Final = "tca_"  # noqa: S105 - a prefix, not a secret


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()


@dataclass(frozen=True)
class Session:
    """A live session: its account and its CSRF token."""

    account: Account
    csrf: str
    expires: float


def start(conn: Connection, account: Account, now: float | None = None) -> tuple[str, Session]:
    """A new session for ``account``: (the cookie's value, the session)."""
    now = time.time() if now is None else now
    sid = secrets.token_urlsafe(32)
    csrf = secrets.token_urlsafe(32)
    conn.execute(
        insert(sessions).values(
            id_hash=digest(sid),
            username=account.username,
            csrf=csrf,
            created=now,
            last_seen=now,
            expires=now + MAX_AGE_S,
        )
    )
    conn.execute(delete(sessions).where(sessions.c.expires < now))
    return sid, Session(account, csrf, now + MAX_AGE_S)


def resolve(conn: Connection, sid: str, now: float | None = None) -> Session | None:
    """The live session of a cookie's value, or None (unknown, expired, idle, account locked)."""
    if not sid or len(sid) > 128:
        return None
    now = time.time() if now is None else now
    row = (
        conn.execute(
            select(sessions.c.csrf, sessions.c.last_seen, sessions.c.expires, users)
            .join(users, users.c.username == sessions.c.username)
            .where(sessions.c.id_hash == digest(sid))
        )
        .mappings()
        .first()
    )
    if row is None:
        return None
    if row["expires"] <= now or now - row["last_seen"] > IDLE_S or row["locked"]:
        conn.execute(delete(sessions).where(sessions.c.id_hash == digest(sid)))
        return None
    if now - row["last_seen"] > 60:
        conn.execute(
            update(sessions).where(sessions.c.id_hash == digest(sid)).values(last_seen=now)
        )
    return Session(account_from_row(dict(row)), str(row["csrf"]), float(row["expires"]))


def end(conn: Connection, sid: str) -> bool:
    """Sign-out: delete the session; True if there was one."""
    return conn.execute(delete(sessions).where(sessions.c.id_hash == digest(sid))).rowcount > 0


@dataclass(frozen=True)
class Token:
    """An API token as listed (never the secret)."""

    pk: int
    username: str
    label: str
    created: float
    last_used: float | None
    revoked: float | None


def create_token(conn: Connection, actor: Actor, username: str, label: str) -> tuple[str, Token]:
    """A new token for ``username``: (the secret, shown once; its record)."""
    label = label.strip()[:64] or "token"
    if conn.execute(select(users.c.username).where(users.c.username == username)).first() is None:
        raise AccountError(f"no user {username!r}")
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    now = time.time()
    pk = conn.execute(
        insert(api_tokens)
        .values(username=username, label=label, token_hash=digest(secret), created=now)
        .returning(api_tokens.c.pk)
    ).scalar_one()
    trail.record(
        conn,
        actor=actor.name,
        role=actor.role,
        action="token.created",
        target_kind="user",
        target_id=username,
        detail={"token": int(pk), "label": label},
    )
    return secret, Token(int(pk), username, label, now, None, None)


def tokens(conn: Connection, username: str | None = None) -> list[Token]:
    q = select(api_tokens).order_by(api_tokens.c.pk)
    if username is not None:
        q = q.where(api_tokens.c.username == username)
    return [
        Token(int(r.pk), r.username, r.label, r.created, r.last_used, r.revoked)
        for r in conn.execute(q)
    ]


def revoke_token(conn: Connection, actor: Actor, pk: int, username: str | None = None) -> None:
    """Revoke a token (``username``: only if it is theirs)."""
    q = select(api_tokens).where(api_tokens.c.pk == pk)
    row = conn.execute(q).mappings().first()
    if row is None or (username is not None and row["username"] != username):
        raise AccountError(f"no token {pk}")
    if row["revoked"] is None:
        conn.execute(update(api_tokens).where(api_tokens.c.pk == pk).values(revoked=time.time()))
    trail.record(
        conn,
        actor=actor.name,
        role=actor.role,
        action="token.revoked",
        target_kind="user",
        target_id=str(row["username"]),
        detail={"token": pk, "label": row["label"]},
    )


def account_for_token(conn: Connection, secret: str) -> Account | None:
    """The (unlocked) account of a live token, or None."""
    if not secret.startswith(TOKEN_PREFIX) or len(secret) > 128:
        return None
    row = (
        conn.execute(
            select(api_tokens.c.pk, api_tokens.c.last_used, users)
            .join(users, users.c.username == api_tokens.c.username)
            .where(api_tokens.c.token_hash == digest(secret), api_tokens.c.revoked.is_(None))
        )
        .mappings()
        .first()
    )
    if row is None or row["locked"]:
        return None
    now = time.time()
    if row["last_used"] is None or now - row["last_used"] > 60:
        conn.execute(update(api_tokens).where(api_tokens.c.pk == row["pk"]).values(last_used=now))
    return account_from_row(dict(row))

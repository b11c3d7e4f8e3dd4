"""User accounts: adding, listing, changing role, locking, unlocking, resetting passwords and
removing them (each change recorded in the audit trail in the same transaction), signing in with a
password (throttled), and the :class:`~central.accounts.roles.Viewer` an account stands for.

A party member's scope is the clinics the registry names them responsible for
(``central.registry.clinics.sites_for``); a clinic user's is their clinic.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from typing import Final, cast

from sqlalchemy import Connection, delete, func, insert, select, update

from central.accounts import passwords, throttle
from central.accounts.roles import PARTIES, ROLES, Party, Role, Viewer
from central.accounts.tables import api_tokens, sessions, users
from central.audit import trail
from central.registry.clinics import sites_for

USERNAME: Final = re.compile(r"^[a-z0-9][a-z0-9._-]{1,63}$")
SITE: Final = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


class AccountError(ValueError):
    """A request about accounts that cannot be done; the message says why."""


@dataclass(frozen=True)
class Account:
    """One user as stored (never the password hash)."""

    username: str
    display_name: str
    role: Role
    party: Party | None
    site: str | None
    locked: bool
    has_password: bool
    created: float


@dataclass(frozen=True)
class Actor:
    """Who makes a change, for the audit trail."""

    name: str
    role: str


SYSTEM: Final = Actor("system", "admin")


def account_from_row(r: object) -> Account:
    m = cast("dict[str, object]", r)
    return Account(
        username=str(m["username"]),
        display_name=str(m["display_name"]),
        role=cast(Role, m["role"]),
        party=cast("Party | None", m["party"]),
        site=cast("str | None", m["site"]),
        locked=bool(m["locked"]),
        has_password=m["password_hash"] is not None,
        created=float(cast(float, m["created"])),
    )


def check_fields(username: str, role: str, party: str | None, site: str | None) -> None:
    """Refuse a malformed name, an unknown role or party, or a scope that does not fit the role."""
    if not USERNAME.match(username):
        raise AccountError(
            f"user name {username!r}: 2-64 characters, lower-case letters, digits, '.', '_', '-'"
        )
    if role not in ROLES:
        raise AccountError(f"role {role!r}: one of {', '.join(ROLES)}")
    if role == "party":
        if party not in PARTIES:
            raise AccountError(f"a party member needs --party, one of {', '.join(PARTIES)}")
    elif party is not None:
        raise AccountError("--party is only for role 'party'")
    if role == "clinic":
        if site is None or not SITE.match(site):
            raise AccountError("a clinic user needs --site, the clinic's id (letters, digits, -_)")
    elif site is not None:
        raise AccountError("--site is only for role 'clinic'")


def get(conn: Connection, username: str) -> Account | None:
    row = conn.execute(select(users).where(users.c.username == username)).mappings().first()
    return None if row is None else account_from_row(dict(row))


def listing(conn: Connection) -> list[Account]:
    rows = conn.execute(select(users).order_by(users.c.username)).mappings().all()
    return [account_from_row(dict(r)) for r in rows]


def count(conn: Connection, role: Role | None = None) -> int:
    q = select(func.count()).select_from(users)
    if role is not None:
        q = q.where(users.c.role == role)
    return int(conn.execute(q).scalar_one())


def _require(conn: Connection, username: str) -> Account:
    found = get(conn, username)
    if found is None:
        raise AccountError(f"no user {username!r}")
    return found


def _audit(
    conn: Connection, actor: Actor, action: str, username: str, detail: dict[str, object]
) -> None:
    trail.record(
        conn,
        actor=actor.name,
        role=actor.role,
        action=action,
        target_kind="user",
        target_id=username,
        detail=detail,
    )


def add(
    conn: Connection,
    actor: Actor,
    *,
    username: str,
    role: str,
    password: str | None,
    display_name: str = "",
    party: str | None = None,
    site: str | None = None,
) -> Account:
    """Create an account (``password`` None: signs in only through SSO or API tokens)."""
    check_fields(username, role, party, site)
    if get(conn, username) is not None:
        raise AccountError(f"user {username!r} exists already")
    hashed = None
    if password is not None:
        try:
            hashed = passwords.hash_password(password, username)
        except passwords.PasswordPolicyError as exc:
            raise AccountError(str(exc)) from None
    now = time.time()
    conn.execute(
        insert(users).values(
            username=username,
            display_name=(display_name or username)[:128],
            role=role,
            party=party,
            site=site,
            password_hash=hashed,
            locked=False,
            created=now,
            changed=now,
        )
    )
    _audit(conn, actor, "user.added", username, {"role": role, "party": party, "site": site})
    return _require(conn, username)


def set_role(
    conn: Connection,
    actor: Actor,
    username: str,
    role: str,
    party: str | None = None,
    site: str | None = None,
) -> Account:
    """Change an account's role and scope; ends its sessions (their rights changed)."""
    before = _require(conn, username)
    check_fields(username, role, party, site)
    if before.role == "admin" and role != "admin" and count(conn, "admin") == 1:
        raise AccountError("that is the last administrator: add another one first")
    conn.execute(
        update(users)
        .where(users.c.username == username)
        .values(role=role, party=party, site=site, changed=time.time())
    )
    conn.execute(delete(sessions).where(sessions.c.username == username))
    _audit(
        conn,
        actor,
        "user.changed",
        username,
        {
            "role": [before.role, role],
            "party": [before.party, party],
            "site": [before.site, site],
        },
    )
    return _require(conn, username)


def lock(conn: Connection, actor: Actor, username: str) -> None:
    """Lock an account (no sign-in, no token) and end its sessions."""
    _require(conn, username)
    conn.execute(
        update(users).where(users.c.username == username).values(locked=True, changed=time.time())
    )
    conn.execute(delete(sessions).where(sessions.c.username == username))
    _audit(conn, actor, "user.locked", username, {})


def unlock(conn: Connection, actor: Actor, username: str) -> None:
    """Unlock an account and lift its sign-in lock-out."""
    _require(conn, username)
    conn.execute(
        update(users).where(users.c.username == username).values(locked=False, changed=time.time())
    )
    lifted = throttle.lift(conn, throttle.account_key(username))
    _audit(conn, actor, "user.unlocked", username, {"lock_out_lifted": lifted})


def unlock_address(conn: Connection, actor: Actor, address: str) -> bool:
    """Lift a client address's lock-out."""
    lifted = throttle.lift(conn, throttle.address_key(address))
    trail.record(
        conn,
        actor=actor.name,
        role=actor.role,
        action="user.unlocked",
        target_kind="address",
        target_id=address,
        detail={"lock_out_lifted": lifted},
    )
    return lifted


def reset_password(conn: Connection, actor: Actor, username: str, password: str) -> None:
    """Set a new password and end the account's sessions."""
    _require(conn, username)
    try:
        hashed = passwords.hash_password(password, username)
    except passwords.PasswordPolicyError as exc:
        raise AccountError(str(exc)) from None
    conn.execute(
        update(users)
        .where(users.c.username == username)
        .values(password_hash=hashed, changed=time.time())
    )
    conn.execute(delete(sessions).where(sessions.c.username == username))
    _audit(conn, actor, "user.changed", username, {"password": "reset"})


def remove(conn: Connection, actor: Actor, username: str) -> None:
    """Remove an account with its sessions and tokens (the audit trail keeps its name)."""
    found = _require(conn, username)
    if found.role == "admin" and count(conn, "admin") == 1:
        raise AccountError("that is the last administrator: add another one first")
    conn.execute(delete(sessions).where(sessions.c.username == username))
    conn.execute(delete(api_tokens).where(api_tokens.c.username == username))
    conn.execute(delete(users).where(users.c.username == username))
    _audit(conn, actor, "user.removed", username, {"role": found.role})


@dataclass(frozen=True)
class SignIn:
    """What a password sign-in gave: the account, or why not (``refused``: a message for the
    person; ``retry_after``: seconds, when throttled)."""

    account: Account | None
    refused: str = ""
    retry_after: int = 0


def authenticate(conn: Connection, username: str, password: str, address: str) -> SignIn:
    """Check a password sign-in, throttled per account and per address (in ``conn``'s
    transaction: the caller commits, so failures are counted even when refused)."""
    name = username.strip().lower()
    keys = [throttle.account_key(name), throttle.address_key(address)]
    block = throttle.blocked(conn, keys)
    if block is not None:
        return SignIn(None, "locked_out", block.retry_after)
    row = conn.execute(select(users).where(users.c.username == name)).mappings().first()
    stored = None if row is None else row["password_hash"]
    ok = passwords.verify(stored, password)
    if not ok or row is None:
        throttle.failed(conn, keys[0], throttle.ACCOUNT_LIMIT)
        throttle.failed(conn, keys[1], throttle.ADDRESS_LIMIT)
        return SignIn(None, "wrong")
    if row["locked"]:
        return SignIn(None, "account_locked")
    throttle.succeeded(conn, keys[0])
    if stored is not None and passwords.needs_rehash(stored):
        conn.execute(
            update(users)
            .where(users.c.username == name)
            .values(password_hash=passwords.HASHER.hash(password))
        )
    return SignIn(account_from_row(dict(row)))


def viewer_for(conn: Connection, account: Account) -> Viewer:
    """The :class:`Viewer` an account stands for, its scope read now (a registry edit applies at
    the next request)."""
    sites: frozenset[str] | None = None
    if account.role == "clinic":
        sites = frozenset({account.site} if account.site else ())
    elif account.role == "party":
        sites = frozenset(sites_for(conn, account.party or "", account.username))
    return Viewer(name=account.username, role=account.role, sites=sites, party=account.party)

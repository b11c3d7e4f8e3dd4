"""Passwords: the policy (minimum length), Argon2id hashing (argon2-cffi) and verification with
rehashing when the hasher's parameters change.

A wrong user name costs the same time as a wrong password: :func:`verify` against
:data:`DUMMY_HASH` so a stranger cannot tell which names exist from the answer's delay.
"""

from __future__ import annotations

from typing import Final

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

MIN_LENGTH: Final = 12
MAX_LENGTH: Final = 1024
"""Longer passwords are refused (hashing megabytes would be a denial of service)."""

HASHER: Final = PasswordHasher()
"""argon2-cffi's defaults (RFC 9106 low-memory profile: Argon2id, 64 MiB, 3 passes)."""

DUMMY_HASH: Final = HASHER.hash("not a password of anyone: equalises the timing")


class PasswordPolicyError(ValueError):
    """A new password the policy refuses; the message says why."""


def check_policy(password: str, username: str = "") -> None:
    """Refuse a password too short, too long, or equal to the user name."""
    if len(password) < MIN_LENGTH:
        raise PasswordPolicyError(
            f"password too short: {len(password)} characters, at least {MIN_LENGTH}"
        )
    if len(password) > MAX_LENGTH:
        raise PasswordPolicyError(f"password too long: at most {MAX_LENGTH} characters")
    if username and password.strip().lower() == username.strip().lower():
        raise PasswordPolicyError("password must not be the user name")


def hash_password(password: str, username: str = "") -> str:
    """The Argon2id hash of a password the policy accepts."""
    check_policy(password, username)
    return HASHER.hash(password)


def verify(stored: str | None, password: str) -> bool:
    """Whether ``password`` matches ``stored`` (``None``: compare with the dummy, answer no)."""
    if len(password) > MAX_LENGTH:
        return False
    try:
        ok = HASHER.verify(stored or DUMMY_HASH, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False
    return ok and stored is not None


def needs_rehash(stored: str) -> bool:
    """Whether ``stored`` was made with other parameters than :data:`HASHER`'s."""
    try:
        return HASHER.check_needs_rehash(stored)
    except InvalidHashError:
        return True

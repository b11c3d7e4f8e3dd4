"""The ``clock`` check: the system clock is set and synchronised (TLS and event times need it)."""

from __future__ import annotations

import ctypes
import ctypes.util
import shutil
import subprocess
import time
from collections.abc import Callable

from agent.cli.diag.check import Check, Context

SANE_AFTER = 1_704_067_200.0  # 2024-01-01: earlier means the clock was never set


def _timedatectl_synced() -> bool | None:
    if shutil.which("timedatectl") is None:
        return None
    try:
        res = subprocess.run(
            ["timedatectl", "show", "-p", "NTPSynchronized", "--value"],
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    value = res.stdout.strip()
    return None if res.returncode != 0 or value not in ("yes", "no") else value == "yes"


def _adjtimex_synced() -> bool | None:
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    try:
        libc = ctypes.CDLL(name, use_errno=True)
        buf = ctypes.create_string_buffer(512)  # struct timex with modes = 0: read only
        state = int(libc.adjtimex(buf))
    except (OSError, AttributeError):
        return None
    if state < 0:
        return None
    return state != 5  # TIME_ERROR: the kernel clock is not synchronised


def check_clock(synced: Callable[[], bool | None] | None = None) -> Check:
    """The system clock is synchronised (timedatectl, else the kernel's adjtimex state)."""
    state = synced() if synced is not None else _timedatectl_synced()
    if state is None and synced is None:
        state = _adjtimex_synced()
    now = time.time()
    shown = time.strftime("%Y-%m-%d %H:%M:%S %Z", time.localtime(now))
    fix = (
        "enable time synchronisation: `sudo timedatectl set-ntp true`; the clinic network must "
        "allow NTP (UDP 123) or configure a local NTP server"
    )
    if now < SANE_AFTER:
        return Check("clock", "FAIL", f"clock reads {shown}: it was never set", fix)
    if state is None:
        return Check("clock", "WARN", f"{shown}; synchronisation state unknown", fix)
    if not state:
        return Check("clock", "WARN", f"{shown}; NOT synchronised", fix)
    return Check("clock", "PASS", f"{shown}, synchronised")


def check(ctx: Context) -> list[Check]:
    """Registry entry."""
    return [check_clock()]

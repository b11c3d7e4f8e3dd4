"""Is the system clock synchronised? The kernel's NTP state, read with ``adjtimex(2)``.

An NTP client (systemd-timesyncd, chrony, ntpd) that has synchronised the clock clears the kernel's
``STA_UNSYNC`` bit and keeps ``maxerror`` below 16 s; a clock set by hand (``date -s``) or never
disciplined has the bit set. systemd-timesyncd also touches ``/run/systemd/timesync/synchronized``
when it synchronises. Whether an NTP client runs at all tells "not yet synchronised" (wait for it:
the clock may be days off after a boot without a clock battery) from "nothing will synchronise it"
(a box without NTP, a container: take the clock as it is).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
from collections.abc import Sequence
from pathlib import Path

from agent.flow.clock import ClockState

log = logging.getLogger(__name__)

STA_UNSYNC = 0x0040
MAXERROR_UNSYNC_US = 16_000_000
"""The kernel's NTP_PHASE_LIMIT: a ``maxerror`` this large means "not synchronised"."""
TIMESYNCD_SYNCHRONIZED = Path("/run/systemd/timesync/synchronized")
NTP_CLIENT_MARKS: Sequence[Path] = (
    Path("/run/systemd/timesync"),  # systemd-timesyncd runs (its state directory)
    Path("/run/chrony"),
    Path("/run/chronyd.pid"),
    Path("/run/ntpd.pid"),
    Path("/var/run/ntpd.pid"),
)


class _Timex(ctypes.Structure):
    """``struct timex`` (Linux, glibc; the trailing padding keeps the kernel's full size)."""

    _fields_ = [
        ("modes", ctypes.c_uint),
        ("offset", ctypes.c_long),
        ("freq", ctypes.c_long),
        ("maxerror", ctypes.c_long),
        ("esterror", ctypes.c_long),
        ("status", ctypes.c_int),
        ("constant", ctypes.c_long),
        ("precision", ctypes.c_long),
        ("tolerance", ctypes.c_long),
        ("time_sec", ctypes.c_long),
        ("time_usec", ctypes.c_long),
        ("tick", ctypes.c_long),
        ("ppsfreq", ctypes.c_long),
        ("jitter", ctypes.c_long),
        ("shift", ctypes.c_int),
        ("stabil", ctypes.c_long),
        ("jitcnt", ctypes.c_long),
        ("calcnt", ctypes.c_long),
        ("errcnt", ctypes.c_long),
        ("stbcnt", ctypes.c_long),
        ("tai", ctypes.c_int),
        ("_padding", ctypes.c_int * 11),
    ]


def kernel_synced() -> bool | None:
    """The kernel's view (``adjtimex`` with no modes: read only); None when it cannot be asked."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)
        adjtimex = libc.adjtimex
    except (OSError, AttributeError):
        return None
    tx = _Timex()
    if adjtimex(ctypes.byref(tx)) < 0:
        return None
    return not (tx.status & STA_UNSYNC) and tx.maxerror < MAXERROR_UNSYNC_US


class ClockSync:
    """The system clock's state, asked on each call (one system call; the paths are injectable)."""

    def __init__(
        self,
        synchronized_file: Path = TIMESYNCD_SYNCHRONIZED,
        client_marks: Sequence[Path] = NTP_CLIENT_MARKS,
    ) -> None:
        self.synchronized_file = synchronized_file
        self.client_marks = tuple(client_marks)

    def __call__(self) -> ClockState:
        kernel = kernel_synced()
        if kernel:
            return "synced"
        if kernel is None and self.synchronized_file.exists():
            return "synced"
        if any(p.exists() for p in self.client_marks):
            return "unsynced"
        return "free"

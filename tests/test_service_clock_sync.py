"""Tests of agent.service.clock_sync: is the system clock synchronised?

:func:`kernel_synced` asks this machine's kernel for real (``adjtimex`` read-only); its answer is
checked against glibc's ``ntp_gettimex``, and the ``struct timex`` it reads against the clock and
the kernel's tick, so a wrong structure layout fails here. :class:`ClockSync` is exercised with
real marker files in a temporary directory: against the real kernel (whatever its state here), and
for the three answers the kernel can give (synced, unsynced, cannot be asked) with the kernel's
answer stood in for, since putting the real kernel in those states would need ``CAP_SYS_TIME`` and
would change the host's clock discipline.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import time
from pathlib import Path

import pytest

from agent.service import clock_sync
from agent.service.clock_sync import (
    MAXERROR_UNSYNC_US,
    NTP_CLIENT_MARKS,
    STA_UNSYNC,
    TIMESYNCD_SYNCHRONIZED,
    ClockSync,
    _Timex,
    kernel_synced,
)

TIME_ERROR = 5
"""ntp_gettimex's answer for an unsynchronised clock (the kernel's clock state)."""

STA_NANO = 0x2000
"""The kernel's status bit for "time_usec holds nanoseconds" (an NTP client may set it)."""


class NtpTimeval(ctypes.Structure):
    """glibc's ``struct ntptimeval`` (``ntp_gettimex``)."""

    _fields_ = [
        ("sec", ctypes.c_long),
        ("usec", ctypes.c_long),
        ("maxerror", ctypes.c_long),
        ("esterror", ctypes.c_long),
        ("tai", ctypes.c_long),
        ("_reserved", ctypes.c_long * 4),
    ]


def libc() -> ctypes.CDLL:
    return ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)


def test_the_kernel_answers_as_glibcs_ntp_gettimex_does() -> None:
    ntv = NtpTimeval()
    state = libc().ntp_gettimex(ctypes.byref(ntv))
    assert state >= 0
    expected = state != TIME_ERROR and ntv.maxerror < MAXERROR_UNSYNC_US
    assert kernel_synced() is expected


def test_the_timex_structure_reads_the_kernels_values() -> None:
    tx = _Timex()
    assert libc().adjtimex(ctypes.byref(tx)) >= 0
    assert tx.modes == 0  # read only: nothing was asked to change
    fraction = tx.time_usec / (1e9 if tx.status & STA_NANO else 1e6)
    assert 0 <= fraction < 1
    assert abs(tx.time_sec + fraction - time.time()) < 5
    assert tx.tick * os.sysconf("SC_CLK_TCK") == 1_000_000
    assert 0 <= tx.maxerror <= MAXERROR_UNSYNC_US
    assert kernel_synced() is (not tx.status & STA_UNSYNC and tx.maxerror < MAXERROR_UNSYNC_US)


def test_the_defaults_are_timesyncds_file_and_the_known_ntp_clients() -> None:
    sync = ClockSync()
    assert (
        sync.synchronized_file
        == TIMESYNCD_SYNCHRONIZED
        == Path("/run/systemd/timesync/synchronized")
    )
    assert sync.client_marks == tuple(NTP_CLIENT_MARKS)
    assert Path("/run/chrony") in sync.client_marks
    assert Path("/run/ntpd.pid") in sync.client_marks


def test_on_this_machine_the_state_follows_the_kernel_and_the_marks(tmp_path: Path) -> None:
    marks = [tmp_path / "chrony", tmp_path / "ntpd.pid"]
    synchronized = tmp_path / "synchronized"
    sync = ClockSync(synchronized, marks)
    kernel = kernel_synced()
    first = sync()
    marks[1].write_text("123\n")
    synchronized.touch()
    second = sync()  # asked again on each call
    if kernel:
        assert (first, second) == ("synced", "synced")
    elif kernel is None:
        assert (first, second) == ("free", "synced")
    else:
        assert (first, second) == ("free", "unsynced")


@pytest.fixture
def kernel(monkeypatch: pytest.MonkeyPatch) -> list[bool | None]:
    """The kernel's answer, as the test sets it (see the module docstring)."""
    answer: list[bool | None] = [None]
    monkeypatch.setattr(clock_sync, "kernel_synced", lambda: answer[0])
    return answer


@pytest.mark.parametrize(
    ("answer", "synchronized", "client", "state"),
    [
        (True, False, False, "synced"),  # NTP disciplined it: no file needed
        (True, False, True, "synced"),
        (False, False, True, "unsynced"),  # a client runs: wait for it
        (False, True, True, "unsynced"),  # the kernel's no outweighs timesyncd's stale file
        (False, False, False, "free"),  # nothing will synchronise it: take it as it is
        (False, True, False, "free"),
        (None, True, False, "synced"),  # the kernel cannot be asked: timesyncd's file decides
        (None, False, True, "unsynced"),
        (None, False, False, "free"),
    ],
)
def test_the_state_for_each_kernel_answer(
    tmp_path: Path,
    kernel: list[bool | None],
    answer: bool | None,
    synchronized: bool,
    client: bool,
    state: str,
) -> None:
    kernel[0] = answer
    marks = [tmp_path / "timesync", tmp_path / "chrony", tmp_path / "ntpd.pid"]
    if synchronized:
        (tmp_path / "synchronized").touch()
    if client:
        marks[1].mkdir()  # a directory is a mark as much as a pid file
    assert ClockSync(tmp_path / "synchronized", marks)() == state


def test_a_client_that_appears_later_is_seen(tmp_path: Path, kernel: list[bool | None]) -> None:
    kernel[0] = False
    mark = tmp_path / "chronyd.pid"
    sync = ClockSync(tmp_path / "synchronized", [mark])
    assert sync() == "free"
    mark.write_text("42\n")
    assert sync() == "unsynced"
    kernel[0] = True
    assert sync() == "synced"
    mark.unlink()
    kernel[0] = False
    assert sync() == "free"

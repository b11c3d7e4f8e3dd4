"""Storage faults of the outbox: disk full, read-only, I/O errors, damaged files at start, the
sequence mark.

Real faults only: a real tmpfs filled to the last byte, a database opened read-only by SQLite, a
real ext4 file system that the kernel remounts read-only after an error or that stops answering
(EIO) while the outbox is open on it, files damaged the way an SD card or a careless technician
damages them (garbage header, truncation, a directory in the file's place, an empty file, a
deleted file).
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from agent.wire import outbox_faults as outbox_module
from agent.wire.contract import WireMessage
from agent.wire.outbox import Outbox, StorageError
from agent.wire.storage import SEQ_BLOCK, Sidecar
from tests.conftest import FaultyFs, fill


def msg(seq: int) -> WireMessage:
    return WireMessage(f"t/{seq}", b"x" * 300, retain=False)


def filled_outbox(path: Path, n: int = 50) -> list[int]:
    box = Outbox(path)
    seqs = [box.append(msg) for _ in range(n)]
    box.close()
    return seqs


def test_disk_full_is_survived_named_and_recovered(
    tmp_path: Path, small_fs: Callable[[str], Path]
) -> None:
    fs = small_fs("2m")
    box = Outbox(fs / "o.sqlite3")
    before = [box.append(msg) for _ in range(20)]
    filler = fill(fs)
    failure: StorageError | None = None
    for _ in range(200):  # the WAL may still hold a few free pages
        try:
            box.append(msg)
        except StorageError as exc:
            failure = exc
            break
    assert failure is not None, "200 appends on a full file system all succeeded"
    assert failure.cause == "disk full"
    assert "cannot rollback" not in str(failure)
    assert box.fault == "disk full"
    box.ack(before[0])  # a delete on a full disk must not raise
    reserved = box.reserve_seq()  # nor a sequence number for a direct message
    assert box.depth() >= 19  # figures still answer
    filler.unlink()
    deadline = time.monotonic() + 5
    while box.fault is not None and time.monotonic() < deadline:
        box.retry()
        time.sleep(0.1)
    assert box.fault is None, "did not resume within 5 s of space coming back"
    after = box.append(msg)
    assert after > reserved  # never a number handed out twice
    seqs = [m.seq for m in box.peek(limit=10_000)]
    assert before[0] not in seqs  # the failed delete was retried
    assert len(seqs) == len(set(seqs))
    box.close()


@pytest.mark.parametrize("damage", ["garbage header", "truncated", "directory"])
def test_damaged_outbox_is_moved_aside_and_the_sequence_continues(
    tmp_path: Path, damage: str
) -> None:
    path = tmp_path / "o.sqlite3"
    seqs = filled_outbox(path, 1200)
    if damage == "garbage header":
        with path.open("r+b") as f:
            f.write(b"not a database! " * 8)
    elif damage == "truncated":
        os.truncate(path, path.stat().st_size // 2)
    else:
        path.unlink()
        path.mkdir()
        (path / "something").write_text("x")
    box = Outbox(path)
    aside = sorted(tmp_path.glob("o.sqlite3.corrupt-*"))
    assert len(aside) == 1, "the damaged file is kept for forensics"
    assert box.resets == 1
    assert len(box.notices) == 1
    assert "moved aside" in box.notices[0]
    assert str(aside[0]) in box.notices[0]
    first = box.append(msg)
    assert seqs[-1] < first <= seqs[-1] + SEQ_BLOCK + 1
    box.close()
    again = Outbox(path)  # the fresh one is now the normal outbox: nothing more to report
    assert again.notices == []
    assert again.resets == 1
    again.close()


@pytest.mark.parametrize("how", ["empty", "missing"])
def test_empty_or_missing_outbox_where_one_existed_is_reported(tmp_path: Path, how: str) -> None:
    path = tmp_path / "o.sqlite3"
    seqs = filled_outbox(path, 10)
    for extra in (path, path.with_name("o.sqlite3-wal"), path.with_name("o.sqlite3-shm")):
        extra.unlink(missing_ok=True)
    if how == "empty":
        path.write_bytes(b"")
    box = Outbox(path)
    assert box.resets == 1
    assert how in box.notices[0]
    assert box.append(msg) > seqs[-1]
    box.close()


def test_first_start_reports_nothing(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "o.sqlite3")
    assert box.notices == []
    assert box.resets == 0
    assert box.append(msg) == 1
    box.close()


def test_unopenable_outbox_starts_faulted_naming_the_cause_and_opens_later(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """The runtime fault state from the start: cause and advice named once, writes refused,
    numbers from memory, nothing read; :meth:`retry` opens it once the path is usable."""
    monkeypatch.setattr(outbox_module, "RETRY_EVERY_S", 0.0)
    blocker = tmp_path / "file"
    blocker.write_text("")
    box = Outbox(blocker / "o.sqlite3")
    assert box.fault == "cannot open"
    assert "check outbox.path" in (box.advice or "")
    assert append_fails(box).cause == "cannot open"
    assert [box.reserve_seq(), box.reserve_seq()] == [1, 2]
    assert box.peek() == []
    assert box.depth() == 0
    assert box.state.load("summary") is None
    assert not box.state.save({"summary": "{}"})
    box.ack_many([1])  # never raises
    box.retry()
    assert box.fault == "cannot open"
    errors = outbox_errors(caplog)
    assert len(errors) == 2, errors  # the fault once, the unreadable saved state once
    assert str(blocker / "o.sqlite3") in errors[0]
    assert "cannot open" in errors[0]
    assert "check outbox.path" in errors[0]
    blocker.unlink()
    blocker.mkdir()
    box.retry()
    assert box.fault is None
    assert box.append(msg) == 3  # above the numbers handed out while it was not open
    assert [m.seq for m in box.peek()] == [3]
    box.close()
    assert Outbox(blocker / "o.sqlite3").last_seq() == 3


def test_disk_full_at_start_leaves_nothing_behind_and_opens_once_space_is_freed(
    small_fs: Callable[[str], Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Full to the last byte before the first start: no half-created file (the next attempt
    would report it as an outbox found empty), and the outbox is created once space is back."""
    monkeypatch.setattr(outbox_module, "RETRY_EVERY_S", 0.0)
    fs = small_fs("1m")
    filler = fill(fs)
    box = Outbox(fs / "o.sqlite3")
    assert box.fault == "disk full"
    assert append_fails(box).cause == "disk full"
    direct = box.reserve_seq()
    for _ in range(3):
        box.retry()
    assert box.fault == "disk full"
    assert not (fs / "o.sqlite3").exists()
    filler.unlink()
    box.retry()
    assert box.fault is None
    assert box.append(msg) == direct + 1
    assert box.notices == []
    assert box.resets == 0
    box.close()


PERMISSION_PROBE = """
import os, pwd, sys
from pathlib import Path
from agent.wire.outbox import Outbox
# Imported as root, then run as 'nobody': the checkout may be in a folder only its owner enters.
nobody = pwd.getpwnam("nobody")
os.setgroups([])
os.setgid(nobody.pw_gid)
os.setuid(nobody.pw_uid)
box = Outbox(Path(sys.argv[1]))
print(box.fault, "|", box.advice)
"""


@pytest.mark.parametrize("owned_by_root", ["folder", "file"])
def test_outbox_of_another_user_is_named_permission_denied_at_start(
    tmp_path: Path, owned_by_root: str
) -> None:
    """A state directory or outbox file left to root (a command run with sudo): named
    ``permission denied`` with the chown to run, never ``read-only`` (whose advice is fsck)."""
    if os.geteuid() != 0:
        pytest.skip("needs root to run the outbox as another user")
    tmp_path.chmod(0o755)
    folder = tmp_path / "state"
    folder.mkdir(mode=0o777 if owned_by_root == "file" else 0o755)
    folder.chmod(0o777 if owned_by_root == "file" else 0o755)
    filled_outbox(folder / "o.sqlite3", 1)
    (folder / "o.sqlite3").chmod(0o644)
    done = subprocess.run(
        [sys.executable, "-c", PERMISSION_PROBE, str(folder / "o.sqlite3")],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=Path(__file__).parent.parent,
    )
    fault, _, advice = done.stdout.partition(" | ")
    assert fault == "permission denied", done.stdout + done.stderr
    assert "chown" in advice
    assert "Traceback" not in done.stderr


def test_read_only_at_start_continues_above_the_mark_and_keeps_what_waited(
    small_fs: Callable[[str], Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """An outbox with unsent messages on a file system read-only at start: numbers handed out
    meanwhile come from above the sidecar's mark; once writable, the same file is opened (its
    messages kept, in order) and the sequence goes on above both."""
    monkeypatch.setattr(outbox_module, "RETRY_EVERY_S", 0.0)
    fs = small_fs("2m")
    waiting = filled_outbox(fs / "o.sqlite3", 5)
    subprocess.run(["mount", "-o", "remount,ro", str(fs)], check=True)
    box = Outbox(fs / "o.sqlite3")
    assert box.fault == "read-only"
    direct = box.reserve_seq()
    assert direct > max(waiting)
    assert direct > Sidecar.beside(fs / "o.sqlite3").seq
    subprocess.run(["mount", "-o", "remount,rw", str(fs)], check=True)
    box.retry()
    assert box.fault is None
    assert [m.seq for m in box.peek()] == waiting
    assert box.append(msg) == direct + 1
    assert box.notices == []
    box.close()


def append_fails(box: Outbox) -> StorageError:
    try:
        box.append(msg)
    except StorageError as exc:
        return exc
    raise AssertionError("append succeeded on a faulty file system")


def outbox_errors(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.name == "agent.wire.outbox" and r.levelno >= logging.WARNING
    ]


def test_read_only_remount_while_open_is_named_read_only_and_survived(
    faulty_fs: Callable[[], FaultyFs],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """ext4 remounted read-only by the kernel (errors=remount-ro) under an open outbox: SQLite
    says 'disk I/O error' (SQLITE_IOERR_WRITE); the cause reported is the real one, ``read-only``,
    once, and retries neither clear it falsely nor log again."""
    monkeypatch.setattr(outbox_module, "RETRY_EVERY_S", 0.0)
    fs = faulty_fs()
    box = Outbox(fs.point / "o.sqlite3")
    stored = [box.append(msg) for _ in range(5)]
    fs.go_read_only()
    assert "emergency_ro" in fs.options() or ",ro" in fs.options()
    caplog.set_level(logging.DEBUG, logger="agent.wire.outbox")

    assert append_fails(box).cause == "read-only"
    assert box.fault == "read-only"
    assert [m.seq for m in box.peek()] == stored  # what was stored is still sent
    box.ack(stored[0])  # never raises; remembered, not peeked again
    assert [m.seq for m in box.peek()] == stored[1:]
    assert box.reserve_seq() == stored[-1] + 1  # from memory
    for _ in range(5):
        box.retry()
        assert box.fault == "read-only"
        assert append_fails(box).cause == "read-only"
    assert box.advice is not None
    assert "read-only" in box.advice
    errors = outbox_errors(caplog)
    assert len(errors) == 1, errors
    assert "read-only" in errors[0]
    box.close()


def test_io_error_while_open_is_named_io_error_never_corrupt(
    faulty_fs: Callable[[], FaultyFs],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A device that stops answering (ext4 shut down: EIO) under an open outbox: SQLite says
    'database disk image is malformed' (SQLITE_CORRUPT) on the next read or insert. Reported as
    ``I/O error``, and never taken for a damaged file (no move aside, no fresh outbox)."""
    monkeypatch.setattr(outbox_module, "RETRY_EVERY_S", 0.0)
    fs = faulty_fs()
    box = Outbox(fs.point / "o.sqlite3")
    for _ in range(5):
        box.append(msg)
    assert box.depth() == 5
    fs.fail_io()
    caplog.set_level(logging.DEBUG, logger="agent.wire.outbox")

    assert append_fails(box).cause == "I/O error"
    for _ in range(5):
        box.peek()
        box.retry()
        assert box.fault == "I/O error"
        assert append_fails(box).cause == "I/O error"
    assert box.depth() == 5  # the last figures read, not a failure
    assert box.resets == 0
    assert box.notices == []
    errors = outbox_errors(caplog)
    assert len(errors) == 1, errors
    assert "I/O error" in errors[0]
    assert not any("corrupt" in e or "moved aside" in e for e in errors)
    box.close()  # never raises


def test_outbox_on_an_emergency_read_only_file_system_names_it_at_start(
    faulty_fs: Callable[[], FaultyFs],
) -> None:
    """After the kernel's error remount the mount flags still say ``rw`` (statvfs has no
    ST_RDONLY): the probe write names it."""
    fs = faulty_fs()
    box = Outbox(fs.point / "o.sqlite3")
    box.append(msg)
    box.close()
    fs.go_read_only()
    assert not os.statvfs(fs.point).f_flag & os.ST_RDONLY
    assert Outbox(fs.point / "fresh" / "o.sqlite3").fault == "read-only"
    box = Outbox(fs.point / "o.sqlite3")
    assert box.fault == "read-only"
    assert "read-only" in (box.advice or "")

"""Storage faults of the outbox: disk full, read-only, damaged files at start, the sequence mark.

Real faults only: a real tmpfs filled to the last byte, a database opened read-only by SQLite, files
damaged the way an SD card or a careless technician damages them (garbage header, truncation, a
directory in the file's place, an empty file, a deleted file).
"""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from agent.wire.contract import WireMessage
from agent.wire.outbox import Outbox, OutboxError, StorageError
from agent.wire.storage import SEQ_BLOCK, Sidecar, cause_of
from tests.conftest import fill


def msg(seq: int) -> WireMessage:
    return WireMessage(f"t/{seq}", b"x" * 300, retain=False)


def filled_outbox(path: Path, n: int = 50) -> list[int]:
    box = Outbox(path)
    seqs = [box.append(msg) for _ in range(n)]
    box.close()
    return seqs


def test_read_only_database_is_named_read_only(tmp_path: Path) -> None:
    filled_outbox(tmp_path / "o.sqlite3", 1)
    db = sqlite3.connect(f"file:{tmp_path / 'o.sqlite3'}?mode=ro", uri=True)
    with pytest.raises(sqlite3.Error) as err:
        db.execute("DELETE FROM messages")
    assert cause_of(err.value) == "read-only"


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


def test_sidecar_is_written_once_per_block_and_atomically(tmp_path: Path) -> None:
    path = tmp_path / "o.sqlite3"
    box = Outbox(path)
    box.append(msg)
    mark = Sidecar.beside(path)
    assert mark.seq == 1 + SEQ_BLOCK
    stamp = mark.path.stat().st_mtime_ns
    for _ in range(20):
        box.append(msg)
    assert mark.path.stat().st_mtime_ns == stamp
    assert not mark.path.with_name(mark.path.name + ".tmp").exists()
    box.close()


def test_unopenable_outbox_names_the_cause(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(OutboxError) as err:
        Outbox(blocker / "o.sqlite3")
    assert err.value.cause == "cannot open"
    assert "check outbox.path" in str(err.value)

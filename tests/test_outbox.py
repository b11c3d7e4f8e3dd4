"""The durable outbox: sequence numbers, ordering, acknowledgement, and crash survival (its bounds:
tests/test_outbox_bounds.py; its file: tests/test_outbox_file.py)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from agent.wire.contract import WireMessage
from agent.wire.outbox import Outbox, StorageError


def msg(seq: int) -> WireMessage:
    return WireMessage(f"t/{seq}", f'{{"seq":{seq}}}'.encode(), retain=False)


def test_sequence_is_monotonic_and_survives_reopen(tmp_path: Path) -> None:
    path = tmp_path / "o.sqlite3"
    box = Outbox(path)
    assert [box.append(msg) for _ in range(3)] == [1, 2, 3]
    assert box.reserve_seq() == 4
    box.close()
    box = Outbox(path)
    assert box.append(msg) == 5
    assert [m.seq for m in box.peek(limit=10)] == [1, 2, 3, 5]
    assert box.peek(limit=10)[0].message == msg(1)


def test_wait_never_misses_an_append_made_after_the_mark(tmp_path: Path) -> None:
    """The drain reads the mark, peeks (nothing), then waits: an append between the peek and the
    wait must end the wait at once, not after the timeout (a fever result would sit there)."""
    box = Outbox(tmp_path / "outbox.db")
    mark = box.changes
    assert box.peek(after=0, limit=10) == []
    box.append(msg)  # lands between the peek and the wait
    started = time.monotonic()
    box.wait(30.0, since=mark)
    assert time.monotonic() - started < 5.0
    assert box.changes == mark + 1
    # with nothing new since the mark, the wait lasts its timeout
    started = time.monotonic()
    box.wait(0.3, since=box.changes)
    assert time.monotonic() - started >= 0.3


def test_ack_deletes_only_that_message(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "o.sqlite3")
    for _ in range(5):
        box.append(msg)
    box.ack(2)
    assert [m.seq for m in box.peek()] == [1, 3, 4, 5]
    assert [m.seq for m in box.peek(after=3, limit=1)] == [4]
    assert box.depth() == 4


def test_ack_many_deletes_a_batch_in_one_go_and_survives_reopen(tmp_path: Path) -> None:
    path = tmp_path / "o.sqlite3"
    box = Outbox(path)
    for _ in range(6):
        box.append(msg)
    box.ack_many([1, 3, 5, 99])  # an unknown seq (already deleted) is harmless
    box.ack_many([])
    box.close()
    box = Outbox(path)
    assert [m.seq for m in box.peek()] == [2, 4, 6]


def test_failed_encode_stores_nothing_and_keeps_the_sequence(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "o.sqlite3")

    def boom(seq: int) -> WireMessage:
        raise ValueError("bad event")

    with pytest.raises(ValueError, match="bad event"):
        box.append(boom)
    assert box.depth() == 0
    assert box.append(msg) == 1


def test_unwritable_location_is_a_clear_fault(tmp_path: Path) -> None:
    """A folder that cannot be created does not raise: the outbox starts faulted, naming it."""
    blocker = tmp_path / "file"
    blocker.write_text("")
    box = Outbox(blocker / "sub" / "o.sqlite3")
    assert box.fault == "cannot open"
    assert "outbox.path" in (box.advice or "")
    with pytest.raises(StorageError):
        box.append(msg)
    box.close()


def test_killed_writer_loses_nothing_it_committed(tmp_path: Path) -> None:
    """SIGKILL a process mid-stream: every append it reported is still there, in order."""
    path = tmp_path / "o.sqlite3"
    script = textwrap.dedent(
        f"""
        import sys
        from agent.wire.outbox import Outbox
        from agent.wire.contract import WireMessage
        box = Outbox(__import__("pathlib").Path({str(path)!r}))
        while True:
            seq = box.append(lambda s: WireMessage("t", str(s).encode(), False))
            print(seq, flush=True)
        """
    )
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    reported = [int(proc.stdout.readline()) for _ in range(200)]
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    box = Outbox(path)
    stored = [m.seq for m in box.peek(limit=100_000)]
    assert stored[: len(reported)] == reported
    assert stored == sorted(stored)
    assert box.append(msg) == stored[-1] + 1

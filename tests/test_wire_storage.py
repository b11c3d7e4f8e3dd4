"""Storage faults named and marked (agent/wire/storage.py): a read-only database named
``read-only`` from SQLite's result code, and the sequence mark (the sidecar) written once per block,
atomically. The faults survived by the outbox: tests/test_outbox_faults.py.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from agent.wire.outbox import Outbox
from agent.wire.storage import SEQ_BLOCK, Sidecar, cause_of
from tests.test_outbox_faults import filled_outbox, msg


def test_read_only_database_is_named_read_only(tmp_path: Path) -> None:
    filled_outbox(tmp_path / "o.sqlite3", 1)
    db = sqlite3.connect(f"file:{tmp_path / 'o.sqlite3'}?mode=ro", uri=True)
    with pytest.raises(sqlite3.Error) as err:
        db.execute("DELETE FROM messages")
    assert cause_of(err.value) == "read-only"


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

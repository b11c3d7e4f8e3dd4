"""The outbox's SQLite file (agent/wire/outbox_file.py): the read-only look at it (``Outbox.inspect``)
never creates the file nor changes a byte of it.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.wire.contract import WireMessage
from agent.wire.outbox import Outbox, OutboxError


def test_inspect_is_read_only(tmp_path: Path) -> None:
    path = tmp_path / "box.sqlite3"
    with pytest.raises(OutboxError):
        Outbox.inspect(path)  # never creates the file
    assert not path.exists()
    box = Outbox(path, max_messages=2)
    for i in range(3):
        box.append(lambda seq: WireMessage("t/x", b"{}", False), now=1000.0 + i)
    box.close()
    before = path.read_bytes()
    state = Outbox.inspect(path)
    assert (state.depth, state.oldest_created, state.evicted) == (2, 1001.0, 1)
    assert path.read_bytes() == before

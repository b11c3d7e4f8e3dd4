"""The outbox's bounds (agent/wire/outbox_bounds.py): the oldest messages evicted beyond
``max_messages`` or ``max_age_s`` (on the monotonic clock), and counted, also across a reopen.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.wire.outbox import Outbox
from tests.test_outbox import msg


def test_count_bound_evicts_oldest_and_counts(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "o.sqlite3", max_messages=100)
    for _ in range(130):
        box.append(msg)
    assert box.depth() == 100
    assert box.peek(limit=1)[0].seq == 31
    assert box.evicted() == 30


def test_age_bound_evicts_expired(tmp_path: Path) -> None:
    mono = [1000.0]
    box = Outbox(tmp_path / "o.sqlite3", max_age_s=60, mono=lambda: mono[0], boot="b")
    box.append(msg)
    mono[0] = 1050.0
    box.append(msg)
    mono[0] = 1055.0
    assert box.oldest_age_s() == pytest.approx(55.0)
    mono[0] = 1070.0
    box.evict_expired()
    assert [m.seq for m in box.peek()] == [2]
    assert box.evicted() == 1
    box.close()
    assert Outbox(tmp_path / "o.sqlite3").evicted() == 1

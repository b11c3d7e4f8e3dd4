"""The engine of the one flow (agent/flow/engine.py), driven through the service's pipeline: a full
queue drops and counts what the sources offer beyond it instead of blocking them. The main loop as a
whole: tests/test_pipeline.py.
"""

from __future__ import annotations

from pathlib import Path

from agent.flow.engine import QUEUE_SIZE
from tests.test_pipeline import make_pipeline


def test_full_queue_drops_and_counts_instead_of_blocking(tmp_path: Path) -> None:
    p, src = make_pipeline(tmp_path)
    p.start()
    assert src.emit is not None
    for _ in range(QUEUE_SIZE + 10):
        src.emit(36.6)
    assert p.dropped == 10

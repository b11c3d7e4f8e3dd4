"""tools/report_scale.py on a small store: it fills PostgreSQL and times every report."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.conftest import REPO


@pytest.mark.slow
def test_report_scale_times_every_report() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "tools.report_scale", "--events", "4000"],
        cwd=REPO, capture_output=True, text=True, timeout=300, check=True,
    ).stdout  # fmt: skip
    assert "stored 4000 events from 2000 desks" in out
    for name in ("weekly report", "daily notification, all desks", "one clinic", "fleet page"):
        assert name in out

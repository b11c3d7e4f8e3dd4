"""`make run`'s runner: private broker, simulated sources, live event view, clean stop."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO


@pytest.mark.broker
@pytest.mark.slow
def test_make_run_shows_live_events_and_stops_cleanly(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "tools.devrun", "--duration", "20", "--run-dir", str(tmp_path)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    out = proc.stdout
    assert proc.returncode == 0, out + proc.stderr + (tmp_path / "agent.log").read_text()
    kinds = re.findall(r"#\d+\s+(\w+)\s", out)
    assert kinds[0] == "status"
    assert 'state="online"' in out.splitlines()[2]
    assert "temperature" in kinds  # the simulated thermometer, through the serial path
    assert "health" in kinds
    assert kinds[-1] == "status"
    assert 'state="stopping"' in out  # the clean stop begins...
    assert 'state="offline" reason="stopped"' in out.splitlines()[-1]  # ...and ends
    sizes = [int(n) for n in re.findall(r"\((\d+) B\)", out)]
    assert sizes
    assert max(sizes) <= 512

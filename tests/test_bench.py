"""The benchmark runner (`make bench`): a short real run writes every documented key."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bench import traffic
from bench.__main__ import FIGURES
from tests.conftest import REPO

DOCUMENTED = (REPO / "docs" / "PERFORMANCE.md").read_text()


@pytest.mark.broker
@pytest.mark.slow
def test_smoke_run_writes_every_key_with_the_outbox_replay_measured(tmp_path: Path) -> None:
    out = tmp_path / "results.json"
    env = {**os.environ, "BENCH_OUTBOX_BACKLOG": "500"}
    cmd = [sys.executable, "-m", "bench", "--smoke", "--out", str(out), "bench_outbox"]
    done = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    doc = json.loads(out.read_text())
    assert doc["smoke"] is True
    assert set(doc["figures"]) == set(FIGURES)
    replay = doc["figures"]["outbox.replay_10k_s"]
    assert isinstance(replay["ours"], float)
    assert replay["ours"] > 0
    assert replay["target"] == "<= 10"
    assert doc["benches"]["bench_outbox"]["replay_left"] == 0
    assert doc["figures"]["vision.fps_1core"]["ours"] is None  # not run: present, empty
    assert "outbox.replay_10k_s" in done.stdout  # the table


def test_every_key_is_documented() -> None:
    missing = [key for key in FIGURES if f"`{key}`" not in DOCUMENTED]
    assert not missing


def test_traffic_day_counts_and_ratio() -> None:
    counts = traffic.day_counts()
    assert counts["temperature"] == traffic.OPEN_HOURS * traffic.PEOPLE_PER_HOUR
    assert counts["health"] == 24 * 60
    sizes = dict.fromkeys(counts, 300.0)
    day = traffic.day_bytes(sizes)
    per = traffic.per_message(300.0)
    expected = sum(counts.values()) * per + 24 * 60 * traffic.PING
    assert day["bytes_per_day"] == round(expected)
    assert day["ratio_vs_h264"] == pytest.approx(expected / 24 / 450_000_000)
    assert traffic.day_bytes(sizes, tls=True)["bytes_per_day"] > day["bytes_per_day"]
    with pytest.raises(ValueError, match="health"):
        traffic.day_bytes({k: v for k, v in sizes.items() if k != "health"})

"""`make central`'s runner: agent, collector and dashboard together; the chain works end to end."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from sqlalchemy import select

from central.store.db import make_engine
from central.store.tables import events
from tests.conftest import REPO


@pytest.mark.broker
@pytest.mark.slow
def test_make_central_runs_the_whole_chain_and_prints_the_dashboard(tmp_path: Path) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "tools.centralrun", "--run-dir", str(tmp_path)],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()
        if not first.startswith("dashboard   http://127.0.0.1:"):
            proc.wait(timeout=60)
            logs = {p.name: p.read_text()[-2000:] for p in sorted(tmp_path.glob("*.log"))}
            pytest.fail(f"{first.strip()}\n" + "\n".join(f"== {n}\n{t}" for n, t in logs.items()))
        url = first.split()[1]
        page = ""
        deadline = time.monotonic() + 60  # the agent loads its models first
        while "demo-clinic" not in page and time.monotonic() < deadline:
            with urllib.request.urlopen(url) as resp:
                page = resp.read().decode()
            time.sleep(1)
        assert "Fleet at a glance" in page
        assert 'data-site="demo-clinic" data-desk="desk-1"' in page
        engine = make_engine(str(tmp_path / "central.sqlite3"))
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:  # the simulated thermometer's first screening
            with engine.connect() as conn:
                if conn.execute(select(events.c.pk).where(events.c.kind == "temperature")).first():
                    break
            time.sleep(0.5)
        proc.send_signal(signal.SIGINT)  # Ctrl-C
        rest, _ = proc.communicate(timeout=90)
    finally:
        if proc.poll() is None:  # a failed check above: stop the whole chain anyway
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(60)
            except subprocess.TimeoutExpired:
                proc.kill()
    assert proc.returncode == 0, rest + (tmp_path / "collector.log").read_text()
    with engine.connect() as conn:
        rows = conn.execute(
            select(events.c.kind, events.c.state, events.c.payload).order_by(events.c.pk)
        ).all()
    kinds = [k for k, _, _ in rows]
    assert ("status", "online") in [(k, s) for k, s, _ in rows]
    assert "temperature" in kinds
    # The agent stopped before the collector: its clean stop (stopping, then offline with reason
    # stopped) was stored last.
    statuses = [(s, json.loads(p).get("reason")) for k, s, p in rows if k == "status"]
    assert statuses[-2:] == [("stopping", None), ("offline", "stopped")]
    assert rows[-1][0] == "status"

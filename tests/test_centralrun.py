"""`make central`'s runner: agent, collector and dashboard together; the chain works end to end."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
import urllib.request
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import select

from central.loop import cases
from central.loop.kinds import kind_of
from central.report.kinds import CROWDING, NOT_WORKING, STAFF, UNMASKED
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
        assert "设备总览" in page  # the dashboard speaks zh_CN by default
        assert 'data-site="demo-clinic" data-desk="desk-1"' in page
        engine = make_engine(str(tmp_path / "central.sqlite3"))
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:  # the first screening and the first people counted
            with engine.connect() as conn:
                seen = {k for (k,) in conn.execute(select(events.c.kind).where(
                    events.c.desk == "desk-1", events.c.kind.in_(("temperature", "occupancy"))
                ).distinct())}  # fmt: skip
            if seen == {"temperature", "occupancy"}:
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
    # The live desk is a triage point: its people are counted in the staff and queue zones.
    live = [json.loads(p) for k, _, p in rows if k == "occupancy"]
    live = [o for o in live if o["device"] == "demo-clinic-desk-1"]
    assert live, kinds
    assert all(set(o["zones"]) == {"desk", "queue"} for o in live), live
    # The agent stopped before the collector: its clean stop (stopping, then offline with reason
    # stopped) was stored last.
    statuses = [(s, json.loads(p).get("reason")) for k, s, p in rows if k == "status"]
    assert statuses[-2:] == [("stopping", None), ("offline", "stopped")]
    assert rows[-1][0] == "status"


@pytest.mark.broker
@pytest.mark.slow
def test_make_central_shows_a_desk_day_its_notice_delivery_and_a_verified_case(
    tmp_path: Path,
) -> None:
    r = subprocess.run(
        [sys.executable, "-m", "tools.centralrun", "--run-dir", str(tmp_path), "--duration", "3",
         "--tz", "Asia/Shanghai"],
        cwd=REPO, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert r.returncode == 0, r.stdout + r.stderr + (tmp_path / "close-day.log").read_text()
    out = r.stdout
    assert "time zone   Asia/Shanghai" in out
    assert "CENTRAL_LANGUAGE=en" in out
    engine = make_engine(str(tmp_path / "central.sqlite3"))
    with engine.connect() as conn:
        rows = conn.execute(
            select(events.c.payload).where(events.c.desk == "desk-2", events.c.kind == "alert")
        ).all()
        screened = conn.execute(
            select(events.c.pk).where(events.c.desk == "desk-2", events.c.kind == "temperature")
        ).all()
        found = cases.list_cases(conn, sites=["demo-clinic"])
    raised = [json.loads(p)["alert"] for (p,) in rows if json.loads(p)["state"] == "raised"]
    # A believable day: one patient every few minutes, not a thousand.
    assert 60 <= len(screened) <= 160
    causes = Counter(
        json.loads(p).get("cause") for (p,) in rows if json.loads(p)["state"] == "raised"
    )
    assert causes == {None: 4, "no_mask": 2, "worn_wrong": 2}  # a mask worn wrong, through MQTT
    kinds = Counter(kind_of(a) for a in raised)
    assert set(kinds) == {NOT_WORKING, STAFF, CROWDING, UNMASKED}
    assert all(2 <= n <= 4 for n in kinds.values())
    # The notice issued, listing every kind; the group got its summary in WeCom format.
    notice_line = next(line for line in out.splitlines() if line.startswith("notices"))
    number = notice_line.split()[1]
    assert "issued for" in notice_line
    assert {c.kind for c in found} == {NOT_WORKING, STAFF, CROWDING, UNMASKED}
    hits = [json.loads(line) for line in (tmp_path / "receiver.jsonl").read_text().splitlines()]
    (hit,) = hits
    assert hit["body"]["msgtype"] == "markdown"
    assert f"通报 {number}" in hit["body"]["markdown"]["content"]
    # One case followed to verification, and the pages to open printed.
    verified = [c for c in found if c.state == "verified"]
    assert len(verified) == 1
    assert f"/case/{verified[0].id}" in out
    assert f"/notice/{number}" in out
    assert "/deliveries" in out

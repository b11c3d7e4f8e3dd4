"""The fault suite: the real ``triage-agent run`` process, a real mosquitto, real faults.

Each scenario counts what a QoS 1 subscriber received (:mod:`tests.reliability`) and prints one
``FIGURES`` line (run with ``-s`` to see it); docs/RELIABILITY.md quotes them. The short versions
run in CI; the long ones are marked ``reliability`` and run with ``make reliability``.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from agent.cli.status import render_status
from tests.broker import Broker, Collector, Received
from tests.conftest import (
    AgentProcess,
    FaultyFs,
    base_config,
    fill,
    validate_message,
    write_config,
)
from tests.reliability import (
    directly_published,
    outbox_delivery,
    stored_figures,
    tally,
    wait_status,
)
from tests.test_notify import Listener, Recorder

pytestmark = [pytest.mark.broker, pytest.mark.slow]

STREAM = {"enabled": True, "port": "simulated", "simulated_scenario": "queue"}


def live(c: Collector, kind: str) -> list[dict[str, Any]]:
    return [m.json() for m in c.messages if m.topic.endswith("/" + kind) and not m.retain]


def test_state_directory_full_keeps_sensing_reports_and_resumes(
    tmp_path: Path,
    small_fs: Callable[[str], Path],
    mosquitto: Broker,
    collector_factory: Callable[..., Collector],
    agent_process: Callable[..., AgentProcess],
) -> None:
    state = small_fs("4m")
    cfg = base_config(tmp_path, mosquitto.port, thermometer=STREAM)
    cfg["outbox"]["path"] = str(state / "outbox.sqlite3")
    cfg["runtime"]["state_dir"] = str(state)
    sock = Path(cfg["runtime"]["status_socket"])
    c = collector_factory(mosquitto.port, "triage/v1/#")
    conf = write_config(tmp_path / "agent.toml", cfg)
    agent = agent_process(conf)
    c.wait_for(lambda ms: len(live(c, "temperature")) >= 3, timeout=60)

    filler = fill(state)
    t_full = time.monotonic()
    snap = wait_status(sock, lambda s: s["outbox"]["storage"] == "disk full", timeout=30)
    assert snap["last_error"] == "outbox: disk full"
    direct = c.wait_for(
        lambda ms: any(
            m.topic.endswith("/health") and m.json().get("storage") == "disk full" for m in ms
        ),
        timeout=30,
    )
    for m in direct:
        validate_message(m)
    detected_s = time.monotonic() - t_full
    sensed_before = snap["sources"]["thermometer"]["state"]
    time.sleep(4)  # keep sensing on a full disk
    diag = subprocess.run(
        [sys.executable, "-m", "agent", "diag", "--json", "--no-broker", "--config", str(conf)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert '"outbox storage"' in diag.stdout, diag.stdout + diag.stderr
    assert "cannot write its outbox: disk full" in diag.stdout
    snap = fetch_status_ok(sock)
    assert agent.proc.poll() is None, agent.output()
    assert snap["outbox"]["kept_in_memory"] + snap["outbox"]["published_directly"] > 0
    shown = render_status(snap)  # what `triage-agent status` prints
    assert "storage      FAILING: disk full" in shown
    assert "last error   outbox: disk full" in shown
    assert sensed_before == snap["sources"]["thermometer"]["state"] == "ok"

    filler.unlink()
    t_free = time.monotonic()
    wait_status(sock, lambda s: s["outbox"]["storage"] is None, timeout=15)
    recovered_s = time.monotonic() - t_free
    c.wait_for(
        lambda ms: any(
            m.topic.endswith("/health")
            and not m.retain
            and "storage" not in m.json()
            and m.json()["seq"] > max(d["seq"] for d in live(c, "health") if "storage" in d)
            for m in ms
        ),
        timeout=30,
    )
    assert agent.stop() == 0, agent.output()
    out = agent.output()
    assert "disk full" in out
    assert "cannot rollback" not in out
    assert "Traceback" not in out
    t = tally(c.messages)
    stored, _ = stored_figures(out)
    direct_n = directly_published(out)
    got = outbox_delivery(c.messages)
    print(
        f"FIGURES disk-full: produced {stored + direct_n} ({direct_n} straight to the broker), "
        f"delivered {got.delivered}, lost {got.lost(stored + direct_n)}, duplicated "
        f"{got.duplicates}; fault in status after {detected_s:.1f} s; resumed "
        f"{recovered_s:.1f} s after space came back ({t.line()})"
    )
    assert t.duplicates == 0
    assert got.lost(stored + direct_n) == 0
    assert recovered_s < 10


@pytest.fixture
def watchdog(tmp_path: Path) -> Iterator[Recorder]:
    """A NOTIFY_SOCKET for the agent (its address: ``watchdog.listener.address``), recording what
    the agent sends there; closed after the test."""
    rec = Recorder(Listener(str(tmp_path / "notify.sock")))
    yield rec
    rec.close()
    rec.listener.sock.close()


@pytest.mark.parametrize("fault", ["read-only", "I/O error"])
def test_state_directory_failing_while_running_keeps_sensing_and_reports(
    fault: str,
    tmp_path: Path,
    faulty_fs: Callable[[], FaultyFs],
    mosquitto: Broker,
    collector_factory: Callable[..., Collector],
    agent_process: Callable[..., AgentProcess],
    watchdog: Recorder,
) -> None:
    """The state directory's ext4 goes read-only (the kernel's remount after an error, as after an
    SD card error) or stops answering (EIO) under the running agent: it stays up, keeps sensing
    (temperature results go straight to the broker), names the real cause once in the journal, in
    ``status``, ``diag`` and a directly published ``health``, and keeps petting the watchdog."""
    fs = faulty_fs()
    cfg = base_config(tmp_path, mosquitto.port, thermometer=STREAM)
    cfg["outbox"]["path"] = str(fs.point / "outbox.sqlite3")
    cfg["runtime"]["state_dir"] = str(fs.point)
    cfg["reporting"]["health_interval_s"] = 1
    sock = Path(cfg["runtime"]["status_socket"])
    c = collector_factory(mosquitto.port, "triage/v1/#")
    conf = write_config(tmp_path / "agent.toml", cfg)
    agent = agent_process(
        conf, {"NOTIFY_SOCKET": watchdog.listener.address, "WATCHDOG_USEC": "5000000"}
    )
    c.wait_for(lambda ms: len(live(c, "temperature")) >= 3, timeout=60)

    fs.fail_io() if fault == "I/O error" else fs.go_read_only()
    t_fault = time.monotonic()
    temps_before = len(live(c, "temperature"))
    snap = wait_status(sock, lambda s: s["outbox"]["storage"] == fault, timeout=30)
    detected_s = time.monotonic() - t_fault
    assert snap["last_error"] == f"outbox: {fault}"
    direct = c.wait_for(
        lambda ms: any(
            m.topic.endswith("/health") and m.json().get("storage") == fault for m in ms
        ),
        timeout=30,
    )
    health_s = time.monotonic() - t_fault
    for m in direct:
        validate_message(m)
    c.wait_for(lambda ms: len(live(c, "temperature")) >= temps_before + 3, timeout=60)
    sensed_s = time.monotonic() - t_fault
    diag = subprocess.run(
        [sys.executable, "-m", "agent", "diag", "--json", "--no-broker", "--config", str(conf)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert f"cannot write its outbox: {fault}" in diag.stdout, diag.stdout + diag.stderr
    snap = wait_status(sock, lambda s: s["outbox"]["published_directly"] >= 3, timeout=10)
    assert agent.proc.poll() is None, agent.output()
    assert snap["sources"]["thermometer"]["state"] == "ok"
    assert snap["stuck_threads"] == []
    shown = render_status(snap)  # what `triage-agent status` prints
    assert f"storage      FAILING: {fault}" in shown
    assert f"last error   outbox: {fault}" in shown
    assert "restart the agent" in shown
    pets = [at for at, m in watchdog.snapshot() if m == "WATCHDOG=1" and at > t_fault]
    fault_s = time.monotonic() - t_fault
    assert len(pets) >= fault_s - 3, f"{len(pets)} pets in {fault_s:.0f} s of {fault}"
    assert agent.stop() == 0, agent.output()
    out = agent.output()
    assert "Traceback" not in out
    assert "corrupt" not in out
    assert "moved aside" not in out
    naming = [line for line in out.splitlines() if fault in line and "ERROR" in line]
    assert 1 <= len(naming) <= 4, "\n".join(naming)  # once, not a storm
    stored, _ = stored_figures(out)
    direct_n = directly_published(out)
    got = outbox_delivery(c.messages)
    temps = len(live(c, "temperature")) - temps_before
    print(
        f"FIGURES {fault.replace(' ', '-')}-while-running: produced {stored + direct_n} "
        f"({direct_n} straight to the broker), delivered {got.delivered}, lost "
        f"{got.lost(stored + direct_n)}, duplicated {got.duplicates}; fault in status after "
        f"{detected_s:.1f} s, direct health after {health_s:.1f} s, 3 temperatures after "
        f"{sensed_s:.1f} s, {temps} temperature(s) during {fault_s:.0f} s of fault; "
        f"{len(pets)} watchdog pets; {len(naming)} ERROR line(s) naming it"
    )
    assert got.lost(stored + direct_n) == 0
    assert got.duplicates == 0


def fetch_status_ok(sock: Path) -> dict[str, Any]:
    return wait_status(sock, lambda s: True, timeout=5)


def persistent_broker(tmp_path: Path, broker_factory: Callable[..., Broker]) -> Broker:
    store = tmp_path / "mosq"
    store.mkdir()
    return broker_factory(extra=["persistence true", f"persistence_location {store}/"])


def scenario_broker_down(
    tmp_path: Path,
    broker_factory: Callable[..., Broker],
    agent_process: Callable[..., AgentProcess],
    down_s: float,
) -> None:
    broker = persistent_broker(tmp_path, broker_factory)
    sub = Collector(broker.port, "triage/v1/#", session="fault-suite")
    cfg = base_config(tmp_path, broker.port, thermometer=STREAM)
    cfg["reporting"]["health_interval_s"] = 0.5
    sock = Path(cfg["runtime"]["status_socket"])
    agent = agent_process(write_config(tmp_path / "agent.toml", cfg))
    try:
        sub.wait_for(lambda ms: len(ms) >= 10, timeout=60)
        broker.stop()
        time.sleep(down_s)
        snap = wait_status(sock, lambda s: not s["broker"]["connected"])
        waiting = snap["outbox"]["depth"]
        broker.start()
        t0 = time.monotonic()
        wait_status(sock, lambda s: s["broker"]["connected"] and s["outbox"]["depth"] == 0, 60)
        recovered_s = time.monotonic() - t0
        time.sleep(1)
        assert agent.stop() == 0
        sub.settle()
    finally:
        sub.close()
    stored, _ = stored_figures(agent.output())
    got = outbox_delivery(sub.messages)
    print(
        f"FIGURES broker-down-{down_s:.0f}s: produced {stored}, delivered {got.delivered}, lost "
        f"{got.lost(stored)}, duplicated {got.duplicates}; {waiting} waited in the outbox; "
        f"backlog delivered {recovered_s:.1f} s after the broker came back; "
        f"status showed: {snap['broker']['last_error']}"
    )
    assert got.lost(stored) == 0
    assert snap["broker"]["last_error"]


def test_broker_down_mid_stream_short(
    tmp_path: Path,
    broker_factory: Callable[..., Broker],
    agent_process: Callable[..., AgentProcess],
) -> None:
    scenario_broker_down(tmp_path, broker_factory, agent_process, down_s=8)


@pytest.mark.reliability
def test_broker_down_mid_stream_30s(
    tmp_path: Path,
    broker_factory: Callable[..., Broker],
    agent_process: Callable[..., AgentProcess],
) -> None:
    scenario_broker_down(tmp_path, broker_factory, agent_process, down_s=30)


def test_sigkill_mid_stream_and_restart(
    tmp_path: Path,
    broker_factory: Callable[..., Broker],
    agent_process: Callable[..., AgentProcess],
) -> None:
    broker = persistent_broker(tmp_path, broker_factory)
    sub = Collector(broker.port, "triage/v1/#", session="fault-suite")
    cfg = base_config(tmp_path, broker.port, thermometer=STREAM)
    cfg["reporting"]["health_interval_s"] = 0.2
    conf = write_config(tmp_path / "agent.toml", cfg)
    sock = Path(cfg["runtime"]["status_socket"])
    agent = agent_process(conf)
    try:
        sub.wait_for(lambda ms: len(ms) >= 20, timeout=60)
        last_seen = wait_status(sock, lambda s: True)
        agent.stop(sig=9)
        import sqlite3

        db = sqlite3.connect(f"file:{cfg['outbox']['path']}?mode=ro", uri=True)
        unsent = {r[0] for r in db.execute("SELECT seq FROM messages")}
        db.close()
        t0 = time.monotonic()
        agent2 = agent_process(conf)
        wait_status(sock, lambda s: s["broker"]["connected"] and s["outbox"]["depth"] == 0, 60)
        recovered_s = time.monotonic() - t0
        time.sleep(1)
        assert agent2.stop() == 0
        sub.settle()
    finally:
        sub.close()
    got_seqs = {m.json()["seq"] for m in sub.messages if not m.retain}
    missing = sorted(unsent - got_seqs)
    d = outbox_delivery(sub.messages)
    print(
        f"FIGURES sigkill: {len(unsent)} unsent at the kill, {len(missing)} of them lost; "
        f"delivered {d.delivered}, duplicated {d.duplicates}; outbox empty and connected "
        f"{recovered_s:.1f} s after the restart (uptime before kill {last_seen['uptime_s']} s)"
    )
    assert missing == []


@pytest.mark.reliability
def test_outbox_cap_during_long_outage_is_bounded_and_counted(
    tmp_path: Path,
    broker_factory: Callable[..., Broker],
    agent_process: Callable[..., AgentProcess],
) -> None:
    from tests.broker import free_port

    port = free_port()
    cfg = base_config(tmp_path, port, thermometer=STREAM)
    cfg["reporting"]["health_interval_s"] = 0.05
    cfg["outbox"]["max_messages"] = 100
    sock = Path(cfg["runtime"]["status_socket"])
    agent = agent_process(write_config(tmp_path / "agent.toml", cfg))
    snap = wait_status(sock, lambda s: s["outbox"]["evicted"] >= 10, timeout=150)
    assert snap["outbox"]["depth"] <= 100
    assert snap["sources"]["thermometer"]["state"] == "ok"  # sensing never blocked
    broker = broker_factory(port=port)
    sub = Collector(broker.port, "triage/v1/+/+/health")
    health = sub.wait_for(
        lambda ms: any(not m.retain and m.json()["evicted"] >= 10 for m in ms), timeout=60
    )
    assert agent.stop() == 0
    sub.close()
    out = agent.output()
    assert "outbox evicted unsent messages" in out
    assert out.count("outbox evicted unsent messages") <= 2, "eviction lines are rate-limited"
    evicted = max(m.json()["evicted"] for m in health if not m.retain)
    print(
        f"FIGURES outbox-cap: cap 100, depth {snap['outbox']['depth']}, evicted {evicted} "
        "(counted in health and status, one log line a minute)"
    )


@pytest.mark.parametrize("damage", ["garbage header", "truncated", "directory", "empty"])
def test_corrupt_outbox_at_start_is_moved_aside_and_reported(
    tmp_path: Path,
    mosquitto: Broker,
    agent_process: Callable[..., AgentProcess],
    damage: str,
) -> None:
    import os

    cfg = base_config(tmp_path, mosquitto.port)
    conf = write_config(tmp_path / "agent.toml", cfg)
    sock = Path(cfg["runtime"]["status_socket"])
    first = agent_process(conf)
    wait_status(sock, lambda s: s["outbox"]["depth"] >= 0)
    time.sleep(2)
    assert first.stop() == 0
    path = Path(cfg["outbox"]["path"])
    for extra in (path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        extra.unlink(missing_ok=True)
    if damage == "garbage header":
        with path.open("r+b") as f:
            f.write(b"this is not sqlite" * 8)
    elif damage == "truncated":
        os.truncate(path, path.stat().st_size // 2)
    elif damage == "directory":
        path.unlink()
        path.mkdir()
    else:
        path.write_bytes(b"")
    sub = Collector(mosquitto.port, "triage/v1/+/+/health")
    agent = agent_process(conf)
    snap = wait_status(sock, lambda s: s["outbox"]["resets"] == 1, timeout=30)
    health = sub.wait_for(
        lambda ms: any(not m.retain and m.json().get("outbox_resets") == 1 for m in ms), 30
    )
    assert agent.stop() == 0
    sub.close()
    out = agent.output()
    if damage == "empty":
        assert "was empty although one existed" in out
    else:
        assert "moved aside to" in out
        assert len(list(path.parent.glob(path.name + ".corrupt-*"))) == 1
    assert snap["outbox"]["notices"]
    assert "Traceback" not in out
    validate_message(health[-1])
    print(
        f"FIGURES corrupt-{damage.replace(' ', '-')}: started, resets 1, notice: "
        f"{snap['outbox']['notices'][0][:100]}"
    )


@dataclass
class FaultedStart:
    """What a subscriber, ``status`` and ``diag`` saw of an agent started on a failing state
    directory (times from the start of the process)."""

    agent: AgentProcess
    collector: Collector
    sock: Path
    conf: Path
    ready_s: float
    first_temperature_s: float
    health_s: float


def state_config(tmp_path: Path, state: Path, port: int) -> Path:
    """A streaming agent's config with its outbox and state directory on ``state``."""
    cfg = base_config(tmp_path, port, thermometer=STREAM)
    cfg["outbox"]["path"] = str(state / "outbox.sqlite3")
    cfg["runtime"]["state_dir"] = str(state)
    cfg["reporting"]["health_interval_s"] = 1
    return write_config(tmp_path / "agent.toml", cfg)


def start_on_faulted_storage(
    tmp_path: Path,
    state: Path,
    fault: str,
    mosquitto: Broker,
    collector_factory: Callable[..., Collector],
    agent_process: Callable[..., AgentProcess],
    recorder: Recorder,
) -> FaultedStart:
    """Start the real agent with its outbox on ``state``, which fails with ``fault``: it must come
    up (READY=1), screen (temperature results at the broker) and name the fault in a directly
    published ``health``, ``status``, ``diag`` and an ERROR line with the path and the advice."""
    conf = state_config(tmp_path, state, mosquitto.port)
    sock = tmp_path / "run" / "status.sock"
    c = collector_factory(mosquitto.port, "triage/v1/#")
    t0 = time.monotonic()
    agent = agent_process(
        conf, {"NOTIFY_SOCKET": recorder.listener.address, "WATCHDOG_USEC": "5000000"}
    )
    ready_s = recorder.wait_for(lambda m: "READY=1" in m, timeout=60) - t0
    c.wait_for(
        lambda ms: any(
            m.topic.endswith("/health") and m.json().get("storage") == fault for m in ms
        ),
        timeout=30,
    )
    health_s = time.monotonic() - t0
    c.wait_for(lambda ms: len(live(c, "temperature")) >= 1, timeout=60)
    first_s = time.monotonic() - t0
    snap = wait_status(sock, lambda s: s["outbox"]["storage"] == fault, timeout=10)
    assert snap["last_error"] == f"outbox: {fault}"
    assert snap["sources"]["thermometer"]["state"] == "ok"
    shown = render_status(snap)  # what `triage-agent status` prints
    assert f"storage      FAILING: {fault}" in shown
    diag = subprocess.run(
        [sys.executable, "-m", "agent", "diag", "--json", "--no-broker", "--config", str(conf)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert f"cannot write its outbox: {fault}" in diag.stdout, diag.stdout + diag.stderr
    for m in c.messages:
        validate_message(m)
    assert agent.proc.poll() is None, agent.output()
    naming = [
        line
        for line in agent.output().splitlines()
        if "ERROR" in line and fault in line and str(state / "outbox.sqlite3") in line
    ]
    assert naming, agent.output()
    return FaultedStart(agent, c, sock, conf, ready_s, first_s, health_s)


def test_read_only_state_directory_at_start_keeps_screening_and_reports(
    tmp_path: Path,
    small_fs: Callable[[str], Path],
    mosquitto: Broker,
    collector_factory: Callable[..., Collector],
    agent_process: Callable[..., AgentProcess],
    watchdog: Recorder,
) -> None:
    """The box boots with its state directory read-only (an outbox with unsent events on it): the
    agent starts anyway (no exit 73, no restart loop), screens, sends events straight to the
    broker and names the fault; once the file system is writable again it opens the outbox by
    itself, delivers what waited in it and numbers on above everything it sent directly."""
    state = small_fs("2m")
    first = agent_process(state_config(tmp_path, state, 1))  # no broker: events wait
    wait_status(tmp_path / "run" / "status.sock", lambda s: s["outbox"]["depth"] >= 3, 60)
    assert first.stop() == 0, first.output()
    db = sqlite3.connect(state / "outbox.sqlite3")
    waiting = {
        json.loads(p)["id"]: seq for seq, p in db.execute("SELECT seq, payload FROM messages")
    }
    db.close()
    subprocess.run(["mount", "-o", "remount,ro", str(state)], check=True)
    run = start_on_faulted_storage(
        tmp_path, state, "read-only", mosquitto, collector_factory, agent_process, watchdog
    )
    c = run.collector
    c.wait_for(lambda ms: len(live(c, "temperature")) >= 2, timeout=60)
    subprocess.run(["mount", "-o", "remount,rw", str(state)], check=True)
    t_fixed = time.monotonic()
    wait_status(run.sock, lambda s: s["outbox"]["storage"] is None, timeout=15)
    reopened_s = time.monotonic() - t_fixed
    c.wait_for(lambda ms: set(waiting) <= {d["id"] for d in c_live_docs(c)}, timeout=30)
    c.wait_for(lambda ms: any(stored_health(m) for m in ms), timeout=30)
    assert run.agent.stop() == 0, run.agent.output()
    out = run.agent.output()
    assert "Traceback" not in out
    assert "outbox writable again" in out
    docs = c_live_docs(c)
    direct = [d["seq"] for d in docs if "storage" in d]
    assert min(direct) > max(waiting.values())  # numbered above the old outbox's sequence
    assert any(d["seq"] > max(direct) and "storage" not in d for d in docs)
    assert_seq_unique(c)
    assert reopened_s < 10
    print(
        f"FIGURES read-only-at-start: READY after {run.ready_s:.1f} s, first temperature at the "
        f"broker after {run.first_temperature_s:.1f} s, degraded health after {run.health_s:.1f} s;"
        f" outbox open {reopened_s:.1f} s after the remount rw, {len(waiting)} waiting in it "
        f"delivered; {tally(c.messages).line()}"
    )


def test_state_directory_full_at_start_keeps_screening_and_opens_when_space_is_freed(
    tmp_path: Path,
    small_fs: Callable[[str], Path],
    mosquitto: Broker,
    collector_factory: Callable[..., Collector],
    agent_process: Callable[..., AgentProcess],
    watchdog: Recorder,
) -> None:
    """Full to the last byte at start: the agent starts, screens with events straight to the
    broker, and opens (creates) its outbox by itself once space is freed; events are stored
    again, and their sequence numbers continue above those published directly (no number twice,
    no event lost or duplicated)."""
    state = small_fs("4m")
    filler = fill(state)
    run = start_on_faulted_storage(
        tmp_path, state, "disk full", mosquitto, collector_factory, agent_process, watchdog
    )
    c = run.collector
    c.wait_for(lambda ms: len(live(c, "temperature")) >= 2, timeout=60)
    assert not (state / "outbox.sqlite3").exists()
    filler.unlink()
    t_free = time.monotonic()
    wait_status(run.sock, lambda s: s["outbox"]["storage"] is None, timeout=15)
    reopened_s = time.monotonic() - t_free
    temps = len(live(c, "temperature"))
    c.wait_for(lambda ms: len(live(c, "temperature")) >= temps + 1, timeout=60)
    c.wait_for(lambda ms: any(stored_health(m) for m in ms), timeout=30)
    assert run.agent.stop() == 0, run.agent.output()
    out = run.agent.output()
    assert "Traceback" not in out
    assert "was empty although one existed" not in out
    assert "outbox writable again" in out
    stored, _ = stored_figures(out)
    direct_n = directly_published(out)
    assert stored > 0, out
    assert direct_n > 0, out
    got = outbox_delivery(c.messages)
    docs = c_live_docs(c)
    last_direct = max(d["seq"] for d in docs if "storage" in d)
    assert any(d["seq"] > last_direct and "storage" not in d for d in docs)
    assert_seq_unique(c)
    print(
        f"FIGURES disk-full-at-start: READY after {run.ready_s:.1f} s, first temperature at the "
        f"broker after {run.first_temperature_s:.1f} s, degraded health after {run.health_s:.1f} s;"
        f" outbox open {reopened_s:.1f} s after space was freed; produced {stored + direct_n} "
        f"({direct_n} straight to the broker), delivered {got.delivered}, lost "
        f"{got.lost(stored + direct_n)}, duplicated {got.duplicates}; {tally(c.messages).line()}"
    )
    assert got.duplicates == 0
    assert got.lost(stored + direct_n) == 0
    assert reopened_s < 10


def stored_health(m: Received) -> bool:
    """A live health that went through the outbox (no ``storage``: written after it opened)."""
    return m.topic.endswith("/health") and not m.retain and "storage" not in m.json()


def c_live_docs(c: Collector) -> list[dict[str, Any]]:
    """The agent's live (non-retained) messages as documents."""
    return [m.json() for m in c.messages if m.topic.startswith("triage/") and not m.retain]


def assert_seq_unique(c: Collector) -> None:
    """No sequence number was used for two different messages (direct and stored alike)."""
    by_seq: dict[int, set[str]] = {}
    for d in c_live_docs(c):
        by_seq.setdefault(int(d["seq"]), set()).add(str(d["id"]))
    twice = {seq: ids for seq, ids in by_seq.items() if len(ids) > 1}
    assert not twice, twice

"""Calibration against the real ``triage-agent run`` process: through its status socket, no restart,
and a calibration file it cannot use is a degraded state, never an exit.

Real parts only: the agent and the ``calibrate`` command are child processes, the thermometer is the
firmware emulator on a pty (a looped trace: the same person steps up every ~11 s), the broker is a
private mosquitto and the temperature events are read from it.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from agent.cli.diag.calibration import check_calibration
from agent.cli.status import fetch_status, render_status
from agent.config import load_config
from agent.thermometer.simulated_port import emulator
from firmware_bridge.emulator import PtyEmulator
from firmware_bridge.trace import Trace, generate
from tests.broker import Broker, Collector
from tests.conftest import REPO, AgentProcess, base_config, write_config

pytestmark = [pytest.mark.broker, pytest.mark.slow]

REFERENCE_C = 36.9


@pytest.fixture
def person() -> Iterator[tuple[PtyEmulator, Trace]]:
    """One person stepping up every ~11 s, forever (same plateau each time)."""
    trace = generate("normal", seed=6)
    emu = emulator("bridge", trace, loop=True)
    emu.start()
    yield emu, trace
    emu.stop()


def _config(tmp_path: Path, port: int, pty: str, **screening: Any) -> Path:
    raw = base_config(
        tmp_path,
        port,
        thermometer={"enabled": True, "port": pty, "protocol": "bridge"},
        screening=screening,
    )
    return write_config(tmp_path / "config.toml", raw)


def _cli(config: Path, *args: str, timeout: float = 90) -> tuple[int, str, float]:
    started = time.monotonic()
    res = subprocess.run(
        [sys.executable, "-m", "agent", "calibrate", "--config", str(config), *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    return res.returncode, res.stdout + res.stderr, time.monotonic() - started


def _wait_ready(agent: AgentProcess, config: Path, timeout: float = 30) -> dict[str, Any]:
    socket_path = load_config(config).runtime.status_socket
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert agent.proc.poll() is None, f"agent exited {agent.proc.returncode}:\n{agent.output()}"
        try:
            return fetch_status(socket_path)
        except Exception:
            time.sleep(0.2)
    raise AssertionError("agent status socket never answered:\n" + agent.output())


def _status(config: Path) -> dict[str, Any]:
    return fetch_status(load_config(config).runtime.status_socket)


def _temperatures(col: Collector) -> list[dict[str, Any]]:
    return col.kinds("temperature")


def _next_temperature(
    col: Collector, after: int, ok: Callable[[dict[str, Any]], bool], timeout: float = 40
) -> dict[str, Any]:
    found = col.wait_for(lambda _: any(ok(t) for t in _temperatures(col)[after:]), timeout=timeout)
    assert found
    return next(t for t in _temperatures(col)[after:] if ok(t))


def test_calibrate_through_the_running_agent_applies_without_restart(
    tmp_path: Path,
    mosquitto: Broker,
    agent_process: Callable[..., AgentProcess],
    person: tuple[PtyEmulator, Trace],
) -> None:
    emu, trace = person
    plateau = trace.presentations[0].plateau_c
    config = _config(tmp_path, mosquitto.port, emu.path)
    col = Collector(mosquitto.port)
    try:
        agent = agent_process(config)
        _wait_ready(agent, config)
        pid = agent.proc.pid
        rc, out, took = _cli(config, "--reference", str(REFERENCE_C), "--timeout", "40")
        assert rc == 0, out
        assert "the running agent measures" in out
        assert "no restart needed" in out
        print(f"calibrate --reference through the running agent: {took:.1f} s")

        path = tmp_path / "state" / "calibration.json"
        stored = json.loads(path.read_text())
        assert stored["method"] == "reference"
        assert stored["offset_c"] == pytest.approx(REFERENCE_C - plateau, abs=0.1)
        assert stat.S_IMODE(path.stat().st_mode) == 0o644
        assert not [p for p in path.parent.iterdir() if p.name.startswith(".calibration-")]

        # The very next presentation is screened with the new offset by the same process.
        before = len(_temperatures(col))
        t0 = time.monotonic()
        ev = _next_temperature(col, before, lambda t: t.get("offset_c") == stored["offset_c"])
        print(f"first temperature with the new offset {time.monotonic() - t0:.1f} s later")
        assert ev["estimate_c"] == pytest.approx(REFERENCE_C, abs=0.15)
        assert ev["result"] == "normal"
        assert agent.proc.poll() is None, "the agent stopped"
        assert agent.proc.pid == pid, "the agent restarted"

        snap = _status(config)
        assert snap["calibration"]["offset_c"] == stored["offset_c"]
        assert snap["calibration"]["source"] == "calibration file"
        assert "calibration  offset" in render_status(snap)
        check = check_calibration(load_config(config), snap)
        assert check.verdict == "PASS"
        assert "live" in check.detail

        rc, out, _ = _cli(config, "--show")
        assert rc == 0, out
        assert f"the running agent screens with offset {stored['offset_c']:+.2f}" in out

        # --offset through the agent, also applied at once.
        rc, out, took = _cli(config, "--offset", "0.25")
        assert rc == 0, out
        assert took < 10
        assert _status(config)["calibration"]["offset_c"] == 0.25
        before = len(_temperatures(col))
        ev = _next_temperature(col, before, lambda t: True)
        assert ev["offset_c"] == 0.25
        assert ev["estimate_c"] == pytest.approx(plateau + 0.25, abs=0.1)
        # Out of range: refused by the command, nothing changes.
        rc, out, _ = _cli(config, "--offset", "7")
        assert rc == 1
        assert "beyond" in out
        assert _status(config)["calibration"]["offset_c"] == 0.25
    finally:
        col.close()
    assert agent.stop() == 0
    assert "Traceback" not in agent.output()


def test_unusable_calibration_file_degrades_and_recovers(
    tmp_path: Path,
    mosquitto: Broker,
    agent_process: Callable[..., AgentProcess],
    person: tuple[PtyEmulator, Trace],
) -> None:
    """A torn file at start: the agent runs (site offset), says so in status and diag, and
    takes a good file within seconds; a torn file while running keeps the last good offset."""
    emu, trace = person
    plateau = trace.presentations[0].plateau_c
    config = _config(tmp_path, mosquitto.port, emu.path, site_offset_c=0.3)
    path = tmp_path / "state" / "calibration.json"
    path.parent.mkdir(parents=True)
    path.write_text('{"version": 1, "offset_c": ')  # torn by a power cut on an old version
    col = Collector(mosquitto.port)
    try:
        agent = agent_process(config)
        snap = _wait_ready(agent, config)
        cal = snap["calibration"]
        assert "unreadable" in cal["problem"], cal
        assert cal["offset_c"] == 0.3
        assert cal["source"] == "screening.site_offset_c"
        assert "FILE UNUSABLE" in render_status(snap)
        check = check_calibration(load_config(config), snap)
        assert check.verdict == "FAIL"
        assert check.fix is not None
        assert "triage-agent calibrate" in check.fix
        ev = _next_temperature(col, 0, lambda t: True)
        assert ev["offset_c"] == 0.3, "screening goes on with the site offset"

        # Fixed by the command the advice names, through the agent.
        rc, out, _ = _cli(config, "--offset", "0.6")
        assert rc == 0, out
        cal = _status(config)["calibration"]
        assert cal["problem"] is None
        assert cal["offset_c"] == 0.6

        # Torn again while running (hand edit): the last good offset stays, status says why.
        path.write_text("{")
        deadline = time.monotonic() + 5
        while _status(config)["calibration"]["problem"] is None:
            assert time.monotonic() < deadline, "the agent did not notice the torn file"
            time.sleep(0.2)
        t0 = time.monotonic()
        assert _status(config)["calibration"]["offset_c"] == 0.6
        # A good file written by someone else is picked up within seconds, no command needed.
        path.write_text(json.dumps({"version": 1, "offset_c": 0.45, "at": 0, "method": "manual"}))
        while _status(config)["calibration"]["offset_c"] != 0.45:
            assert time.monotonic() - t0 < 5, "the agent did not pick the file up"
            time.sleep(0.1)
        print(f"rewritten file in force after {time.monotonic() - t0:.1f} s")
        before = len(_temperatures(col))
        ev = _next_temperature(col, before, lambda t: True)
        assert ev["offset_c"] == 0.45
        assert ev["estimate_c"] == pytest.approx(plateau + 0.45, abs=0.1)
        # Removed: back to the site offset.
        path.unlink()
        deadline = time.monotonic() + 5
        while _status(config)["calibration"]["offset_c"] != 0.3:
            assert time.monotonic() < deadline
            time.sleep(0.1)
        assert agent.proc.poll() is None
    finally:
        col.close()
    assert agent.stop() == 0
    log = agent.output()
    assert log.count("calibration file") >= 2
    assert "Traceback" not in log


def test_direct_calibration_names_the_obstacle_at_once(
    tmp_path: Path, person: tuple[PtyEmulator, Trace]
) -> None:
    """Agent not running: no device, a busy port and a port lost mid-measurement each end the
    command within seconds with the cause (no minute of retries blaming the thermometer)."""
    emu, _ = person
    config = _config(tmp_path, 1, str(tmp_path / "no-such-tty"))
    rc, out, took = _cli(config, "--reference", "36.9", "--timeout", "60")
    assert (rc, "no device at" in out, took < 10) == (69, True, True), (rc, out, took)

    config = _config(tmp_path, 1, emu.path)
    with open(emu.path, "rb") as held:
        holder = subprocess.Popen(["sleep", "60"], stdin=held)
        try:
            rc, out, took = _cli(config, "--reference", "36.9", "--timeout", "60")
        finally:
            holder.kill()
            holder.wait()
    busy = f"pid {holder.pid} (sleep 60)" in out
    assert (rc, busy, took < 10) == (75, True, True), (rc, out, took)

    # Nothing was stored by any of them; a good run stores 0644 (owned like the folder).
    assert not (tmp_path / "state" / "calibration.json").exists()
    rc, out, took = _cli(config, "--reference", "36.9", "--timeout", "60")
    assert rc == 0, out
    assert "the agent is not running" in out
    path = tmp_path / "state" / "calibration.json"
    st = path.stat()
    assert stat.S_IMODE(st.st_mode) == 0o644
    assert (st.st_uid, st.st_gid) == (path.parent.stat().st_uid, path.parent.stat().st_gid)
    print(f"direct calibrate --reference: {took:.1f} s")


@pytest.mark.skipif(os.geteuid() != 0, reason="chown to another user needs root")
def test_root_writes_the_file_for_the_folder_owner(tmp_path: Path) -> None:
    """`sudo triage-agent calibrate --offset` (agent stopped) into a state directory that belongs
    to the service user: the file belongs to that user too, readable by it."""
    state = tmp_path / "state"
    state.mkdir()
    os.chown(state, 65534, 65534)  # nobody:nogroup stands for triage-agent
    state.chmod(0o750)
    config = write_config(
        tmp_path / "config.toml",
        base_config(tmp_path, 1, thermometer={"enabled": True, "port": "/dev/null"}),
    )
    rc, out, _ = _cli(config, "--offset", "0.5")
    assert rc == 0, out
    st = (state / "calibration.json").stat()
    assert (st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)) == (65534, 65534, 0o644)

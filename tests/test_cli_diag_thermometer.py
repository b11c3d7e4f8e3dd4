"""The diag thermometer check on real ptys: a GY-MCU90614 module speaking its datasheet bytes, a
silent port, a missing one, and a running agent asked instead of opening the port."""

from __future__ import annotations

import os
import select
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from agent.cli.diag.status import check_agent
from agent.cli.diag.thermometer import check_thermometer
from agent.service.status_server import StatusServer
from tests.diag_helpers import cfg_for

GY_START = b"\xa5\x45\xea"


def gy_frame(object_cc: int, ambient_cc: int) -> bytes:
    """A GY-MCU90614 frame as the module sends it (datasheet layout)."""
    body = (
        bytes([0x5A, 0x5A, 0x45, 0x04])
        + object_cc.to_bytes(2, "big")
        + ambient_cc.to_bytes(2, "big")
    )
    return body + bytes([sum(body) & 0xFF])


class FakeGyModule:
    """Speaks the GY-MCU90614 protocol on a pty master: streams frames once told A5 45 EA."""

    def __init__(self, payload: Callable[[], bytes] | None = None) -> None:
        self.master, self.slave = os.openpty()
        self.port = os.ttyname(self.slave)
        self.payload = payload or (lambda: gy_frame(3651, 2301))
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        heard = b""
        streaming = False
        while not self._stop.is_set():
            ready, _, _ = select.select([self.master], [], [], 0.05)
            if ready:
                try:
                    heard += os.read(self.master, 64)
                except OSError:
                    return
                streaming = streaming or GY_START in heard
            if streaming:
                try:
                    os.write(self.master, self.payload())
                except OSError:
                    return
                time.sleep(0.05)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)
        os.close(self.master)
        os.close(self.slave)


@pytest.fixture
def gy_module() -> Iterator[FakeGyModule]:
    m = FakeGyModule()
    yield m
    m.close()


# -- thermometer ---------------------------------------------------------------------------------
def test_thermometer_pass_with_valid_frames(tmp_path: Path, gy_module: FakeGyModule) -> None:
    cfg = cfg_for(
        tmp_path,
        thermometer={"enabled": True, "port": gy_module.port, "protocol": "gy-mcu90614"},
    )
    check = check_thermometer(cfg, None)
    assert check.verdict == "PASS", check
    assert "object 36.51 °C, ambient 23.01 °C" in check.detail


def test_thermometer_wrong_protocol_says_so(tmp_path: Path, gy_module: FakeGyModule) -> None:
    # bridge decoder on a GY byte stream: bytes arrive, but no bridge frame. The GY module only
    # streams after its start command, which the bridge check does not send: prime it.
    os.write(gy_module.slave, GY_START)
    time.sleep(0.2)
    cfg = cfg_for(
        tmp_path, thermometer={"enabled": True, "port": gy_module.port, "protocol": "bridge"}
    )
    check = check_thermometer(cfg, None)
    assert check.verdict == "FAIL"
    assert "no valid frame" in check.detail
    assert check.fix is not None
    assert "protocol" in check.fix


def test_thermometer_silent_port(tmp_path: Path) -> None:
    master, slave = os.openpty()
    try:
        cfg = cfg_for(tmp_path, thermometer={"enabled": True, "port": os.ttyname(slave)})
        check = check_thermometer(cfg, None)
    finally:
        os.close(master)
        os.close(slave)
    assert check.verdict == "FAIL"
    assert "silent" in check.detail


def test_thermometer_missing_port(tmp_path: Path) -> None:
    cfg = cfg_for(tmp_path, thermometer={"enabled": True, "port": str(tmp_path / "ttyNone")})
    check = check_thermometer(cfg, None)
    assert check.verdict == "FAIL"
    assert check.fix is not None
    assert "/dev/serial/by-id" in check.fix


def test_running_agent_is_asked_instead_of_opening_devices(tmp_path: Path) -> None:
    cfg = cfg_for(tmp_path, thermometer={"enabled": True, "port": "/dev/ttyUSB9"})
    snap = {
        "uptime_s": 12.0,
        "sources": {"thermometer": {"state": "stale", "age_s": 30.0, "fps": None, "errors": 2}},
    }
    server = StatusServer(cfg.runtime.status_socket, lambda: snap)
    server.start()
    try:
        agent, live = check_agent(cfg)
        assert agent.verdict == "PASS"
        check = check_thermometer(cfg, live)
    finally:
        server.stop()
    assert check.verdict == "FAIL"
    assert "stale: last data 30 s ago, 2 bad reads (live" in check.detail

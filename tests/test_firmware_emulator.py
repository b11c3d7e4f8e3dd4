"""The emulator's GY-MCU90614 command handling and CLI, through a real pty."""

from __future__ import annotations

import os
import select
import subprocess
import sys
import time
import tty

from agent.thermometer.protocols.gy_mcu90614 import QUERY_ONCE, START_CONTINUOUS, GyDecoder
from agent.thermometer.records import WireReading
from agent.thermometer.simulated_port import emulator
from firmware_bridge.trace import generate


def _read_for(fd: int, seconds: float) -> bytes:
    out = b""
    deadline = time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        ready, _, _ = select.select([fd], [], [], left)
        if ready:
            out += os.read(fd, 1024)
    return out


def test_gy_silent_until_asked_then_single_then_continuous() -> None:
    emu = emulator("gy-mcu90614", generate("idle", 1), speed=4.0, wire_faults=False)
    path = emu.start()
    fd = os.open(path, os.O_RDWR | os.O_NOCTTY)
    tty.setraw(fd)
    try:
        assert _read_for(fd, 0.5) == b""
        os.write(fd, QUERY_ONCE)
        once = GyDecoder().feed(_read_for(fd, 0.5))
        assert len(once) == 1
        assert isinstance(once[0], WireReading)
        os.write(fd, START_CONTINUOUS)
        stream = GyDecoder().feed(_read_for(fd, 1.0))
        assert len(stream) >= 20  # 10 Hz at speed 4
    finally:
        os.close(fd)
        emu.stop()


def test_cli_prints_pty_path_first() -> None:
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tools.emulator",
            "--protocol",
            "bridge",
            "--scenario",
            "normal",
            "--seed",
            "3",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline().strip()
        assert first.startswith("/dev/pts/")
        truth = proc.stdout.readline()
        assert '"plateau_c"' in truth
    finally:
        proc.terminate()
        proc.wait(timeout=10)

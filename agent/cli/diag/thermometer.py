"""The ``thermometer`` check: the port opens and delivers frames the configured protocol decodes.

It reads the way the serial source does: :func:`agent.thermometer.link.open_port` and a
:class:`~agent.thermometer.link.Link` for the registered protocol (its start bytes, its decoder).
While the agent runs it owns the port, so its live state is reported instead.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from serial import SerialException

from agent.cli.diag.check import Check, Context
from agent.cli.diag.status import live_source
from agent.config import AgentConfig
from agent.thermometer import SIMULATED, protocols
from agent.thermometer.link import Link, open_port
from agent.thermometer.records import WireReading

LISTEN_S = 3.0
WANTED_READINGS = 3

_MISSING_FIX = (
    "plug the thermometer in (the udev rule names it /dev/triage-thermometer); list ports with "
    "`ls -l /dev/serial/by-id/`, then set thermometer.port"
)


def _mismatch_fix() -> str:
    known = "; ".join(f"{name}: {p.summary}" for name, p in protocols.PROTOCOLS.items())
    return f"thermometer.protocol or thermometer.baudrate does not match the device ({known})"


def check_thermometer(cfg: AgentConfig, live: Mapping[str, Any] | None) -> Check:
    """The serial port exists and delivers frames the configured protocol decodes."""
    t = cfg.thermometer
    if not t.enabled:
        return Check("thermometer", "SKIP", "disabled (thermometer.enabled = false)")
    if t.port == SIMULATED:
        return Check(
            "thermometer",
            "WARN",
            "simulated: no real thermometer is read",
            "set thermometer.port = '/dev/triage-thermometer' for a real device",
        )
    if live is not None:
        return live_source(
            "thermometer",
            "thermometer",
            live,
            "check the cable and thermometer.protocol/baudrate; unplug and replug the device",
        )
    if "://" not in t.port and not Path(t.port).exists():
        return Check("thermometer", "FAIL", f"no device at {t.port}", _MISSING_FIX)
    try:
        ser = open_port(t.port, t.baudrate)
    except PermissionError:
        return Check(
            "thermometer",
            "FAIL",
            f"not allowed to open {t.port}",
            "run diag with sudo (the service user is in group dialout)",
        )
    except (SerialException, OSError, ValueError) as exc:
        return Check("thermometer", "FAIL", f"cannot open {t.port}: {exc}", _MISSING_FIX)
    readings: list[WireReading] = []
    try:
        link = Link(ser, protocols.get(t.protocol))
        end = time.monotonic() + LISTEN_S
        while time.monotonic() < end and len(readings) < WANTED_READINGS:
            readings += [r for r in link.poll() if isinstance(r, WireReading)]
    except (SerialException, OSError) as exc:
        return Check("thermometer", "FAIL", f"read from {t.port} failed: {exc}", _MISSING_FIX)
    finally:
        ser.close()
    where = f"{t.port} ({t.protocol}, {t.baudrate} baud)"
    if readings:
        r = readings[-1]
        obj = "invalid" if r.object_c is None else f"{r.object_c:.2f} °C"
        amb = "invalid" if r.ambient_c is None else f"{r.ambient_c:.2f} °C"
        bad_frames = link.decoder.bad_frames
        bad = f", {bad_frames} bad frames" if bad_frames else ""
        return Check(
            "thermometer", "PASS", f"{where}: valid frames, object {obj}, ambient {amb}{bad}"
        )
    if link.bytes_received:
        return Check(
            "thermometer",
            "FAIL",
            f"{where}: {link.bytes_received} bytes in {LISTEN_S:.0f} s but no valid frame",
            _mismatch_fix(),
        )
    return Check(
        "thermometer",
        "FAIL",
        f"{where}: silent for {LISTEN_S:.0f} s",
        "check the sensor wiring and power; unplug and replug the USB cable",
    )


def check(ctx: Context) -> list[Check]:
    """Registry entry."""
    return [check_thermometer(ctx.cfg, ctx.live)]

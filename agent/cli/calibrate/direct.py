"""``triage-agent calibrate`` when the agent is not running: the command measures and stores itself.

It opens the port (every obstacle named before anyone steps up: a state directory this login cannot
write, a port it may not open or another program holds, no device), measures one presentation with
the same engine the agent screens with (:func:`measure`; a port lost during it ends it within
:data:`~agent.cli.calibrate.common.LOST_AFTER_S`) and writes the file (as root: owned like the state
directory; mode 0644).
"""

from __future__ import annotations

import argparse
import errno
import os
import time
from collections.abc import Callable
from pathlib import Path

import serial

from agent.cli.calibrate.common import (
    EX_CANTCREAT,
    EX_NOPERM,
    EX_TEMPFAIL,
    EX_UNAVAILABLE,
    LOST_AFTER_S,
    RESTART_HINT,
    TICK_S,
    fail,
    say,
)
from agent.cli.status import SERVICE
from agent.config import AgentConfig
from agent.flow.clock import agent_now
from agent.flow.engine import Engine
from agent.flow.events import Event, TemperatureEvent
from agent.thermometer import SIMULATED, build_source
from agent.thermometer.calibration import (
    OFFSET_LIMIT_C,
    Calibration,
    describe,
    owner_of,
    save_calibration,
)
from agent.thermometer.config import ThermometerConfig
from agent.thermometer.screening import ScreeningAnalyser


def measure(
    config: AgentConfig, timeout_s: float, progress: Callable[[str], None] | None = None
) -> TemperatureEvent | str:
    """Run the configured thermometer until one presentation reaches a plateau (offset 0).

    Returns the event, or why there is none: the port was lost or never delivered a valid frame
    for :data:`LOST_AFTER_S`, or nobody held still within ``timeout_s``.
    """
    results: list[TemperatureEvent] = []

    def sink(event: Event) -> None:
        if isinstance(event, TemperatureEvent):
            results.append(event)

    engine = Engine([ScreeningAnalyser(config.screening, offset_c=0.0)], sink)
    source = build_source(config.thermometer)
    source.start(engine.offer)
    try:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if not engine.step(TICK_S):
                engine.tick(agent_now())
            while results:
                ev = results.pop(0)
                if ev.plateau_s > 0:
                    return ev
                if progress is not None:
                    progress("no stable reading (moved too soon?); step up again and hold still")
            health = source.heartbeat.snapshot()
            down = health.state in ("disconnected", "stale", "starting")
            if down and agent_now() - health.since > LOST_AFTER_S:
                cause = source.heartbeat.last_error or (
                    f"no valid frame from {source.port} for {LOST_AFTER_S:.0f} s: "
                    "thermometer.protocol or thermometer.baudrate does not match the device"
                )
                return f"the thermometer is {health.state}: {cause}"
        rate = source.heartbeat.snapshot()
        delivering = (
            f"it was delivering {rate.fps:.1f} readings/s" if rate.fps else "it was delivering"
        )
        return (
            f"no stable presentation within {timeout_s:.0f} s ({delivering}: nobody held still in "
            "front of it, or nobody was warmer than the room by screening.presence_delta_c)"
        )
    finally:
        source.stop()


def _pts_index(path: str) -> int | None:
    name = path.removeprefix("/dev/pts/")
    return int(name) if path.startswith("/dev/pts/") and name.isdigit() else None


def _is_master_of(proc: Path, fd: Path, index: int | None) -> bool:
    """``fd`` of ``proc`` is the master side of pty ``index`` (the device, e.g. an emulator)."""
    if index is None or os.readlink(fd) not in ("/dev/ptmx", "/dev/pts/ptmx"):
        return False
    info = (proc / "fdinfo" / fd.name).read_text()
    return f"tty-index:\t{index}\n" in info


def holders(port: str) -> list[str]:
    """``pid N (command)`` of the other processes that have ``port`` open, those this user may
    see; the process on the device side of a pseudo-terminal (an emulator) does not count."""
    real = os.path.realpath(port)
    index = _pts_index(real)
    found: list[str] = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit() or int(proc.name) == os.getpid():
            continue
        holds = device_side = False
        try:
            for fd in (proc / "fd").iterdir():
                try:
                    holds = holds or os.readlink(fd) == real
                    device_side = device_side or _is_master_of(proc, fd, index)
                except OSError:
                    continue
            if holds and not device_side:
                cmd = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
                found.append(f"pid {proc.name} ({cmd.strip()[:80] or '?'})")
        except OSError:
            continue
    return found


def port_problem(t: ThermometerConfig) -> tuple[str, int] | None:
    """Why the thermometer port cannot be used by this command, at once (message, exit status)."""
    if t.port == SIMULATED or "://" in t.port:
        return None
    try:
        ser = serial.serial_for_url(t.port, baudrate=t.baudrate, timeout=0.2, exclusive=True)
    except (serial.SerialException, OSError, ValueError) as exc:
        code = getattr(exc, "errno", None)
        if code in (errno.EACCES, errno.EPERM):
            return (
                f"not allowed to open the thermometer port {t.port} ({describe(Path(t.port))}): "
                f"this login is not in its group. Start the agent ({RESTART_HINT}) and calibrate "
                "through it, or run this command with sudo. Nothing measured, nothing stored",
                EX_NOPERM,
            )
        if code in (errno.EAGAIN, errno.EBUSY):
            return _busy(t.port, holders(t.port))
        if code == errno.ENOENT:
            return (
                f"no device at {t.port}: plug the thermometer in (`ls -l /dev/serial/by-id/`) or "
                "set thermometer.port. Nothing measured",
                EX_UNAVAILABLE,
            )
        return (
            f"cannot open the thermometer port {t.port}: {exc}. Nothing measured",
            EX_UNAVAILABLE,
        )
    ser.close()
    held = holders(t.port)  # the agent does not lock the port: look for readers
    return None if not held else _busy(t.port, held)


def _busy(port: str, held: list[str]) -> tuple[str, int]:
    who = ", ".join(held) if held else f"another program (`sudo fuser -v {port}`)"
    return (
        f"the thermometer port {port} is busy: {who} holds it. If that is the agent, calibrate "
        f"cannot reach it through its status socket: `systemctl status {SERVICE}`; otherwise "
        "close that program and try again. Nothing measured, nothing stored",
        EX_TEMPFAIL,
    )


def write_problem(path: Path) -> str | None:
    """Why this login cannot store ``path`` (atomic replace: the folder must be writable)."""
    folder = path.parent
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    if os.access(folder, os.W_OK | os.X_OK):
        return None
    return (
        f"cannot write {path}: permission denied ({folder} belongs to {owner_of(folder)}). The "
        f"agent is not running, so the offset cannot go through it: start it ({RESTART_HINT}) "
        "and run this command again, or run this command with sudo. Nothing measured, nothing "
        "stored"
    )


def _store_directly(path: Path, cal: Calibration) -> int:
    try:
        save_calibration(path, cal)
    except OSError as exc:
        return fail(f"cannot write calibration file {path}: {exc}", EX_CANTCREAT)
    say(
        f"stored offset {cal.offset_c:+.2f} °C in {path} ({describe(path)}); the agent is not "
        f"running: it screens with this offset when it starts ({RESTART_HINT})"
    )
    return 0


def calibrate_directly(config: AgentConfig, path: Path, args: argparse.Namespace) -> int:
    problem = write_problem(path)
    if problem is not None:
        return fail(problem, EX_NOPERM)
    if args.offset is not None:
        return _store_directly(
            path, Calibration(offset_c=round(args.offset, 2), at=time.time(), method="manual")
        )
    port = port_problem(config.thermometer)
    if port is not None:
        return fail(*port)
    say(
        f"step up to the thermometer ({config.thermometer.port}) and hold still; "
        f"waiting up to {args.timeout:.0f} s"
    )
    got = measure(config, args.timeout, progress=say)
    if isinstance(got, str):
        return fail(f"{got}; nothing stored", 1)
    offset = round(args.reference - got.estimate_c, 2)
    say(f"uncalibrated estimate {got.estimate_c:.2f} °C, reference {args.reference:.2f} °C")
    if abs(offset) > OFFSET_LIMIT_C:
        return beyond_limit(offset)
    return _store_directly(
        path,
        Calibration(
            offset_c=offset,
            at=time.time(),
            method="reference",
            reference_c=args.reference,
            estimate_c=got.estimate_c,
        ),
    )


def beyond_limit(offset: float) -> int:
    return fail(
        f"offset {offset:+.2f} °C is beyond ±{OFFSET_LIMIT_C} °C: check the reference "
        "reading and that the person stood in front of the sensor; nothing stored",
        1,
    )

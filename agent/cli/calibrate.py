"""``triage-agent calibrate``: set the thermometer's site offset (the file: :mod:`agent.thermometer.calibration`).

``--reference 36.6`` takes one presentation and stores ``offset = reference - uncalibrated
estimate``; ``--offset X`` stores an offset directly; ``--show`` prints the calibration in force.

**Through the running agent** (the normal case on a box): the agent owns the serial port, so the
command asks it over the status socket (:mod:`agent.service.calibration`); the agent measures with
the same engine it screens with, writes the file as the service user and applies the offset at
once: no restart, nothing the service cannot read. Any login in the ``triage-agent`` group (or root)
may ask.

**Directly** (the agent is not running): the command opens the port itself and writes the file
(as root: owned like the state directory, i.e. by the service user; mode 0644). Every obstacle is
named at once, before anyone steps up: a state directory this login cannot write, a port it may not
open, a port another program holds, no device; a port lost during the measurement ends it within
seconds with the cause, instead of a minute of retries.

Exit status: 0 stored; 1 nothing stored (no stable presentation, offset out of range); 69 the
thermometer or the agent is unavailable; 73 the file cannot be written; 75 busy, try again; 77 not
allowed (the fix is in the message); 78 configuration error.
"""

from __future__ import annotations

import argparse
import errno
import json
import os
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict
from pathlib import Path
from typing import Any

import serial

from agent.cli.status import SERVICE, StatusClientError, converse, fetch_status
from agent.config import EX_CONFIG, AgentConfig, ConfigError, load_config
from agent.flow.clock import agent_now
from agent.flow.engine import Engine
from agent.flow.events import Event, TemperatureEvent
from agent.thermometer import SIMULATED, build_source
from agent.thermometer.calibration import (
    OFFSET_LIMIT_C,
    Calibration,
    calibration_path,
    describe,
    load_calibration,
    owner_of,
    save_calibration,
)
from agent.thermometer.config import ThermometerConfig
from agent.thermometer.screening import ScreeningAnalyser

TICK_S = 0.5
EX_UNAVAILABLE = 69
EX_CANTCREAT = 73
EX_TEMPFAIL = 75
EX_NOPERM = 77
ANSWER_GRACE_S = 15.0
"""How much longer than ``--timeout`` the command waits for the running agent's final answer."""
LOST_AFTER_S = 5.0
"""Direct measurement: the port down (or open without a valid frame) this long ends it."""

RESTART_HINT = f"sudo systemctl start {SERVICE}"


def say(message: str) -> None:
    print(message, flush=True)


def fail(message: str, status: int) -> int:
    print(message, file=sys.stderr, flush=True)
    return status


# -- measuring directly (the agent is not running) ---------------------------------------------------
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


def _direct(config: AgentConfig, path: Path, args: argparse.Namespace) -> int:
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
        return _beyond_limit(offset)
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


def _beyond_limit(offset: float) -> int:
    return fail(
        f"offset {offset:+.2f} °C is beyond ±{OFFSET_LIMIT_C} °C: check the reference "
        "reading and that the person stood in front of the sensor; nothing stored",
        1,
    )


# -- through the running agent -------------------------------------------------------------------------
def _thermometer_state(config: AgentConfig) -> str:
    """The running agent's view of its thermometer, for a timeout message."""
    try:
        snap = fetch_status(config.runtime.status_socket)
    except StatusClientError:
        return ""
    src = (snap.get("sources") or {}).get("thermometer") or {}
    state = src.get("state", "?")
    fps = src.get("fps")
    if state == "ok":
        rate = f" at {fps:.1f} readings/s" if isinstance(fps, int | float) else ""
        return (
            f" (the thermometer is delivering{rate}: nobody held still in front of it, or nobody "
            "was warmer than the room by screening.presence_delta_c)"
        )
    last = snap.get("last_error") or "see `triage-agent diag`"
    return f" (the thermometer is {state}: {last})"


def _final(config: AgentConfig, done: Mapping[str, Any]) -> int:
    if done.get("ok"):
        cal = done.get("calibration") or {}
        if cal.get("reference_c") is not None:
            say(
                f"uncalibrated estimate {cal.get('estimate_c'):.2f} °C, "
                f"reference {cal.get('reference_c'):.2f} °C"
            )
        say(
            f"stored offset {cal.get('offset_c'):+.2f} °C in {done.get('file')} (was "
            f"{done.get('previous_offset_c', 0.0):+.2f} °C); the running agent screens with it "
            "from now on, no restart needed"
        )
        return 0
    code = done.get("code")
    error = str(done.get("error"))
    if code == "timeout":
        return fail(error + _thermometer_state(config), 1)
    status = {"limit": 1, "storage": EX_CANTCREAT, "busy": EX_TEMPFAIL}.get(str(code), EX_TEMPFAIL)
    return fail(error, status)


def through_agent(config: AgentConfig, request: Mapping[str, Any], timeout_s: float) -> int | None:
    """Ask the running agent to calibrate; its exit status, or None when no agent is running."""
    socket_path = config.runtime.status_socket
    try:
        answers = converse(socket_path, request, timeout_s + ANSWER_GRACE_S)
        first = next(answers)
    except StatusClientError as exc:
        if exc.not_running:
            return None
        text = str(exc)
        if "unknown cmd" in text:
            return fail(
                "the running agent is an older version that cannot calibrate while it runs: "
                f"sudo systemctl stop {SERVICE}; sudo triage-agent calibrate ...; "
                f"sudo systemctl start {SERVICE}",
                EX_UNAVAILABLE,
            )
        if exc.denied:
            return fail(f"the agent is running, but this login may not ask it: {text}", EX_NOPERM)
        return fail(f"cannot calibrate through the running agent: {text}", EX_UNAVAILABLE)
    except TimeoutError:
        return fail(
            f"the agent accepted the connection but did not answer; nothing stored "
            f"(`systemctl status {SERVICE}`)",
            EX_TEMPFAIL,
        )
    if first.get("waiting"):
        say(
            f"step up to the thermometer and hold still; the running agent measures (offset in "
            f"force now {first.get('offset_c', 0.0):+.2f} °C); waiting up to "
            f"{first.get('timeout_s', timeout_s):.0f} s"
        )
    try:
        for line in answers:
            if "progress" in line:
                say(str(line["progress"]))
            if line.get("done"):
                return _final(config, line)
    except TimeoutError:
        return fail(
            "the agent stopped answering; check `triage-agent status` (nothing may be stored)",
            EX_TEMPFAIL,
        )
    return fail(
        f"the agent closed the connection before answering (it stopped or restarted: "
        f"`systemctl status {SERVICE}`); check `triage-agent calibrate --show`",
        EX_TEMPFAIL,
    )


# -- the command -------------------------------------------------------------------------------------
def _show(config: AgentConfig, path: Path) -> int:
    status = 0
    try:
        current = load_calibration(path)
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        current, status = None, EX_CONFIG
    if current is None and status == 0:
        say(
            f"no calibration file at {path}; site_offset_c = {config.screening.site_offset_c:+.2f} °C"
        )
    elif current is not None:
        say(json.dumps(asdict(current), indent=2))
    try:
        snap = fetch_status(config.runtime.status_socket)
    except StatusClientError:
        return status
    live = snap.get("calibration")
    if isinstance(live, dict):
        say(
            f"the running agent screens with offset {live.get('offset_c', 0.0):+.2f} °C "
            f"({live.get('source')})"
        )
        if live.get("problem"):
            say(f"  it cannot use the file: {live['problem']}\n  fix: {live.get('advice')}")
    return status


def _cmd_calibrate(args: argparse.Namespace) -> int:
    try:
        config = load_config(args.config)
        path = calibration_path(config.screening, config.runtime.state_dir)
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return EX_CONFIG
    if not config.thermometer.enabled and args.reference is not None:
        print("thermometer.enabled is false in the config: enable it to calibrate", file=sys.stderr)
        return EX_CONFIG
    if args.show:
        return _show(config, path)
    request: dict[str, Any] = {"cmd": "calibrate", "timeout_s": args.timeout}
    if args.offset is not None:
        offset = round(args.offset, 2)
        if abs(offset) > OFFSET_LIMIT_C:
            return _beyond_limit(offset)
        request["offset_c"] = offset
    else:
        request["reference_c"] = args.reference
    live = through_agent(config, request, args.timeout if args.offset is None else 10.0)
    if live is not None:
        return live
    return _direct(config, path, args)


def add_parser(sub: Any, add_config_arg: Callable[[argparse.ArgumentParser], None]) -> None:
    """Register ``calibrate``."""
    p = sub.add_parser(
        "calibrate",
        help="set the thermometer site offset (through the running agent; no restart needed)",
        description=(
            "Set the site offset of the thermometer. While the agent runs, the command asks it: "
            "the agent measures, stores the file and screens with the new offset at once. When "
            "the agent is not running, the command measures itself (run it with sudo, or as a "
            "member of the port's group with a writable state directory)."
        ),
    )
    add_config_arg(p)
    what = p.add_mutually_exclusive_group(required=True)
    what.add_argument(
        "--reference", type=float, metavar="C", help="reference body temperature (°C) of the person"
    )
    what.add_argument("--offset", type=float, metavar="C", help="store this offset directly")
    what.add_argument("--show", action="store_true", help="print the calibration in force")
    p.add_argument("--timeout", type=float, default=60.0, help="seconds to wait for a reading")
    p.set_defaults(func=_cmd_calibrate)

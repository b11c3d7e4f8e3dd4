"""``triage-agent diag``: checks everything a working box needs, one line each with the fix to try.

Checks, in order: the config file; whether the agent is running; the thermometer (port present and
delivering valid frames); the camera (opens, frame rate); the models (manifest, sha256, one timed
inference); the broker (:mod:`agent.cli.broker_probe`); the outbox (depth and oldest message, read-only);
free disk space; clock synchronisation. Each check says PASS, WARN, FAIL or SKIP; the exit status is 1
when anything FAILs (78 when the config itself is invalid).

While the agent runs it owns the serial port and the camera, so diag then reports their live state
from the agent's status socket instead of opening them a second time (which would steal frames).
Nothing here writes images anywhere.
"""

from __future__ import annotations

import argparse
import ctypes
import ctypes.util
import json
import shutil
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import asdict
from pathlib import Path
from typing import Any, TextIO

from serial import SerialException

from agent.cli.broker_probe import Probe, Verdict, probe_broker
from agent.cli.status import StatusClientError, fetch_status
from agent.cli.terminal import duration, paint, use_colour
from agent.config import EX_CONFIG, AgentConfig, ConfigError, load_config
from agent.thermometer import protocols
from agent.thermometer.link import Link, open_port
from agent.thermometer.records import WireReading

SERIAL_LISTEN_S = 3.0
CAMERA_LISTEN_S = 3.0
DISK_FAIL_BYTES = 100 * 1024 * 1024
DISK_WARN_BYTES = 500 * 1024 * 1024
OUTBOX_WARN_AGE_S = 3600.0
CLOCK_SANE_AFTER = 1_704_067_200.0  # 2024-01-01: earlier means the clock was never set

Check = Probe
_COLOURS = {"PASS": "green", "WARN": "yellow", "FAIL": "red", "SKIP": "dim"}


# -- the agent -----------------------------------------------------------------------------------
def check_agent(cfg: AgentConfig) -> tuple[Check, dict[str, Any] | None]:
    """Is the agent running (status socket answers)? Returns its snapshot when it is."""
    try:
        snap = fetch_status(cfg.runtime.status_socket)
    except StatusClientError as exc:
        first = str(exc).splitlines()[0]
        return Check(
            "agent",
            "WARN",
            f"not reachable: {first}",
            "start it: sudo systemctl start triage-agent (journalctl -u triage-agent -n 50 "
            "tells why it stopped)",
        ), None
    return Check("agent", "PASS", f"running, up {duration(snap.get('uptime_s'))}"), snap


def _live_source(name: str, label: str, snap: Mapping[str, Any], fix: str) -> Check:
    src = (snap.get("sources") or {}).get(label)
    if src is None:
        return Check(name, "SKIP", "the running agent has no such source")
    state = src.get("state")
    fps = src.get("fps")
    rate = f", {fps:.1f}/s" if isinstance(fps, int | float) else ""
    errors = f", {src['errors']} bad reads" if src.get("errors") else ""
    if state == "ok":
        return Check(name, "PASS", f"delivering{rate}{errors} (live, from the running agent)")
    age = src.get("age_s")
    last = f"last data {duration(age)} ago" if age is not None else "no data yet"
    return Check(name, "FAIL", f"{state}: {last}{errors} (live, from the running agent)", fix)


# -- thermometer ---------------------------------------------------------------------------------
_SERIAL_MISSING_FIX = (
    "plug the thermometer in (the udev rule names it /dev/triage-thermometer); list ports with "
    "`ls -l /dev/serial/by-id/`, then set thermometer.port"
)


def check_thermometer(cfg: AgentConfig, live: Mapping[str, Any] | None) -> Check:
    """The serial port exists and delivers frames the configured protocol decodes."""
    t = cfg.thermometer
    if not t.enabled:
        return Check("thermometer", "SKIP", "disabled (thermometer.enabled = false)")
    if t.port == "simulated":
        return Check(
            "thermometer",
            "WARN",
            "simulated: no real thermometer is read",
            "set thermometer.port = '/dev/triage-thermometer' for a real device",
        )
    if live is not None:
        return _live_source(
            "thermometer",
            "thermometer",
            live,
            "check the cable and thermometer.protocol/baudrate; unplug and replug the device",
        )
    if "://" not in t.port and not Path(t.port).exists():
        return Check("thermometer", "FAIL", f"no device at {t.port}", _SERIAL_MISSING_FIX)
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
        return Check("thermometer", "FAIL", f"cannot open {t.port}: {exc}", _SERIAL_MISSING_FIX)
    readings: list[WireReading] = []
    try:
        link = Link(ser, protocols.get(t.protocol))
        end = time.monotonic() + SERIAL_LISTEN_S
        while time.monotonic() < end and len(readings) < 3:
            readings += [r for r in link.poll() if isinstance(r, WireReading)]
    except (SerialException, OSError) as exc:
        return Check(
            "thermometer", "FAIL", f"read from {t.port} failed: {exc}", _SERIAL_MISSING_FIX
        )
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
            f"{where}: {link.bytes_received} bytes in {SERIAL_LISTEN_S:.0f} s but no valid frame",
            "thermometer.protocol or thermometer.baudrate does not match the device ("
            + "; ".join(f"{n}: {p.summary}" for n, p in protocols.PROTOCOLS.items())
            + ")",
        )
    return Check(
        "thermometer",
        "FAIL",
        f"{where}: silent for {SERIAL_LISTEN_S:.0f} s",
        "check the sensor wiring and power; unplug and replug the USB cable",
    )


# -- camera --------------------------------------------------------------------------------------
def check_camera(cfg: AgentConfig, live: Mapping[str, Any] | None) -> Check:
    """The camera opens and delivers frames at (at least most of) ``camera.max_fps``."""
    c = cfg.camera
    if not c.enabled:
        return Check("camera", "SKIP", "disabled (camera.enabled = false)")
    if c.source == "simulated":
        return Check(
            "camera",
            "WARN",
            "simulated: no real camera is read",
            "set camera.source = '/dev/video0' (or the camera's rtsp:// URL)",
        )
    if live is not None:
        return _live_source(
            "camera",
            "camera",
            live,
            "check the camera cable/power or stream URL; see journalctl -u triage-agent",
        )
    from agent.vision.frames import SourceUnavailableError, open_source  # noqa: PLC0415

    try:
        source = open_source(c)
        label = source.spec.label
        source.open()
    except (SourceUnavailableError, ConfigError) as exc:
        return Check(
            "camera",
            "FAIL",
            str(exc),
            "check camera.source; for USB cameras `ls /dev/video*`; run diag with sudo if "
            "access is denied (the service user is in group video)",
        )
    frames = 0
    shape = ""
    try:
        start = time.monotonic()
        end = start + CAMERA_LISTEN_S
        while time.monotonic() < end:
            frame = source.read()
            if frame is None:
                break
            frames += 1
            shape = f"{frame.shape[1]}x{frame.shape[0]}"
            if source.native_fps is not None and frames >= 5:
                break  # files and folders are not paced by a device: a few frames prove it
        elapsed = max(time.monotonic() - start, 1e-6)
    finally:
        source.close()
    if frames == 0:
        return Check(
            "camera",
            "FAIL",
            f"{label} opened but delivered no frame",
            "another program may hold the camera, or the stream is down; check camera.source",
        )
    if source.native_fps is not None:
        return Check("camera", "PASS", f"{label}: frames {shape} (recorded source)")
    fps = frames / elapsed
    if fps < 0.8 * c.max_fps:
        return Check(
            "camera",
            "WARN",
            f"{label}: {fps:.1f} frames/s {shape}, below camera.max_fps = {c.max_fps:g}",
            "improve lighting (dark scenes lower the rate), use a lower resolution, or lower "
            "camera.max_fps",
        )
    return Check("camera", "PASS", f"{label}: {fps:.1f} frames/s {shape}")


# -- models --------------------------------------------------------------------------------------
def _time_inference(path: Path, width: int, height: int, layout: str) -> float:
    import numpy as np  # noqa: PLC0415
    import onnxruntime as ort  # noqa: PLC0415

    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    inp = session.get_inputs()[0]
    shape = (1, 3, height, width) if layout == "NCHW" else (1, height, width, 3)
    dtype = np.uint8 if "uint8" in str(inp.type) else np.float32
    x = np.zeros(shape, dtype=dtype)
    session.run(None, {inp.name: x})  # warm-up
    t0 = time.perf_counter()
    session.run(None, {inp.name: x})
    return (time.perf_counter() - t0) * 1000.0


def check_models(cfg: AgentConfig) -> list[Check]:
    """Each configured model is in the manifest, matches its sha256 and runs once."""
    if not cfg.camera.enabled:
        return [Check("models", "SKIP", "camera disabled: no models needed")]
    from agent.vision.manifest import ModelError, resolve  # noqa: PLC0415

    models_dir = cfg.vision.models_dir
    out: list[Check] = []
    for name in (cfg.vision.face_model, cfg.vision.mask_model):
        label = f"model {name}"
        try:
            spec, path = resolve(models_dir, name)
        except ModelError as exc:
            hint = "reinstall the package (models ship in /opt/triage-agent/models)"
            if not models_dir.is_absolute():
                hint = f"vision.models_dir = {models_dir} is relative: use an absolute path; {hint}"
            out.append(Check(label, "FAIL", str(exc), hint))
            continue
        try:
            ms = _time_inference(path, spec.input.width, spec.input.height, spec.input.layout)
        except Exception as exc:
            out.append(
                Check(
                    label,
                    "FAIL",
                    f"{path.name} does not run in onnxruntime: {exc}",
                    "the model file does not fit its manifest entry; reinstall the package",
                )
            )
            continue
        out.append(
            Check(
                label, "PASS", f"{path.name} sha256 ok, one inference {ms:.1f} ms ({spec.family})"
            )
        )
    return out


# -- outbox, disk, clock ---------------------------------------------------------------------------
def check_outbox(cfg: AgentConfig) -> Check:
    """Messages waiting for the broker and the oldest one's age (file opened read-only)."""
    path = cfg.outbox.path
    if not path.exists():
        return Check(
            "outbox",
            "WARN" if path.parent.exists() else "FAIL",
            f"{path} does not exist yet",
            None
            if path.parent.exists()
            else f"create {path.parent} writable by the agent (the package does this)",
        )
    try:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=2.0)
        try:
            depth, oldest = db.execute("SELECT COUNT(*), MIN(created) FROM messages").fetchone()
        finally:
            db.close()
    except sqlite3.Error as exc:
        fix = "run diag with sudo" if "unable to open" in str(exc) else "see journalctl"
        return Check("outbox", "WARN", f"cannot read {path}: {exc}", fix)
    age = None if oldest is None else max(0.0, time.time() - float(oldest))
    detail = f"{depth} message(s) waiting" + (f", oldest {duration(age)}" if age else "")
    if depth >= 0.9 * cfg.outbox.max_messages:
        return Check(
            "outbox",
            "FAIL",
            detail + f" (limit {cfg.outbox.max_messages}: the oldest are being dropped)",
            "fix the broker connection (see the broker lines above)",
        )
    if age is not None and age > OUTBOX_WARN_AGE_S:
        return Check(
            "outbox", "WARN", detail, "events are not reaching the broker: see the broker lines"
        )
    return Check("outbox", "PASS", detail)


def _existing_parent(path: Path) -> Path:
    p = path
    while not p.exists() and p != p.parent:
        p = p.parent
    return p


def check_disk(cfg: AgentConfig) -> Check:
    """Free space where the outbox lives."""
    where = _existing_parent(cfg.outbox.path.parent)
    usage = shutil.disk_usage(where)
    free_mb = usage.free / 1024 / 1024
    detail = f"{free_mb:,.0f} MB free of {usage.total / 1024 / 1024:,.0f} MB on {where}"
    fix = "free disk space: `sudo journalctl --vacuum-size=100M`, remove old files"
    if usage.free < DISK_FAIL_BYTES:
        return Check("disk", "FAIL", detail, fix)
    if usage.free < DISK_WARN_BYTES or usage.free < 0.05 * usage.total:
        return Check("disk", "WARN", detail, fix)
    return Check("disk", "PASS", detail)


def _timedatectl_synced() -> bool | None:
    if shutil.which("timedatectl") is None:
        return None
    try:
        res = subprocess.run(
            ["timedatectl", "show", "-p", "NTPSynchronized", "--value"],
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    value = res.stdout.strip()
    return None if res.returncode != 0 or value not in ("yes", "no") else value == "yes"


def _adjtimex_synced() -> bool | None:
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    try:
        libc = ctypes.CDLL(name, use_errno=True)
        buf = ctypes.create_string_buffer(512)  # struct timex with modes = 0: read only
        state = int(libc.adjtimex(buf))
    except (OSError, AttributeError):
        return None
    if state < 0:
        return None
    return state != 5  # TIME_ERROR: the kernel clock is not synchronised


def check_clock(synced: Callable[[], bool | None] | None = None) -> Check:
    """The system clock is synchronised (timedatectl, else the kernel's adjtimex state)."""
    state = synced() if synced is not None else _timedatectl_synced()
    if state is None and synced is None:
        state = _adjtimex_synced()
    now = time.time()
    shown = time.strftime("%Y-%m-%d %H:%M:%S %Z", time.localtime(now))
    fix = (
        "enable time synchronisation: `sudo timedatectl set-ntp true`; the clinic network must "
        "allow NTP (UDP 123) or configure a local NTP server"
    )
    if now < CLOCK_SANE_AFTER:
        return Check("clock", "FAIL", f"clock reads {shown}: it was never set", fix)
    if state is None:
        return Check("clock", "WARN", f"{shown}; synchronisation state unknown", fix)
    if not state:
        return Check("clock", "WARN", f"{shown}; NOT synchronised", fix)
    return Check("clock", "PASS", f"{shown}, synchronised")


# -- running it all ------------------------------------------------------------------------------
def run_checks(cfg: AgentConfig, *, broker: bool = True) -> Iterator[Check]:
    """Every check after the config one, in order (a generator: lines print as they finish)."""
    agent, snap = check_agent(cfg)
    yield agent
    yield check_thermometer(cfg, snap)
    yield check_camera(cfg, snap)
    yield from check_models(cfg)
    if broker:
        yield from probe_broker(cfg)
    yield check_outbox(cfg)
    yield check_disk(cfg)
    yield check_clock()


def render(check: Check, colour: bool) -> str:
    """``PASS  name  detail`` plus an indented ``fix:`` line when there is one."""
    tag = paint(f"{check.verdict:<4}", _COLOURS[check.verdict], colour)
    line = f"{tag}  {check.name:<21} {check.detail}"
    if check.fix and check.verdict in ("WARN", "FAIL"):
        line += f"\n      {'':<21} fix: {check.fix}"
    return line


def exit_status(checks: list[Check]) -> int:
    """1 when any check FAILed, else 0."""
    return 1 if any(c.verdict == "FAIL" for c in checks) else 0


def diagnose(config: Path, out: TextIO, *, as_json: bool = False, broker: bool = True) -> int:
    """Run every check for the config file ``config``, print them, return the exit status."""
    colour = use_colour(out) and not as_json
    checks: list[Check] = []

    def emit(check: Check) -> None:
        checks.append(check)
        if not as_json:
            print(render(check, colour), file=out, flush=True)

    try:
        cfg = load_config(config)
    except ConfigError as exc:
        emit(
            Check(
                "config",
                "FAIL",
                str(exc).replace("\n", "\n" + " " * 29),
                f"edit {config}, then run `triage-agent config check {config}`",
            )
        )
        status = EX_CONFIG
    else:
        emit(Check("config", "PASS", f"{config} valid (device {cfg.device.device_id})"))
        for check in run_checks(cfg, broker=broker):
            emit(check)
        status = exit_status(checks)
    if as_json:
        doc = {"ok": status == 0, "checks": [asdict(c) for c in checks]}
        print(json.dumps(doc, indent=2), file=out)
    else:
        verdicts: dict[Verdict, int] = {"PASS": 0, "WARN": 0, "FAIL": 0, "SKIP": 0}
        for c in checks:
            verdicts[c.verdict] += 1
        summary = ", ".join(f"{n} {v}" for v, n in verdicts.items() if n)
        print(f"\n{summary}", file=out)
    return status


def _cmd_diag(args: argparse.Namespace) -> int:
    return diagnose(Path(args.config), sys.stdout, as_json=args.json, broker=not args.no_broker)


def add_parser(sub: Any, add_config_arg: Callable[[argparse.ArgumentParser], None]) -> None:
    """Register ``diag``."""
    p = sub.add_parser(
        "diag", help="check config, thermometer, camera, models, broker, outbox, disk and clock"
    )
    add_config_arg(p)
    p.add_argument("--json", action="store_true", help="print the results as JSON")
    p.add_argument("--no-broker", action="store_true", help="skip the broker checks (offline)")
    p.set_defaults(func=_cmd_diag)

"""Site calibration of the thermometer: the ``calibrate`` command and the calibration file.

``triage-agent calibrate --reference 36.6`` takes one live presentation from the configured
thermometer (screening with offset 0, ambient correction as configured), and stores
``offset = reference - estimate``; ``--offset X`` stores an offset directly; ``--show`` prints the
offset in force. The file (``screening.calibration_file``, default
``<runtime.state_dir>/calibration.json``) is written atomically: temp file in the same folder,
fsync, ``os.replace``, fsync of the folder, so a power cut leaves the old or the new file, never a
torn one. At start the screening analyser uses its offset instead of ``screening.site_offset_c``;
an unreadable file stops the agent with a config error (exit 78) rather than screen with a wrong
offset.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import queue
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from agent.config import EX_CONFIG, AgentConfig, ConfigError, load_config
from agent.events import TemperatureEvent

FILE_VERSION = 1
OFFSET_LIMIT_C = 5.0


@dataclass(frozen=True, slots=True)
class Calibration:
    """What the calibration file holds."""

    offset_c: float
    at: float
    method: str
    """'reference' (measured against a reference thermometer) or 'manual' (--offset)."""
    reference_c: float | None = None
    estimate_c: float | None = None
    """The uncalibrated screening estimate the reference was compared with."""


def calibration_path(config: AgentConfig) -> Path:
    """Where the calibration file lives for ``config``."""
    return config.screening.calibration_file or config.runtime.state_dir / "calibration.json"


def load_calibration(path: Path) -> Calibration | None:
    """The stored calibration, None when there is none; ConfigError when the file is unusable."""
    try:
        raw: Any = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise ConfigError(
            f"calibration file {path} is unreadable ({exc}); re-run `triage-agent calibrate` "
            "or remove the file to fall back to screening.site_offset_c"
        ) from None
    try:
        if raw.get("version") != FILE_VERSION:
            raise ValueError(f"version {raw.get('version')!r}, expected {FILE_VERSION}")
        offset = float(raw["offset_c"])
        if not math.isfinite(offset) or abs(offset) > OFFSET_LIMIT_C:
            raise ValueError(f"offset_c {offset} outside ±{OFFSET_LIMIT_C}")
        ref = raw.get("reference_c")
        est = raw.get("estimate_c")
        return Calibration(
            offset_c=offset,
            at=float(raw.get("at", 0.0)),
            method=str(raw.get("method", "manual")),
            reference_c=None if ref is None else float(ref),
            estimate_c=None if est is None else float(est),
        )
    except (AttributeError, KeyError, TypeError, ValueError) as exc:
        raise ConfigError(
            f"calibration file {path} is invalid ({exc}); re-run `triage-agent calibrate` "
            "or remove the file to fall back to screening.site_offset_c"
        ) from None


def save_calibration(path: Path, cal: Calibration) -> None:
    """Write ``cal`` atomically (temp file + fsync + os.replace + directory fsync)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    data = json.dumps({"version": FILE_VERSION, **asdict(cal)}, indent=2) + "\n"
    fd, tmp = tempfile.mkstemp(prefix=".calibration-", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def effective_offset(config: AgentConfig) -> float:
    """The site offset in force: the calibration file's, else ``screening.site_offset_c``."""
    cal = load_calibration(calibration_path(config))
    return config.screening.site_offset_c if cal is None else cal.offset_c


def measure_once(
    config: AgentConfig, timeout_s: float, progress: Callable[[str], None] | None = None
) -> TemperatureEvent | None:
    """Run the configured thermometer until one presentation reaches a plateau (offset 0)."""
    from agent.thermometer import build_source  # noqa: PLC0415 (thermometer imports us lazily)
    from agent.thermometer.screening import ScreeningAnalyser  # noqa: PLC0415

    sources = [build_source(config)]
    analyser = ScreeningAnalyser(config.screening, offset_c=0.0)
    observations: queue.Queue[object] = queue.Queue(maxsize=1000)

    def emit(obs: object) -> None:
        with contextlib.suppress(queue.Full):
            observations.put_nowait(obs)

    for s in sources:
        s.start(emit)
    try:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            try:
                obs = observations.get(timeout=0.5)
            except queue.Empty:
                events = list(analyser.tick(time.time()))
            else:
                events = list(analyser.feed(obs))
            for ev in events:
                if isinstance(ev, TemperatureEvent):
                    if ev.plateau_s > 0:
                        return ev
                    if progress is not None:
                        progress(
                            "no stable reading (moved too soon?); step up again and hold still"
                        )
        return None
    finally:
        for s in sources:
            s.stop()


def _store(path: Path, cal: Calibration) -> int:
    if abs(cal.offset_c) > OFFSET_LIMIT_C:
        print(
            f"offset {cal.offset_c:+.2f} °C is beyond ±{OFFSET_LIMIT_C} °C: check the reference "
            "reading and that the person stood in front of the sensor; nothing stored",
            file=sys.stderr,
        )
        return 1
    try:
        save_calibration(path, cal)
    except OSError as exc:
        print(f"cannot write calibration file {path}: {exc}", file=sys.stderr)
        return 73  # EX_CANTCREAT
    print(f"stored offset {cal.offset_c:+.2f} °C in {path} (used from the next agent start)")
    return 0


def _cmd_calibrate(args: argparse.Namespace) -> int:
    try:
        config = load_config(args.config)
        path = calibration_path(config)
        current = load_calibration(path) if args.show else None
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return EX_CONFIG
    if not config.thermometer.enabled and args.reference is not None:
        print("thermometer.enabled is false in the config: enable it to calibrate", file=sys.stderr)
        return EX_CONFIG
    if args.show:
        if current is None:
            print(
                f"no calibration file at {path}; site_offset_c = {config.screening.site_offset_c:+.2f} °C"
            )
        else:
            print(json.dumps(asdict(current), indent=2))
        return 0
    if args.offset is not None:
        return _store(
            path, Calibration(offset_c=round(args.offset, 2), at=time.time(), method="manual")
        )
    print(
        f"step up to the thermometer ({config.thermometer.port}) and hold still; "
        f"waiting up to {args.timeout:.0f} s",
        flush=True,
    )
    ev = measure_once(config, args.timeout, progress=lambda m: print(m, flush=True))
    if ev is None:
        print(
            f"no stable presentation within {args.timeout:.0f} s: check the thermometer "
            "(`triage-agent status`) and try again; nothing stored",
            file=sys.stderr,
        )
        return 1
    offset = round(args.reference - ev.estimate_c, 2)
    print(f"uncalibrated estimate {ev.estimate_c:.2f} °C, reference {args.reference:.2f} °C")
    return _store(
        path,
        Calibration(
            offset_c=offset,
            at=time.time(),
            method="reference",
            reference_c=args.reference,
            estimate_c=ev.estimate_c,
        ),
    )


def add_parser(sub: Any, add_config_arg: Callable[[argparse.ArgumentParser], None]) -> None:
    """Register ``calibrate``."""
    p = sub.add_parser("calibrate", help="set the thermometer site offset (reference reading)")
    add_config_arg(p)
    what = p.add_mutually_exclusive_group(required=True)
    what.add_argument(
        "--reference", type=float, metavar="C", help="reference body temperature (°C) of the person"
    )
    what.add_argument("--offset", type=float, metavar="C", help="store this offset directly")
    what.add_argument("--show", action="store_true", help="print the calibration in force")
    p.add_argument("--timeout", type=float, default=60.0, help="seconds to wait for a reading")
    p.set_defaults(func=_cmd_calibrate)

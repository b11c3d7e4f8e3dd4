"""``triage-agent calibrate``: set the thermometer's site offset (the file: :mod:`agent.thermometer.calibration`).

``triage-agent calibrate --reference 36.6`` takes one live presentation from the configured
thermometer (screening with offset 0, ambient correction as configured) through the same engine the
service runs, and stores ``offset = reference - estimate``; ``--offset X`` stores an offset directly;
``--show`` prints the offset in force.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

from agent.config import EX_CONFIG, AgentConfig, ConfigError, load_config
from agent.flow.engine import Engine
from agent.flow.events import Event, TemperatureEvent
from agent.thermometer import build_source
from agent.thermometer.calibration import (
    OFFSET_LIMIT_C,
    Calibration,
    calibration_path,
    load_calibration,
    save_calibration,
)
from agent.thermometer.screening import ScreeningAnalyser

TICK_S = 0.5


def measure_once(
    config: AgentConfig, timeout_s: float, progress: Callable[[str], None] | None = None
) -> TemperatureEvent | None:
    """Run the configured thermometer until one presentation reaches a plateau (offset 0)."""
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
                engine.tick(time.time())
            while results:
                ev = results.pop(0)
                if ev.plateau_s > 0:
                    return ev
                if progress is not None:
                    progress("no stable reading (moved too soon?); step up again and hold still")
        return None
    finally:
        source.stop()


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
        path = calibration_path(config.screening, config.runtime.state_dir)
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

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

The command (this module) chooses: :mod:`~agent.cli.calibrate.through_agent` when the agent runs,
else :mod:`~agent.cli.calibrate.direct`; :mod:`~agent.cli.calibrate.common` holds the exit statuses.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

from agent.cli.calibrate.common import say
from agent.cli.calibrate.direct import beyond_limit, calibrate_directly
from agent.cli.calibrate.through_agent import through_agent
from agent.cli.status import StatusClientError, fetch_status
from agent.config import EX_CONFIG, AgentConfig, ConfigError, load_config
from agent.thermometer.calibration import OFFSET_LIMIT_C, calibration_path, load_calibration


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
            return beyond_limit(offset)
        request["offset_c"] = offset
    else:
        request["reference_c"] = args.reference
    live = through_agent(config, request, args.timeout if args.offset is None else 10.0)
    if live is not None:
        return live
    return calibrate_directly(config, path, args)


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

"""``triage-agent diag``: checks everything a working box needs, one line each with the fix to try.

Each check is one module here, reaching the box through the runtime's own code: ``config``
(:func:`agent.config.load_config`), ``agent`` (the status socket), ``thermometer`` (the protocol
registry's start bytes and decoder through :mod:`agent.thermometer.link`), ``calibration`` (the
offset file as ``run`` loads it), ``camera`` (:func:`agent.vision.capture.frames.open_source`), ``camera reference`` (the commissioned
reference of the tamper checks, as ``run`` loads it, and open camera alerts), ``models``
(:func:`agent.vision.load_inference`, so diag FAILs exactly when ``run`` exits 78 on the models),
``broker`` (the publisher's client and TLS context, step by step), ``outbox``
(:meth:`agent.wire.outbox.Outbox.inspect`, read-only), ``disk`` and ``clock``. Each says PASS, WARN,
FAIL or SKIP; the exit status is 1 when anything FAILs (78 when the config itself is invalid).

Adding a check is one module with ``check(ctx: Context) -> list[Check]`` (:mod:`.check`) and one
line in :data:`CHECKS`. Nothing here writes images anywhere.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO

from agent.cli.diag import (
    broker,
    calibration,
    camera,
    camera_reference,
    clock,
    disk,
    models,
    outbox,
    runner,
    thermometer,
)
from agent.cli.diag.check import CheckFn

CHECKS: tuple[CheckFn, ...] = (
    thermometer.check,
    calibration.check,
    camera.check,
    camera_reference.check,
    models.check,
    broker.check,
    outbox.check,
    disk.check,
    clock.check,
)
"""Every check after ``config`` and ``agent``, in the order they run and print."""


def diagnose(config: Path, out: TextIO, *, as_json: bool = False, broker: bool = True) -> int:
    """Run every check for the config file ``config``, print them, return the exit status."""
    return runner.diagnose(config, out, CHECKS, as_json=as_json, broker=broker)


def _cmd_diag(args: argparse.Namespace) -> int:
    return diagnose(Path(args.config), sys.stdout, as_json=args.json, broker=not args.no_broker)


def add_parser(sub: Any, add_config_arg: Callable[[argparse.ArgumentParser], None]) -> None:
    """Register ``diag``."""
    p = sub.add_parser(
        "diag",
        help="check config, thermometer, camera, models, broker, outbox, disk and clock",
    )
    add_config_arg(p)
    p.add_argument("--json", action="store_true", help="print the results as JSON")
    p.add_argument("--no-broker", action="store_true", help="skip the broker checks (offline)")
    p.set_defaults(func=_cmd_diag)

"""The ``calibration`` check: the offset in force, and a calibration file the agent cannot use.

While the agent runs, its own view is reported (the offset it screens with, where it comes from,
and why it cannot use the file, if so): only the agent knows what it could read. Otherwise the file
is loaded as this user and judged for the service user too (owner, group and mode: a file only root
can read FAILs even when ``sudo diag`` could read it). An unusable file never stops the agent, it
screens with the last good offset (``screening.site_offset_c`` from a start), so this is a FAIL
with the fix, not a reason the agent is down.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from agent.cli.diag.check import Check, Context
from agent.config import AgentConfig, ConfigError
from agent.thermometer.calibration import (
    calibration_path,
    effective_offset,
    permission_advice,
    readable_by_folder_owner,
)

CALIBRATE = (
    "store the offset again with `triage-agent calibrate --reference C` while the agent runs"
)


def _live(cal: Mapping[str, Any]) -> Check:
    offset = f"{cal.get('offset_c', 0.0):+.2f} °C"
    if cal.get("problem"):
        return Check(
            "calibration",
            "FAIL",
            f"{cal['problem']}; screening goes on with offset {offset} ({cal.get('source')}) "
            "(live, from the running agent)",
            str(cal.get("advice") or CALIBRATE),
        )
    if cal.get("source") == "calibration file":
        how = f", {cal['method']}" if cal.get("method") else ""
        where = f"{cal.get('file')}{how}"
    else:
        where = "screening.site_offset_c (no calibration file)"
    return Check(
        "calibration", "PASS", f"offset {offset} from {where} (live, from the running agent)"
    )


def check_calibration(cfg: AgentConfig, live: Mapping[str, Any] | None = None) -> Check:
    """The offset in force (the calibration file's, else ``screening.site_offset_c``)."""
    if not cfg.thermometer.enabled:
        return Check("calibration", "SKIP", "thermometer disabled: no offset used")
    if live is not None and isinstance(live.get("calibration"), dict):
        return _live(live["calibration"])
    path = calibration_path(cfg.screening, cfg.runtime.state_dir)
    try:
        offset = effective_offset(cfg.screening, cfg.runtime.state_dir)
    except ConfigError as exc:
        return Check(
            "calibration",
            "FAIL",
            f"{exc} (the agent screens with screening.site_offset_c meanwhile)",
            f"{CALIBRATE}, or remove {path} to use screening.site_offset_c",
        )
    unreadable = readable_by_folder_owner(path)
    if unreadable is not None:
        return Check(
            "calibration",
            "FAIL",
            f"{path}: {unreadable}; the agent would screen with screening.site_offset_c",
            permission_advice(path),
        )
    source = str(path) if path.exists() else "screening.site_offset_c (no calibration file)"
    return Check("calibration", "PASS", f"offset {offset:+.2f} °C from {source}")


def check(ctx: Context) -> list[Check]:
    """Registry entry."""
    return [check_calibration(ctx.cfg, ctx.live)]

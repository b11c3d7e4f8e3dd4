"""The ``calibration`` check: the site offset file loads as ``run`` loads it.

``run`` exits 78 when the file written by ``triage-agent calibrate`` exists but is unusable; this
check calls the same :func:`agent.thermometer.calibration.effective_offset`, so it FAILs then too.
"""

from __future__ import annotations

from agent.cli.diag.check import Check, Context
from agent.config import AgentConfig, ConfigError
from agent.thermometer.calibration import calibration_path, effective_offset


def check_calibration(cfg: AgentConfig) -> Check:
    """The offset in force (the calibration file's, else ``screening.site_offset_c``)."""
    if not cfg.thermometer.enabled:
        return Check("calibration", "SKIP", "thermometer disabled: no offset used")
    path = calibration_path(cfg.screening, cfg.runtime.state_dir)
    try:
        offset = effective_offset(cfg.screening, cfg.runtime.state_dir)
    except ConfigError as exc:
        return Check(
            "calibration",
            "FAIL",
            str(exc),
            f"run `triage-agent calibrate` again, or remove {path} to use screening.site_offset_c",
        )
    source = str(path) if path.exists() else "screening.site_offset_c (no calibration file)"
    return Check("calibration", "PASS", f"offset {offset:+.2f} °C from {source}")


def check(ctx: Context) -> list[Check]:
    """Registry entry."""
    return [check_calibration(ctx.cfg)]

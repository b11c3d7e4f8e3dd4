"""The ``config`` check: the file loads exactly as ``run`` loads it (:func:`agent.config.load_config`).

When it FAILs nothing else can be checked and ``diag`` exits 78, like ``run``.
"""

from __future__ import annotations

from pathlib import Path

from agent.cli.diag.check import Check
from agent.config import AgentConfig, ConfigError, load_config

_INDENT = " " * 29  # continuation lines line up under the detail column of the rendered line


def check_config(path: Path) -> tuple[Check, AgentConfig | None]:
    """The check and, when the file is valid, the config every other check reads."""
    try:
        cfg = load_config(path)
    except ConfigError as exc:
        return Check(
            "config",
            "FAIL",
            str(exc).replace("\n", "\n" + _INDENT),
            f"edit {path}, then run `triage-agent config check {path}`",
        ), None
    return Check("config", "PASS", f"{path} valid (device {cfg.device.device_id})"), cfg

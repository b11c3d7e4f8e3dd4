"""The ``disk`` check: free space where the outbox lives."""

from __future__ import annotations

import shutil
from pathlib import Path

from agent.cli.diag.check import Check, Context
from agent.config import AgentConfig

FAIL_BYTES = 100 * 1024 * 1024
WARN_BYTES = 500 * 1024 * 1024


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
    if usage.free < FAIL_BYTES:
        return Check("disk", "FAIL", detail, fix)
    if usage.free < WARN_BYTES or usage.free < 0.05 * usage.total:
        return Check("disk", "WARN", detail, fix)
    return Check("disk", "PASS", detail)


def check(ctx: Context) -> list[Check]:
    """Registry entry."""
    return [check_disk(ctx.cfg)]

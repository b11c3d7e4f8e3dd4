"""The ``outbox`` check: messages waiting for the broker and the oldest one's age.

Read through :meth:`agent.wire.outbox.Outbox.inspect` (read-only: the file is never created or
written, and the running agent may own it).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from agent.cli.diag.check import Check, Context
from agent.cli.terminal import duration
from agent.config import AgentConfig
from agent.wire.outbox import Outbox, OutboxError

WARN_AGE_S = 3600.0
FULL_FRACTION = 0.9


def check_outbox(cfg: AgentConfig) -> Check:
    """Depth, oldest message and evictions; FAIL near the bound, WARN when messages get old."""
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
        state = Outbox.inspect(path, max_age_s=cfg.outbox.max_age_s)
    except OutboxError as exc:
        if exc.cause == "corrupt":
            return Check(
                "outbox",
                "FAIL",
                str(exc),
                "the agent moves a corrupt outbox aside at its next start: "
                "sudo systemctl restart triage-agent",
            )
        fix = "run diag with sudo" if "unable to open" in str(exc) else "see journalctl"
        return Check("outbox", "WARN", str(exc), fix)
    age = state.oldest_age_s
    detail = f"{state.depth} message(s) waiting" + (f", oldest {duration(age)}" if age else "")
    if state.evicted:
        detail += f"; {state.evicted} dropped by the bounds so far"
    limit = cfg.outbox.max_messages
    if state.depth >= FULL_FRACTION * limit:
        return Check(
            "outbox",
            "FAIL",
            detail + f" (limit {limit}: the oldest are being dropped)",
            "fix the broker connection (see the broker lines above)",
        )
    if age is not None and age > WARN_AGE_S:
        return Check(
            "outbox", "WARN", detail, "events are not reaching the broker: see the broker lines"
        )
    return Check("outbox", "PASS", detail)


def check_live_storage(live: Mapping[str, Any] | None) -> Check | None:
    """The running agent's own view of its outbox: a storage fault, a replaced outbox."""
    box = (live or {}).get("outbox") or {}
    if box.get("storage"):
        return Check(
            "outbox storage",
            "FAIL",
            f"the running agent cannot write its outbox: {box['storage']} "
            f"({box.get('kept_in_memory', 0)} event(s) waiting in memory, "
            f"{box.get('published_directly', 0)} sent straight to the broker; sensing continues)",
            str(box.get("advice") or "free space or fix the disk (see the disk line)"),
        )
    notices = box.get("notices") or []
    if notices:
        return Check(
            "outbox storage",
            "WARN",
            str(notices[-1]),
            "the damaged file was kept beside the outbox for forensics; check the SD card",
        )
    return None


def check(ctx: Context) -> list[Check]:
    """Registry entry."""
    live = check_live_storage(ctx.live)
    return [check_outbox(ctx.cfg)] + ([live] if live is not None else [])

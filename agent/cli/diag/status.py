"""The ``agent`` check: is the agent running (its status socket answers)? And its live sources.

The snapshot it returns becomes :attr:`.check.Context.live`; :func:`live_source` turns one of its
sources into a check for the thermometer and camera checks.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from agent.cli.diag.check import Check
from agent.cli.status import StatusClientError, fetch_status
from agent.cli.terminal import duration
from agent.config import AgentConfig


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


def live_source(name: str, label: str, snap: Mapping[str, Any], fix: str) -> Check:
    """The running agent's view of its source ``label`` as the check ``name``."""
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

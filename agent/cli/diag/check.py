"""What every ``diag`` check shares: the :class:`Check` it reports and the :class:`Context` it reads.

A check is a function ``check(ctx) -> list[Check]`` in its own module, registered by one line in
:data:`agent.cli.diag.CHECKS`. It says PASS, WARN, FAIL or SKIP, and for WARN/FAIL the fix to try.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from agent.config import AgentConfig

Verdict = Literal["PASS", "WARN", "FAIL", "SKIP"]


@dataclass(frozen=True, slots=True)
class Check:
    """The outcome of one check (or one step of one, such as ``broker tls``)."""

    name: str
    verdict: Verdict
    detail: str
    fix: str | None = None


@dataclass(frozen=True, slots=True)
class Context:
    """What the checks after ``config`` and ``agent`` read."""

    cfg: AgentConfig
    live: Mapping[str, Any] | None = None
    """The running agent's status snapshot; None when it is not running. While it runs it owns the
    serial port and the camera, so those checks report its live state instead of opening them."""
    broker: bool = True
    """False with ``--no-broker`` (offline): the broker steps are left out."""


CheckFn = Callable[[Context], list[Check]]

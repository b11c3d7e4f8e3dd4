"""Running the ``diag`` checks: order, printing (text or ``--json``) and the exit status.

``config`` comes first (exit 78 when it FAILs, nothing else runs), then ``agent`` (its status
snapshot becomes :attr:`.check.Context.live`), then every registered check in order. Lines print as
each check finishes. The exit status is 1 when anything FAILed, else 0.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import TextIO

from agent.cli.diag.check import Check, CheckFn, Context, Verdict
from agent.cli.diag.config import check_config
from agent.cli.diag.status import check_agent
from agent.cli.terminal import paint, use_colour
from agent.config import EX_CONFIG, AgentConfig

_COLOURS = {"PASS": "green", "WARN": "yellow", "FAIL": "red", "SKIP": "dim"}


def run_checks(
    cfg: AgentConfig, checks: Sequence[CheckFn], *, broker: bool = True
) -> Iterator[Check]:
    """``agent`` and then every check in ``checks`` (a generator: lines print as they finish)."""
    agent, snap = check_agent(cfg)
    yield agent
    ctx = Context(cfg, snap, broker=broker)
    for fn in checks:
        yield from fn(ctx)


def render(check: Check, colour: bool) -> str:
    """``PASS  name  detail`` plus an indented ``fix:`` line when there is one."""
    tag = paint(f"{check.verdict:<4}", _COLOURS[check.verdict], colour)
    line = f"{tag}  {check.name:<21} {check.detail}"
    if check.fix and check.verdict in ("WARN", "FAIL"):
        line += f"\n      {'':<21} fix: {check.fix}"
    return line


def exit_status(checks: list[Check]) -> int:
    """1 when any check FAILed, else 0."""
    return 1 if any(c.verdict == "FAIL" for c in checks) else 0


def diagnose(
    config: Path,
    out: TextIO,
    checks: Sequence[CheckFn],
    *,
    as_json: bool = False,
    broker: bool = True,
) -> int:
    """Run ``config``, ``agent`` and ``checks`` for the file ``config``; print; return the status."""
    colour = use_colour(out) and not as_json
    done: list[Check] = []

    def emit(check: Check) -> None:
        done.append(check)
        if not as_json:
            print(render(check, colour), file=out, flush=True)

    first, cfg = check_config(config)
    emit(first)
    if cfg is None:
        status = EX_CONFIG
    else:
        for check in run_checks(cfg, checks, broker=broker):
            emit(check)
        status = exit_status(done)
    if as_json:
        doc = {"ok": status == 0, "checks": [asdict(c) for c in done]}
        print(json.dumps(doc, indent=2), file=out)
    else:
        verdicts: dict[Verdict, int] = {"PASS": 0, "WARN": 0, "FAIL": 0, "SKIP": 0}
        for c in done:
            verdicts[c.verdict] += 1
        summary = ", ".join(f"{n} {v}" for v, n in verdicts.items() if n)
        print(f"\n{summary}", file=out)
    return status

"""What both ways of calibrating share: exit statuses, and the two ways they speak to the terminal."""

from __future__ import annotations

import sys

from agent.cli.status import SERVICE

TICK_S = 0.5
EX_UNAVAILABLE = 69
EX_CANTCREAT = 73
EX_TEMPFAIL = 75
EX_NOPERM = 77
ANSWER_GRACE_S = 15.0
"""How much longer than ``--timeout`` the command waits for the running agent's final answer."""
LOST_AFTER_S = 5.0
"""Direct measurement: the port down (or open without a valid frame) this long ends it."""

RESTART_HINT = f"sudo systemctl start {SERVICE}"


def say(message: str) -> None:
    print(message, flush=True)


def fail(message: str, status: int) -> int:
    print(message, file=sys.stderr, flush=True)
    return status

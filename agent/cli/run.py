"""``triage-agent run``: the systemd service's main job (the service itself is :mod:`agent.service`)."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

from agent.config import load_config
from agent.service.logs import setup_logging
from agent.service.pipeline import run


def _cmd_run(args: argparse.Namespace) -> int:
    cfg = load_config(args.config)
    setup_logging(cfg.runtime.log_level)
    return run(cfg)


def add_parser(sub: Any, add_config_arg: Callable[[argparse.ArgumentParser], None]) -> None:
    """Register ``run``."""
    p = sub.add_parser("run", help="run the agent (the systemd service's main job)")
    add_config_arg(p)
    p.set_defaults(func=_cmd_run)

"""``triage-agent run``: the systemd service's main job (the service itself is :mod:`agent.service`)."""

from __future__ import annotations

import argparse
import logging
from collections.abc import Callable
from typing import Any

from agent.config import exposed_secrets_warning, load_config, secrets_of
from agent.flow.redact import remember
from agent.service.logs import setup_logging
from agent.service.pipeline import run


def _cmd_run(args: argparse.Namespace) -> int:
    cfg = load_config(args.config)
    remember(secrets_of(cfg))
    setup_logging(cfg.runtime.log_level)
    exposed = exposed_secrets_warning(args.config, cfg)
    if exposed:
        logging.getLogger(__name__).warning("%s", exposed)
    return run(cfg)


def add_parser(sub: Any, add_config_arg: Callable[[argparse.ArgumentParser], None]) -> None:
    """Register ``run``."""
    p = sub.add_parser("run", help="run the agent (the systemd service's main job)")
    add_config_arg(p)
    p.set_defaults(func=_cmd_run)

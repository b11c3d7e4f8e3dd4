"""``triage-agent run``: the systemd service's main job (the service itself is :mod:`agent.service`)."""

from __future__ import annotations

import argparse
import logging
import os
import sys
import threading
from collections.abc import Callable
from typing import Any

from agent.config import exposed_secrets_warning, load_config, secrets_of, simulation_warnings
from agent.flow.redact import remember
from agent.service.logs import setup_logging
from agent.service.pipeline import run

log = logging.getLogger(__name__)


def _cmd_run(args: argparse.Namespace) -> int:
    cfg = load_config(args.config)
    remember(secrets_of(cfg))
    setup_logging(cfg.runtime.log_level)
    exposed = exposed_secrets_warning(args.config, cfg)
    for warning in [*simulation_warnings(cfg), *([exposed] if exposed else [])]:
        log.warning("%s", warning)
    return exit_past_stuck_threads(run(cfg))


def exit_past_stuck_threads(status: int) -> int:
    """Return ``status``, or end the process with it at once when source threads are still running.

    A source thread that did not stop in time (left behind by ``flow.threaded``, for example in the
    middle of a slow onnxruntime inference) must not live into interpreter finalisation: Python then
    ends daemon threads with ``pthread_exit``, whose unwinding through onnxruntime's C++ frames
    aborts the process ("terminate called without an active exception", SIGABRT and a core dump
    after "stopped cleanly"; seen under arm64 emulation, tests/test_arm64.py). Everything is stopped
    and flushed by now, so skipping finalisation loses nothing.
    """
    main = threading.main_thread()
    stuck = [t.name for t in threading.enumerate() if t is not main and t.is_alive()]
    if not stuck:
        return status
    log.warning(
        "threads still running at exit (%s): exiting without finalisation", ", ".join(stuck)
    )
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)


def add_parser(sub: Any, add_config_arg: Callable[[argparse.ArgumentParser], None]) -> None:
    """Register ``run``."""
    p = sub.add_parser("run", help="run the agent (the systemd service's main job)")
    add_config_arg(p)
    p.set_defaults(func=_cmd_run)

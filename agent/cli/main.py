"""The ``triage-agent`` command line: argument parsing and dispatch to one module per command.

Each command lives in the module that owns its concern and exposes ``add_parser(subparsers)``, which
registers the sub-command and sets ``func`` (``Callable[[argparse.Namespace], int]``) as its handler.
Errors a technician can act on are printed as one or two plain lines, never a traceback.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from importlib import import_module

from agent import __version__
from agent.config import (
    EX_CONFIG,
    ConfigError,
    exposed_secrets_warning,
    load_config,
    simulation_warnings,
)
from agent.config.preflight import check_ready

DEFAULT_CONFIG = "/etc/triage-agent/config.toml"

# Modules that contribute sub-commands, in the order `--help` lists them.
COMMAND_MODULES: tuple[str, ...] = (
    "agent.cli.run",  # run
    "agent.cli.status",  # status, tail
    "agent.cli.diag",  # diag
    "agent.cli.preview",  # preview
    "agent.cli.calibrate",  # calibrate
    "agent.cli.commission",  # commission
)


def _add_config_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", "-c", default=DEFAULT_CONFIG, help="config file (TOML)")


def _cmd_config_check(args: argparse.Namespace) -> int:
    """The file as ``run`` loads it, then what it names on disk as ``run`` would use it (models,
    camera source, calibration file, folders): exit 78 naming every field ``run`` would refuse."""
    try:
        cfg = load_config(args.file)
        warnings = check_ready(cfg, str(args.file))
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return EX_CONFIG
    exposed = exposed_secrets_warning(args.file, cfg)
    for warning in [*simulation_warnings(cfg), *warnings, *([exposed] if exposed else [])]:
        print(f"warning: {warning}", file=sys.stderr)
    print(
        f"{args.file}: OK (device {cfg.device.device_id}, broker {cfg.mqtt.host}:{cfg.mqtt.port})"
    )
    return 0


def _cmd_version(args: argparse.Namespace) -> int:
    print(f"triage-agent {__version__}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser, with every module's sub-commands registered."""
    parser = argparse.ArgumentParser(
        prog="triage-agent",
        description="Clinic triage desk agent: temperature, mask and occupancy facts over MQTT.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    config = sub.add_parser("config", help="configuration tools")
    config_sub = config.add_subparsers(dest="config_command", metavar="ACTION", required=True)
    check = config_sub.add_parser("check", help="validate a config file; exit 78 when invalid")
    check.add_argument("file", nargs="?", default=DEFAULT_CONFIG, help="config file to check")
    check.set_defaults(func=_cmd_config_check)

    version = sub.add_parser("version", help="print the version")
    version.set_defaults(func=_cmd_version)

    for name in COMMAND_MODULES:
        import_module(name).add_parser(sub, _add_config_arg)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script; returns the process exit status."""
    args = build_parser().parse_args(argv)
    try:
        status: int = args.func(args)
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return EX_CONFIG
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `triage-agent tail | head`: the reader left, that is fine
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    return status

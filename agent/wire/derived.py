"""What the contract derives from the alert declarations (:mod:`agent.flow.alert_kinds`).

The JSON schemas ship as files (``agent/wire/schemas/<kind>.json``); the parts of them that list
alerts are derived from the registry by :func:`derive_schema`:

- ``alert.json``: the ``alert`` enum (every declared name, in order) and the ``family`` enum;
- ``summary.json``: the ``alerts`` map's names (the counted alerts) and ``maxProperties``, and the
  ``minutes`` keys (:data:`agent.flow.alert_kinds.MINUTES_GROUPS`).

``python -m agent.wire.derived`` rewrites the two files from the registry (``--check``: exit 1 when
a file differs, without writing) and prints the "Alert kinds" table of docs/EVENTS.md
(:func:`alert_table`); tests/test_alert_kinds.py checks both against the registry.
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
from importlib import resources
from pathlib import Path
from typing import Any

from agent.flow import alert_kinds
from agent.flow.alert_kinds import AlertRegistry
from agent.wire.contract import schema

DERIVED_KINDS = ("alert", "summary")
"""The schemas with parts derived from the alert registry."""


def _registry(alerts: AlertRegistry | None) -> AlertRegistry:
    return alert_kinds.ALERTS if alerts is None else alerts


def derive_schema(
    kind: str, base: dict[str, Any] | None = None, alerts: AlertRegistry | None = None
) -> dict[str, Any]:
    """The schema of ``kind`` with its alert lists made from ``alerts`` (default: the registry).

    ``base``: the schema to start from (default: the shipped file); it is not modified."""
    doc = copy.deepcopy(schema(kind) if base is None else base)
    reg = _registry(alerts)
    props = doc["properties"]
    if kind == "alert":
        props["alert"]["enum"] = list(reg.names)
        props["family"]["enum"] = list(alert_kinds.FAMILIES)
    elif kind == "summary":
        counted = list(reg.counted)
        props["alerts"]["propertyNames"]["enum"] = counted
        props["alerts"]["maxProperties"] = len(counted)
        minutes = props["minutes"]["properties"]
        props["minutes"]["properties"] = {
            g: minutes.get(g)
            or {
                "type": "number",
                "minimum": 0,
                "description": f"Minutes any of {', '.join(reg.timed(g))} was open.",
            }
            for g in alert_kinds.MINUTES_GROUPS
        }
    return doc


def schema_text(doc: dict[str, Any]) -> str:
    """A schema as the shipped files are written."""
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"


def _summary_column(kind: alert_kinds.AlertKind) -> str:
    parts = []
    if kind.counted:
        parts.append("counted in `alerts`")
    if kind.minutes is not None:
        parts.append(f"`minutes.{kind.minutes}`")
    return ", ".join(parts) or "-"


def alert_table(alerts: AlertRegistry | None = None) -> str:
    """The "Alert kinds" table of docs/EVENTS.md, one row per declared alert."""
    rows = [
        "| `alert` | `family` | in the `summary` | `value` | label |",
        "|---|---|---|---|---|",
    ]
    for k in _registry(alerts):
        rows.append(f"| `{k.name}` | `{k.family}` | {_summary_column(k)} | {k.unit} | {k.label} |")
    return "\n".join(rows) + "\n"


def schema_path(kind: str) -> Path:
    """The shipped schema file of ``kind`` (in a source checkout)."""
    return Path(str(resources.files("agent").joinpath("wire", "schemas", f"{kind}.json")))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m agent.wire.derived",
        description="Rewrite the alert lists of the shipped schemas from agent/flow/alert_kinds.py "
        "and print the Alert kinds table of docs/EVENTS.md.",
    )
    parser.add_argument("--check", action="store_true", help="only report files that differ")
    args = parser.parse_args(argv)
    stale = []
    for kind in DERIVED_KINDS:
        path = schema_path(kind)
        text = schema_text(derive_schema(kind, json.loads(path.read_text("utf-8"))))
        if path.read_text("utf-8") != text:
            stale.append(str(path))
            if not args.check:
                path.write_text(text, "utf-8")
    for path_name in stale:
        print(("differs: " if args.check else "rewritten: ") + path_name, file=sys.stderr)
    sys.stdout.write(alert_table())
    return 1 if args.check and stale else 0


if __name__ == "__main__":
    raise SystemExit(main())

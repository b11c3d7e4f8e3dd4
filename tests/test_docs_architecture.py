"""docs/ARCHITECTURE.md's claims that code can check: the command list, and that no picture, crop or
face box can reach an event (events hold only numbers, words and flags)."""

from __future__ import annotations

import argparse
import ast
import dataclasses
import re
import typing
from pathlib import Path

from agent.cli.main import build_parser
from agent.flow import events
from tests.conftest import REPO

DOC = Path(__file__).resolve().parents[1] / "docs" / "ARCHITECTURE.md"


def commands() -> set[str]:
    """Every `triage-agent` command, with its actions (``config check``)."""
    out: set[str] = set()
    for action in build_parser()._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                actions = [a for a in sub._actions if isinstance(a, argparse._SubParsersAction)]
                out |= {f"{name} {c}" for a in actions for c in a.choices} or {name}
    return out


def test_the_command_list_is_the_parsers() -> None:
    line = next(ln for ln in DOC.read_text().splitlines() if ln.startswith("agent/cli/"))
    listed = re.sub(r"^agent/cli/\s+triage-agent commands:\s*", "", line)
    named: set[str] = set()
    for item in listed.split(","):
        words = item.strip()
        if "/" in words:  # status/tail
            named |= set(words.split("/"))
        else:
            named.add(words)
    assert named == commands()


ALLOWED = {str, int, float, bool, type(None)}


def _leaves(tp: object) -> set[object]:
    args = typing.get_args(tp)
    if typing.get_origin(tp) is typing.Literal:
        return {type(a) for a in args}
    if not args:
        return {tp}
    out: set[object] = set()
    for a in args:
        if a is Ellipsis:
            continue
        out |= _leaves(a)
    return out


def test_no_event_can_carry_a_picture_or_a_face_box() -> None:
    """Event fields are numbers, words, flags, or mappings and tuples of them (and the health
    event's per-source summary): nothing that could hold pixels, crops or box coordinates."""
    for cls in events.EVENT_TYPES:
        hints = typing.get_type_hints(cls)
        for f in dataclasses.fields(cls):
            for leaf in _leaves(hints[f.name]):
                if leaf in ALLOWED:
                    continue
                if leaf is events.SourceHealth:
                    continue
                raise AssertionError(f"{cls.__name__}.{f.name}: {leaf!r}")
    for f in dataclasses.fields(events.SourceHealth):
        assert _leaves(typing.get_type_hints(events.SourceHealth)[f.name]) <= ALLOWED, f.name


FACE_BOX_NAMES = ("Box", "FaceFinding", "SceneFindings", "SceneInference")


def test_no_face_box_leaves_the_vision_package_but_for_preview() -> None:
    """ARCHITECTURE.md: outside agent/vision/ only ``preview`` (which blurs the faces of the one
    frame it writes) imports the types that hold face boxes."""
    users = []
    for path in sorted((REPO / "agent").rglob("*.py")):
        if path.is_relative_to(REPO / "agent" / "vision"):
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (
                isinstance(node, ast.ImportFrom)
                and (node.module or "").startswith("agent.vision")
                and any(alias.name in FACE_BOX_NAMES for alias in node.names)
            ):
                users.append(str(path.relative_to(REPO)))
    assert sorted(set(users)) == ["agent/cli/preview.py"]


def test_status_and_discovery_enter_the_wire_where_the_doc_says() -> None:
    """ARCHITECTURE.md "Where messages enter the wire": events through the outbox; availability
    built only by the publisher; nothing outside agent/wire/ and agent/service/ encodes a message."""
    builders = []
    encoders = []
    for path in sorted((REPO / "agent").rglob("*.py")):
        rel = str(path.relative_to(REPO))
        text = path.read_text(encoding="utf-8")
        if re.search(r"\bAvailabilityEvent\(", text):
            builders.append(rel)
        if re.search(r"\bencode\(", text) and "agent.wire.contract" in text:
            encoders.append(rel)
    assert builders == ["agent/wire/publisher.py"]
    assert all(e.startswith(("agent/wire/", "agent/service/")) for e in encoders), encoders
    doc = (REPO / "docs" / "ARCHITECTURE.md").read_text(encoding="utf-8")
    for name in ("Pipeline.store", "Publisher._status", "publish_directly", "reserve_seq"):
        assert name in doc

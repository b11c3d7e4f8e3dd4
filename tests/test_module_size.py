"""No module in ``agent/`` or ``central/`` over 400 lines unless its docstring says why (issue 18).

A module over :data:`MAX_LINES` lines carries, in its module docstring, a paragraph starting
``One module because`` followed by the reason (the job that would be split across modules, the
state that would be shared). Split a module along a real job line instead where there is one.

:data:`PENDING` lists the modules still without a reason (others edit them now); an entry that is
no longer over the limit or already gives its reason fails this test, so the list only shrinks.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

from tests.conftest import REPO

MAX_LINES = 400
MARKER = re.compile(r"^One module because \S", re.MULTILINE)
"""A docstring paragraph (a line) starting with these words gives the reason."""

PENDING: dict[str, str] = {}
"""Modules over the limit without a reason yet: add it (or split) and drop the entry."""


def _too_long_without_reason() -> dict[str, int]:
    found: dict[str, int] = {}
    for root in ("agent", "central"):
        for path in sorted((REPO / root).rglob("*.py")):
            text = path.read_text(encoding="utf-8")
            lines = len(text.splitlines())
            if lines <= MAX_LINES:
                continue
            doc = ast.get_docstring(ast.parse(text)) or ""
            if not MARKER.search(doc):
                found[path.relative_to(REPO).as_posix()] = lines
    return found


def test_no_module_over_400_lines_without_its_reason() -> None:
    found = {p: n for p, n in _too_long_without_reason().items() if p not in PENDING}
    assert found == {}, (
        f"over {MAX_LINES} lines: split these along a job line, or start a paragraph of the "
        "module docstring with 'One module because' and say why (tests/test_module_size.py)"
    )


def test_pending_only_shrinks() -> None:
    found = _too_long_without_reason()
    for path in PENDING:
        assert (REPO / path).is_file(), f"{path} is gone: drop its PENDING entry"
        assert path in found, f"{path} is within {MAX_LINES} lines or gives its reason: drop it"
    assert len(PENDING) <= 5


def test_the_marker_is_found_only_at_a_paragraph_start() -> None:
    assert MARKER.search("The queue.\n\nOne module because one lock guards it.")
    assert not MARKER.search("The queue. One module because one lock guards it.")
    assert not MARKER.search("One module because")
    assert Path(__file__).is_file()

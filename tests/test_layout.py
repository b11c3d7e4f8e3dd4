"""Tests mirror modules: a newcomer finds the test module of any module in agent/.

The rule (docs/ARCHITECTURE.md, "How to add..."): the tests of ``agent/<pkg>/.../<name>.py`` are in
``tests/test_<...>_<name>[_<aspect>].py``, where ``<...>`` are its package names, in order, any of
them left out (``tests/test_outbox.py``, ``tests/test_wire_outbox_faults.py`` and
``tests/test_outbox_faults.py`` all name ``agent/wire/outbox_faults.py``); a package's ``__init__.py``
is named by the package. A module inside a sub-package may instead be tested by the sub-package's
own test module (``tests/test_vision_families.py`` for ``agent/vision/inference/families/*``).

Two explicit lists complete it, both kept short and checked here:

- :data:`DECLARATIONS`: pure declarations (types, records, protocols, no behaviour of their own),
  tested through every test that uses them; a package ``__init__.py`` holding only a docstring is
  one too, found by itself;
- :data:`TESTED_IN`: modules whose tests still live in a test module named for another (each
  entry says where). An entry that the naming rule already covers fails this test, so the list
  only shrinks: rename or split a test module and drop the entry.
"""

from __future__ import annotations

import ast
import itertools
from collections.abc import Iterator

from tests.conftest import REPO

TESTS = REPO / "tests"

DECLARATIONS: dict[str, str] = {
    "agent.flow.ports": "the Source/Analyser protocols",
    "agent.flow.events": "the event dataclasses (checked against schemas in test_contract.py)",
    "agent.thermometer.reading": "the ThermoReading record",
    "agent.thermometer.records": "the decoders' records and Decoder protocol",
    "agent.vision.findings": "the vision findings and model protocols",
}
"""Pure declarations: no behaviour of their own to test."""

TESTED_IN: dict[str, str] = {}
"""Modules tested in a test module named for another: where their tests are (to be renamed/split).
Empty now: every module of agent/ has a test module named by the rule (issue 18 item 6)."""


def _modules() -> Iterator[tuple[str, list[str]]]:
    for path in sorted((REPO / "agent").rglob("*.py")):
        parts = list(path.relative_to(REPO / "agent").with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
            body = ast.parse(path.read_text(encoding="utf-8")).body
            if all(isinstance(n, ast.Expr) and isinstance(n.value, ast.Constant) for n in body):
                continue  # a package with only its docstring
        if not parts or parts[-1] == "__main__":
            continue
        yield "agent." + ".".join(parts), parts


def _names(parts: list[str]) -> Iterator[str]:
    *packages, name = parts
    for r in range(len(packages) + 1):
        for chosen in itertools.combinations(packages, r):
            yield "_".join([*chosen, name])


def named_by(parts: list[str], stems: set[str]) -> str | None:
    """The test module (stem without ``test_``) that names the module, if any (module docstring)."""
    for base in _names(parts):
        for stem in sorted(stems):
            if stem == base or stem.startswith(base + "_"):
                return stem
    for k in range(2, len(parts)):  # a sub-package's own test module
        for base in _names(parts[:k]):
            if base in stems:
                return base
    return None


def test_every_agent_module_has_a_test_module_a_newcomer_finds() -> None:
    stems = {p.stem.removeprefix("test_") for p in TESTS.glob("test_*.py")}
    unnamed = [
        module
        for module, parts in _modules()
        if module not in DECLARATIONS and module not in TESTED_IN and named_by(parts, stems) is None
    ]
    assert unnamed == [], (
        "no test module names these modules: add tests/test_<package>_<module>.py "
        "(tests/test_layout.py says the rule)"
    )


def test_the_lists_are_true_and_only_shrink() -> None:
    stems = {p.stem.removeprefix("test_") for p in TESTS.glob("test_*.py")}
    modules = dict(_modules())
    for module in [*DECLARATIONS, *TESTED_IN]:
        assert module in modules, f"{module} is no module of agent/ any more: drop its entry"
    for module, test in TESTED_IN.items():
        assert (TESTS / test).is_file(), f"{module}: {test} does not exist"
        named = named_by(modules[module], stems)
        assert named is None, f"{module} is named by tests/test_{named}.py: drop its entry"
    assert len(DECLARATIONS) <= 6

"""What derives from the alert declarations (agent/wire/derived.py): the shipped JSON schemas are
what the registry derives, and ``python -m agent.wire.derived --check`` finds nothing to rewrite.
The declarations themselves: tests/test_flow_alert_kinds.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.wire.contract import schema
from agent.wire.derived import DERIVED_KINDS, alert_table, derive_schema, main, schema_text


@pytest.mark.parametrize("kind", DERIVED_KINDS)
def test_the_shipped_schemas_are_what_the_registry_derives(kind: str) -> None:
    path = Path(__file__).resolve().parent.parent / "agent" / "wire" / "schemas" / f"{kind}.json"
    assert schema_text(derive_schema(kind)) == path.read_text("utf-8"), (
        "run python -m agent.wire.derived"
    )
    assert derive_schema(kind) == schema(kind)


def test_the_derivation_tool_finds_nothing_to_rewrite(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--check"]) == 0
    assert capsys.readouterr().out == alert_table()

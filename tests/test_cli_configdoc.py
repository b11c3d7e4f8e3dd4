"""The configuration reference kept in sync (agent/cli/configdoc.py): docs/CONFIG.md is what
``python -m agent.cli.configdoc`` renders, and packaging/config.example.toml mentions every key it
lists.
"""

from __future__ import annotations

import re

from agent.cli.configdoc import field_paths, render
from agent.config import load_config
from tests.test_config import EXAMPLE, REPO


def test_example_config_is_valid_and_mentions_every_key() -> None:
    cfg = load_config(EXAMPLE, environ={})
    assert cfg.mqtt.port == 1883
    text = EXAMPLE.read_text()
    section = ""
    seen: set[str] = set()
    for line in text.splitlines():
        m = re.match(r"^#?\s*\[\[?([a-z_.]+)\]\]?\s*$", line)
        if m:
            section = m.group(1)
            continue
        m = re.match(r"^#?\s*([a-z_]+)\s*=", line)
        if m:
            seen.add(f"{section}.{m.group(1)}")
    missing = [p for p in field_paths() if p not in seen]
    assert not missing, f"add these keys (commented if optional) to {EXAMPLE.name}: {missing}"


def test_config_reference_is_in_sync() -> None:
    committed = (REPO / "docs" / "CONFIG.md").read_text()
    assert committed == render(), "run: .venv/bin/python -m agent.cli.configdoc > docs/CONFIG.md"

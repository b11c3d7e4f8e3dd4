"""Shared by the diag tests: a validated config from :func:`tests.conftest.base_config`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from agent.config import AgentConfig, parse_config
from tests.conftest import base_config


def cfg_for(tmp_path: Path, port: int = 1, **sections: dict[str, Any]) -> AgentConfig:
    """The validated config for a test (no environment overrides)."""
    return parse_config(base_config(tmp_path, port, **sections), environ={})

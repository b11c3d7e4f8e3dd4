"""What every config section shares: the frozen, strict base model, common field types, the error.

Each component declares its own config section next to its code (``agent/wire/config.py``,
``agent/thermometer/config.py``, ``agent/vision/config.py``); :mod:`agent.config` assembles them into
the one file and is the only place that parses TOML or environment variables. A bad file raises
:class:`ConfigError`, whose message names the file, the field path, the bad value and what is
allowed; the CLI turns it into exit status 78 (``EX_CONFIG``).
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

EX_CONFIG = 78
"""sysexits.h EX_CONFIG: the configuration is wrong; systemd must not restart us in a loop."""

_SLUG = r"^[a-z0-9][a-z0-9_-]{0,31}$"
Slug = Annotated[str, Field(pattern=_SLUG, min_length=1, max_length=32)]
Seconds = Annotated[float, Field(gt=0)]


class ConfigError(Exception):
    """A configuration that cannot be used; ``str()`` is a message for a technician."""


class Section(BaseModel):
    """Base of every config section: unknown keys rejected, values frozen after validation."""

    model_config = ConfigDict(extra="forbid", frozen=True)

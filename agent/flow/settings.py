"""What every config section shares: the frozen, strict base model, common field types, the error.

Each component declares its own config section next to its code (``agent/wire/config.py``,
``agent/thermometer/config.py``, ``agent/vision/config.py``); :mod:`agent.config` assembles them into
the one file and is the only place that parses TOML or environment variables. A bad file raises
:class:`ConfigError`, whose message names the file, the field path, the bad value and what is
allowed; the CLI turns it into exit status 78 (``EX_CONFIG``).
"""

from __future__ import annotations

import types
import typing
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

EX_CONFIG = 78
"""sysexits.h EX_CONFIG: the configuration is wrong; systemd must not restart us in a loop."""

_SLUG = r"^[a-z0-9][a-z0-9_-]{0,31}$"
Slug = Annotated[str, Field(pattern=_SLUG, min_length=1, max_length=32)]
Seconds = Annotated[float, Field(gt=0, le=31_536_000)]
"""A duration: positive, finite, at most a year."""

MAX_TEXT = 4096
"""Longest text any config value may hold (paths, URLs, host names are far shorter)."""


def _admits_bool(annotation: Any) -> bool:
    if annotation is bool:
        return True
    if typing.get_origin(annotation) in (typing.Union, types.UnionType, Annotated):
        return any(_admits_bool(a) for a in typing.get_args(annotation))
    return False


def _only_bool(annotation: Any) -> bool:
    """The field takes true/false and nothing else (``bool``, optional or annotated)."""
    if annotation is bool:
        return True
    if typing.get_origin(annotation) is Annotated:
        return _only_bool(typing.get_args(annotation)[0])
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        return len(args) == 1 and _only_bool(args[0])
    return False


class ConfigError(Exception):
    """A configuration that cannot be used; ``str()`` is a message for a technician."""


class Section(BaseModel):
    """Base of every config section: unknown keys rejected, values frozen after validation.

    Also for every field: NaN and infinity are refused, so are true/false where a number or text is
    meant, anything but true/false where a switch is meant (``enabled = 1``, ``"yes"``) and text
    longer than :data:`MAX_TEXT`."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    @field_validator("*", mode="before")
    @classmethod
    def _plain_value(cls, value: Any, info: ValidationInfo) -> Any:
        """No true/false where a number is meant (``port = true``), nothing else where true/false
        is (``enabled = 1``), no megabyte strings."""
        field = cls.model_fields.get(info.field_name or "")
        if isinstance(value, bool) and field is not None and not _admits_bool(field.annotation):
            raise ValueError("true/false is not allowed here: give a value of the field's type")
        if (
            value is not None
            and not isinstance(value, bool)
            and field is not None
            and _only_bool(field.annotation)
        ):
            raise ValueError("give true or false (no quotes, not 0/1)")
        if isinstance(value, str) and len(value) > MAX_TEXT:
            raise ValueError(f"longer than {MAX_TEXT} characters")
        return value

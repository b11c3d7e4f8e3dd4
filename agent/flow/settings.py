"""What every config section shares: the frozen, strict base model, common field types, the error.

Each component declares its own config section next to its code (``agent/wire/config.py``,
``agent/thermometer/config.py``, ``agent/vision/config.py``); :mod:`agent.config` assembles them into
the one file and is the only place that parses TOML or environment variables. A bad file raises
:class:`ConfigError`, whose message names the file, the field path, the bad value and what is
allowed; the CLI turns it into exit status 78 (``EX_CONFIG``).
"""

from __future__ import annotations

import sys
import types
import typing
from functools import cache
from pathlib import Path
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


def _admits_path(annotation: Any) -> bool:
    """The field takes a path (``Path``, optional or annotated)."""
    if isinstance(annotation, type) and issubclass(annotation, Path):
        return True
    if typing.get_origin(annotation) in (typing.Union, types.UnionType, Annotated):
        return any(_admits_path(a) for a in typing.get_args(annotation))
    return False


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
    meant, anything but true/false where a switch is meant (``enabled = 1``, ``"yes"``), text
    longer than :data:`MAX_TEXT` or holding a NUL character, and an empty path (``""`` would be
    the current directory: state or a socket written wherever the process happens to run)."""

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
        if isinstance(value, str) and "\x00" in value:
            raise ValueError("contains a NUL character (\\0); remove it")
        if (
            isinstance(value, str)
            and not value.strip()
            and field is not None
            and _admits_path(field.annotation)
        ):
            raise ValueError(
                "empty path: give a path, or leave the key out to keep its default "
                "(an empty path would be whatever directory the process runs in)"
            )
        return value


INSTALL_PREFIX = Path("/opt/triage-agent")
"""Where the Debian package installs the agent, its models in ``models/`` (packaging/build_deb.sh)."""
DEBIAN_DOC_DIR = Path("/usr/share/doc/triage-agent")
"""Where the package installs the technician's documents and a pristine copy of the example config
(``config.example.toml``); ``<sys.prefix>/share/doc/`` is looked at too (older packages)."""
SOURCE_TREE = Path(__file__).resolve().parents[2]
"""The repository root when the agent runs from a checkout (``docs/``, ``packaging/`` beside it)."""

_IN_SOURCE = {"config-doc": "docs/CONFIG.md", "example": "packaging/config.example.toml"}
_INSTALLED = {"config-doc": "CONFIG.md", "example": "config.example.toml"}


def _installed(document: str) -> list[Path]:
    name = _INSTALLED[document]
    return [DEBIAN_DOC_DIR / name, Path(sys.prefix) / "share" / "doc" / name]


@cache
def layout() -> str:
    """``"source"`` when running from a checkout (docs/ and packaging/ beside the package),
    ``"installed"`` when running from the package (its CONFIG.md installed), else ``"unknown"``."""
    if (SOURCE_TREE / _IN_SOURCE["config-doc"]).is_file() and (SOURCE_TREE / "packaging").is_dir():
        return "source"
    if any(p.is_file() for p in _installed("config-doc")):
        return "installed"
    return "unknown"


def where(document: str) -> str:
    """Where a technician finds ``document`` on this machine: ``"config-doc"`` (the configuration
    reference) or ``"example"`` (the commented example config); both places when unsure."""
    kind = layout()
    if kind == "source":
        return str(SOURCE_TREE / _IN_SOURCE[document])
    if kind == "installed":
        candidates = _installed(document)
        return str(next((p for p in candidates if p.is_file()), candidates[0]))
    installed = DEBIAN_DOC_DIR / _INSTALLED[document]
    return f"{installed} (in the source tree: {_IN_SOURCE[document]})"


def models_advice() -> str:
    """What to do about missing or damaged shipped model files."""
    kind = layout()
    if kind == "installed":
        return f"reinstall the package (the models ship in {Path(sys.prefix) / 'models'})"
    if kind == "source":
        return "run `make models` in the source tree"
    return (
        f"reinstall the package (the models ship in {INSTALL_PREFIX / 'models'}); "
        "in the source tree: `make models`"
    )

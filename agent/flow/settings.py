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
"""Where the Debian package installs the agent (packaging/build_deb.sh); its documents are in
``share/doc/`` below it, with the commented example config."""
SOURCE_TREE = Path(__file__).resolve().parents[2]
"""The repository root when the agent runs from a checkout (``docs/``, ``packaging/`` beside it)."""
INSTALLED_CONFIG = Path("/etc/triage-agent/config.toml")


@cache
def layout(prefix: Path | None = None, source: Path | None = None) -> str:
    """``"source"`` when running from a checkout (docs/CONFIG.md beside the package), ``"installed"``
    when running from the package (``<sys.prefix>/share/doc/CONFIG.md``), else ``"unknown"``."""
    source = SOURCE_TREE if source is None else source
    prefix = Path(sys.prefix) if prefix is None else prefix
    if (source / "docs" / "CONFIG.md").is_file() and (source / "packaging").is_dir():
        return "source"
    if (prefix / "share" / "doc" / "CONFIG.md").is_file():
        return "installed"
    return "unknown"


def where(document: str, kind: str | None = None) -> str:
    """Where a technician finds ``document`` on this machine: ``"config-doc"`` (the configuration
    reference) or ``"example"`` (the commented example config). Both places when unknown."""
    kind = layout() if kind is None else kind
    installed_doc = Path(sys.prefix) if kind == "installed" else INSTALL_PREFIX
    installed = {
        "config-doc": installed_doc / "share" / "doc" / "CONFIG.md",
        "example": installed_doc / "share" / "doc" / "config.example.toml",
    }[document]
    source = {
        "config-doc": SOURCE_TREE / "docs" / "CONFIG.md",
        "example": SOURCE_TREE / "packaging" / "config.example.toml",
    }[document]
    if kind == "installed":
        return str(installed)
    if kind == "source":
        return str(source)
    relative = source.relative_to(SOURCE_TREE)
    return f"{installed} (in the source tree: {relative})"


def models_advice(kind: str | None = None) -> str:
    """What to do about missing or damaged shipped model files."""
    kind = layout() if kind is None else kind
    if kind == "installed":
        return f"reinstall the package (the models ship in {Path(sys.prefix) / 'models'})"
    if kind == "source":
        return "run `make models` in the source tree"
    return f"reinstall the package (models ship in {INSTALL_PREFIX / 'models'}); from a checkout: `make models`"

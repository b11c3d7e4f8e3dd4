"""Renders the configuration reference (docs/CONFIG.md) from the pydantic models in agent.config.

The models are the single source of truth; ``python -m agent.cli.configdoc > docs/CONFIG.md`` rewrites
the reference and a test fails when the committed file differs from what this renders.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from enum import Enum
from pathlib import Path
from types import UnionType
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel, SecretStr
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from agent.config import ENV_OVERRIDES, REQUIRED_IN_FILE, AgentConfig

HEADER = """# Configuration reference

One TOML file, `/etc/triage-agent/config.toml` on an installed box (`--config FILE` elsewhere),
UTF-8 with or without a byte-order mark. The commented example is `packaging/config.example.toml` in
the source tree; the package installs it as `/etc/triage-agent/config.toml` and keeps a pristine
copy, with this page, in `/usr/share/doc/triage-agent/`. Check a file with
`triage-agent config check FILE`: an invalid file prints the file, the field path, the bad value and
what is allowed, and exits with status 78 (`triage-agent run` does the same, and systemd then does
not restart it in a loop). Unknown keys are rejected, so a misspelt key is never silently ignored.

The file must say which devices it reads: `thermometer.port` and `camera.source` are required while
the device is enabled. `"simulated"` (the built-in emulator, a rendered scene: made-up data for demos
and tests) is used only when written out, so an empty or half-written file is refused rather than
run on made-up temperatures. `config check` then checks what the file names the way `run` uses it,
each problem naming its field: the models (folder, manifest, names, files, checksums, tasks, loaded
into onnxruntime), the camera source's kind, and folders or files of the wrong kind (a state folder
that is a file, an outbox path or socket path that is a folder). An unplugged device, a folder still
to be created, a calibration file the agent cannot use (it runs on with the last good offset) and a
simulated device are warnings.

Secrets can stay out of the file: {env}.

This page is generated from the config sections (`agent/config/`, `agent/*/config.py`) by `python -m agent.cli.configdoc > docs/CONFIG.md`;
a test keeps the two in sync.
"""


def _type_name(annotation: Any) -> str:
    origin, args = get_origin(annotation), get_args(annotation)
    if origin in (list, tuple):
        return "list of " + (_type_name(args[0]) if args else "values")
    if origin is Literal:
        return " \\| ".join(json.dumps(a) for a in args)
    if origin in (Union, UnionType):
        return " or ".join(_type_name(a) for a in args)
    if origin is Annotated:
        return _type_name(args[0])
    if annotation is type(None):
        return "none"
    if annotation is SecretStr:
        return "string (secret)"
    if isinstance(annotation, type) and issubclass(annotation, Path):
        return "path"
    names = {"str": "string", "int": "integer", "float": "number", "bool": "boolean"}
    name = getattr(annotation, "__name__", str(annotation))
    return names.get(name, name)


def _default(field: FieldInfo, required_in_file: bool = False) -> str:
    if required_in_file:
        return "(required when enabled)"
    if field.default is PydanticUndefined and field.default_factory is None:
        return "(required)"
    value = field.get_default(call_default_factory=True)
    if value is None:
        return "unset"
    if isinstance(value, Path):
        return f"`{value}`"
    if isinstance(value, Enum):
        value = value.value
    return f"`{json.dumps(value)}`"


def _item_model(annotation: Any) -> type[BaseModel] | None:
    """The model of a list-of-tables field (``list[ZoneConfig]``, a TOML ``[[zones]]``), else None."""
    if get_origin(annotation) is Annotated:
        return _item_model(get_args(annotation)[0])
    if get_origin(annotation) in (list, tuple):
        args = get_args(annotation)
        if args and isinstance(args[0], type) and issubclass(args[0], BaseModel):
            return args[0]
    return None


def _sections(model: type[BaseModel], prefix: str = "") -> Iterator[tuple[str, type[BaseModel]]]:
    for name, field in model.model_fields.items():
        ann = field.annotation
        if isinstance(ann, type) and issubclass(ann, BaseModel):
            path = f"{prefix}{name}"
            yield path, ann
            yield from _sections(ann, path + ".")
        elif (item := _item_model(ann)) is not None:
            yield f"[{prefix}{name}]", item


def field_paths(model: type[BaseModel] = AgentConfig, prefix: str = "") -> list[str]:
    """Every leaf field as a dotted path (``mqtt.tls.ca_file``)."""
    out: list[str] = []
    for name, field in model.model_fields.items():
        ann = field.annotation
        if isinstance(ann, type) and issubclass(ann, BaseModel):
            out += field_paths(ann, f"{prefix}{name}.")
        elif (item := _item_model(ann)) is not None:
            out += field_paths(item, f"{prefix}{name}.")
        else:
            out.append(f"{prefix}{name}")
    return out


def render() -> str:
    """The whole markdown reference."""
    env = ", ".join(f"`{var}` sets `{'.'.join(path)}`" for var, path in ENV_OVERRIDES.items())
    parts = [HEADER.format(env=env)]
    for path, section in _sections(AgentConfig):
        doc = (section.__doc__ or "").strip().splitlines()[0]
        parts.append(
            f"\n## `[{path}]`\n\n{doc}\n\n| key | type | default | meaning |\n|---|---|---|---|"
        )
        for name, field in section.model_fields.items():
            ann = field.annotation
            if (isinstance(ann, type) and issubclass(ann, BaseModel)) or _item_model(ann):
                continue
            desc = (field.description or "").replace("|", "\\|")
            default = _default(field, (path, name) in REQUIRED_IN_FILE)
            parts.append(f"| `{name}` | {_type_name(ann)} | {default} | {desc} |")
    return "\n".join(parts) + "\n"


if __name__ == "__main__":
    print(render(), end="")

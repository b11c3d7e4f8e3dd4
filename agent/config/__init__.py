"""The agent's configuration file: every component's section assembled into one typed, frozen model.

Each section is declared once, next to the code it configures; this package assembles them and is
the only place that parses TOML or environment variables. Unknown keys are rejected, every field
carries a description (``docs/CONFIG.md`` is kept in sync with these descriptions by a test), and
secrets may be supplied through environment variables so they need not sit in the file:

- ``TRIAGE_MQTT_USERNAME`` overrides ``mqtt.username``
- ``TRIAGE_MQTT_PASSWORD`` overrides ``mqtt.password``

A file must say which devices it reads: ``thermometer.port`` and ``camera.source`` are required
in the file while the device is enabled (``"simulated"`` has to be named to get the emulators), so
an empty or half-written file never runs a clinic's box on made-up temperatures. The embedded
defaults (``AgentConfig()``) stay the simulated devices, for tests and ``make run``.

A bad file raises :class:`ConfigError`, whose message names the file, the field path, the bad value
and what is allowed; the CLI turns it into exit status 78 (``EX_CONFIG``). What the file names on
disk (models, folders, the calibration file) is checked by :mod:`agent.config.preflight`, which
``triage-agent config check`` runs as well. The model itself (:class:`AgentConfig` and the two
sections that belong to no component) is :mod:`agent.config.model`; this module reads and checks.
"""

from __future__ import annotations

import os
import re
import stat
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from agent.config.model import DAY_S, AgentConfig, ReportingConfig, RuntimeConfig
from agent.flow.redact import redact
from agent.flow.settings import EX_CONFIG, ConfigError, where

__all__ = [
    "DAY_S",
    "ENV_OVERRIDES",
    "EX_CONFIG",
    "REQUIRED_IN_FILE",
    "AgentConfig",
    "ConfigError",
    "ReportingConfig",
    "RuntimeConfig",
    "exposed_secrets_warning",
    "load_config",
    "missing_sources",
    "parse_config",
    "secrets_of",
    "simulation_warnings",
]

ENV_OVERRIDES: Mapping[str, tuple[str, str]] = {
    "TRIAGE_MQTT_USERNAME": ("mqtt", "username"),
    "TRIAGE_MQTT_PASSWORD": ("mqtt", "password"),
}
"""Environment variables that override a config field: name -> (section, key)."""

REQUIRED_IN_FILE: Mapping[tuple[str, str], str] = {
    ("thermometer", "port"): (
        'name the serial port ("/dev/triage-thermometer" on a box), or "simulated" for the '
        "built-in emulator (demos and tests only: it makes up temperatures), or set "
        "thermometer.enabled = false"
    ),
    ("camera", "source"): (
        'name the camera ("/dev/video0", an rtsp:// address, a video file, an image folder), '
        'or "simulated" for a rendered scene (demos and tests only), or set camera.enabled = false'
    ),
}
"""Fields a file must give while their section is enabled: (section, key) -> what to write.
Their model defaults ('simulated') serve the embedded defaults only, never a file."""

MAX_FILE_BYTES = 256 * 1024
"""A config file is a few KiB; anything beyond this is refused before parsing."""


def _apply_env(raw: dict[str, Any], environ: Mapping[str, str]) -> dict[str, Any]:
    for var, (section, key) in ENV_OVERRIDES.items():
        if var in environ:
            raw.setdefault(section, {})
            if isinstance(raw[section], dict):
                raw[section][key] = environ[var]
    return raw


def _zone_label(loc: tuple[int | str, ...], raw: Mapping[str, Any]) -> str:
    """`` (zone 'desk')`` for an error inside one ``[[zones]]`` entry, else ``""``."""
    zones = raw.get("zones")
    if len(loc) < 2 or loc[0] != "zones" or not isinstance(loc[1], int):
        return ""
    entry = zones[loc[1]] if isinstance(zones, list) and loc[1] < len(zones) else None
    if isinstance(entry, dict) and "name" in entry:
        return f" (zone {entry['name']!r})"
    return ""


_SHOWN_MAX = 60
"""Longest value echoed in an error message (multi-megabyte values are cut)."""


def _shown(path: str, value: Any) -> str | None:
    """The value as it may appear in a message: secrets masked, tables not echoed, cut short."""
    if any(word in path for word in _SECRET_FIELDS):
        return "<secret>"
    if not isinstance(value, str | int | float | bool) or value is None:
        return None  # a whole table (or array) would echo unrelated fields, secrets included
    text = redact(repr(value))  # before cutting, so a cut cannot split a credential
    if len(text) > _SHOWN_MAX:
        text = f"{text[:_SHOWN_MAX]}... ({len(str(value))} characters)"
    return text


_SECRET_FIELDS = ("password", "secret", "token")


def missing_sources(raw: Mapping[str, Any]) -> list[str]:
    """One problem line per device source the file must name and does not
    (:data:`REQUIRED_IN_FILE`): the device's section is enabled (or absent) without its key."""
    lines: list[str] = []
    for (section, key), advice in REQUIRED_IN_FILE.items():
        table = raw.get(section, {})
        if not isinstance(table, dict):  # the section itself is wrong: validation reports it
            continue
        if table.get("enabled", True) is False or key in table:
            continue
        lines.append(f"  {section}.{key}: not set; {advice}")
    return lines


def _describe(
    err: ValidationError | None,
    source: str,
    raw: Mapping[str, Any],
    secrets: list[str | None],
    extra: list[str],
) -> str:
    lines = [f"invalid configuration in {source}:"]
    for e in err.errors() if err is not None else []:
        path = ".".join(str(p) for p in e["loc"]) or "(top level)"
        path += _zone_label(e["loc"], raw)
        if e["type"] == "extra_forbidden":
            lines.append(f"  {path}: unknown key; check the spelling against {where('config-doc')}")
            continue
        msg = e["msg"].removeprefix("Value error, ")
        if e["type"] == "missing":
            lines.append(f"  {path}: required field is missing")
            continue
        shown = _shown(path, e.get("input"))
        lines.append(f"  {path} = {shown}: {msg}" if shown is not None else f"  {path}: {msg}")
    lines += extra
    lines.append(f"fix the field(s) above; every key is documented in {where('config-doc')}")
    return redact("\n".join(lines), secrets)


def parse_config(
    raw: Mapping[str, Any],
    source: str = "<config>",
    environ: Mapping[str, str] | None = None,
    *,
    require_sources: bool = False,
) -> AgentConfig:
    """Validate an already-parsed TOML document (plus environment overrides).

    ``require_sources`` applies the rule for files (:func:`load_config` sets it): the enabled
    devices' sources must be named (:data:`REQUIRED_IN_FILE`); a dict built in code may rely on the
    embedded, simulated defaults."""
    data = _apply_env(
        {k: dict(v) if isinstance(v, dict) else v for k, v in raw.items()},
        os.environ if environ is None else environ,
    )
    mqtt = data.get("mqtt")
    secret = mqtt.get("password") if isinstance(mqtt, dict) else None
    secrets = [secret if isinstance(secret, str) else None]
    extra = missing_sources(data) if require_sources else []
    if require_sources and not raw:
        extra.append(
            f"the file holds no settings: start from the commented example {where('example')}"
        )
    try:
        cfg = AgentConfig.model_validate(data)
    except ValidationError as err:
        raise ConfigError(_describe(err, source, data, secrets, extra)) from None
    if extra:
        raise ConfigError(_describe(None, source, data, secrets, extra))
    return cfg


def simulation_warnings(cfg: AgentConfig) -> list[str]:
    """Warnings for a config that asks for the simulated devices (made-up data)."""
    out: list[str] = []
    if cfg.thermometer.enabled and cfg.thermometer.port == "simulated":
        out.append(
            "thermometer.port = 'simulated': temperatures come from the built-in emulator "
            "(made up); never on a box in a clinic"
        )
    if cfg.camera.enabled and cfg.camera.source == "simulated":
        out.append(
            "camera.source = 'simulated': frames are a rendered scene, not a camera; never on a "
            "box in a clinic"
        )
    return out


def secrets_of(cfg: AgentConfig) -> list[str | None]:
    """The secret values of a config (for :func:`agent.flow.redact.remember`)."""
    out: list[str | None] = []
    if cfg.mqtt.password is not None:
        out.append(cfg.mqtt.password.get_secret_value())
    source = str(getattr(cfg.camera, "source", ""))
    creds = re.match(r"^[A-Za-z][A-Za-z0-9+.-]*://([^/@\s]+)@", source)
    if creds:
        out.append(creds.group(1))
        out.extend(part for part in creds.group(1).split(":")[1:])
    return out


def exposed_secrets_warning(path: Path | str, cfg: AgentConfig) -> str | None:
    """A warning when the file holds a secret (password, URL credentials) others can read."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8", errors="replace")
        mode = p.stat().st_mode
    except OSError:
        return None
    holds = [
        name
        for name, present in (
            ("mqtt.password", re.search(r"(?m)^\s*password\s*=", text) is not None),
            ("camera.source credentials", re.search(r"://[^/@\s\"']+@", text) is not None),
        )
        if present
    ]
    if holds and mode & stat.S_IROTH:
        return (
            f"config file {p} holds a secret ({', '.join(holds)}) and is readable by every user "
            f"(mode {stat.S_IMODE(mode):04o}): run `chmod o-rwx {p}` (the package installs it "
            "0640 root:triage-agent), or pass the password in TRIAGE_MQTT_PASSWORD instead"
        )
    return None


_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")


def _read_text(p: Path) -> str:
    """The file's text: at most :data:`MAX_FILE_BYTES`, UTF-8 with or without a byte-order mark
    (Windows editors write one); ConfigError saying what to do otherwise."""
    try:
        with p.open("rb") as f:
            data = f.read(MAX_FILE_BYTES + 1)
    except FileNotFoundError:
        raise ConfigError(
            f"config file {p} not found; copy the commented example {where('example')} there "
            "and edit it"
        ) from None
    except PermissionError:
        raise ConfigError(
            f"cannot read config file {p}: permission denied; run the command with sudo, or add "
            "your login to the triage-agent group (`sudo adduser $USER triage-agent`, then log in "
            "again)"
        ) from None
    except OSError as exc:
        raise ConfigError(f"cannot read config file {p}: {exc.strerror or exc}") from None
    if len(data) > MAX_FILE_BYTES:
        raise ConfigError(
            f"config file {p} is larger than {MAX_FILE_BYTES // 1024} KiB; it cannot be "
            f"a triage-agent config (see the example {where('example')})"
        )
    if data.startswith(_UTF16_BOMS):
        raise ConfigError(
            f"config file {p} is UTF-16 text (it starts with a UTF-16 byte-order mark); save it "
            "as UTF-8"
        )
    try:
        return data.decode("utf-8").removeprefix("\ufeff")  # a UTF-8 byte-order mark is fine
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"config file {p} is not UTF-8 text (bad byte at offset {exc.start}); save it as UTF-8"
        ) from None


def load_config(path: Path | str, environ: Mapping[str, str] | None = None) -> AgentConfig:
    """Read, parse and validate the TOML file at ``path`` (devices named: :data:`REQUIRED_IN_FILE`)."""
    p = Path(path)
    text = _read_text(p)
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"invalid TOML in {p}: {exc}; fix the syntax at that line") from None
    except RecursionError:
        raise ConfigError(f"invalid TOML in {p}: tables or arrays nested too deeply") from None
    return parse_config(raw, str(p), environ, require_sources=True)

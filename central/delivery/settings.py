"""The delivery settings file (TOML; ``--delivery-config`` or ``TRIAGE_CENTRAL_DELIVERY_CONFIG``):
the dashboard's public address (links in messages), the district's group-chat destinations, the
mail relay, the retry policy, the daily schedule and the loop's rules (docs/CENTRAL.md,
"Deliveries"). Per-clinic recipients come from the registry, not from here.

Secrets may stay out of the file: every ``url``, ``secret`` and ``password`` can instead be given
as ``url_env`` / ``secret_env`` / ``password_env``, the name of an environment variable. A bad
value raises :class:`~central.config.ConfigError` naming the file and the field, never the secret.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from central.config import ConfigError
from central.delivery.destinations import Destination, DestinationError, check_destination
from central.delivery.mail import SmtpSettings
from central.delivery.queue import Policy
from central.loop.settings import LoopSettings, LoopSettingsError


@dataclass(frozen=True)
class DeliverySettings:
    """Everything ``triage-central deliver`` needs besides the database."""

    base_url: str = ""
    """The dashboard as the recipients reach it (https://triage.district.example); links in
    messages point there. Empty: messages carry no links."""
    groups: tuple[Destination, ...] = ()
    """The district's group chats (and mailboxes) that get the day's summary and alerts."""
    smtp: SmtpSettings | None = None
    policy: Policy = field(default_factory=Policy)
    loop: LoopSettings = field(default_factory=LoopSettings)
    clinic_notices: bool = True
    """Send each clinic's full notice to its registry recipients."""
    poll_s: float = 5.0
    """How often the worker looks for due deliveries and new notices."""
    settle_s: float = 120.0
    """A day's summary waits until no notice of that day was issued for this long (an officer
    issuing clinic by clinic gets one summary, not one per click)."""
    lookback_days: int = 3
    """At start, notices issued this far back are enqueued if they never were."""


def _err(where: str, msg: str) -> ConfigError:
    return ConfigError(f"{where}: {msg}")


def _secret(table: Mapping[str, Any], name: str, where: str, required: bool = False) -> str:
    direct, via = table.get(name), table.get(f"{name}_env")
    if direct is not None and via is not None:
        raise _err(where, f"give {name} or {name}_env, not both")
    if via is not None:
        if not isinstance(via, str) or not via:
            raise _err(where, f"{name}_env must name an environment variable")
        value = os.environ.get(via)
        if value is None:
            raise _err(where, f"{name}_env: the environment variable {via} is not set")
        return value
    if direct is None:
        if required:
            raise _err(where, f"{name} (or {name}_env) is required")
        return ""
    if not isinstance(direct, str):
        raise _err(where, f"{name} must be a string")
    return direct


def _check_keys(table: Mapping[str, Any], allowed: set[str], where: str) -> None:
    unknown = sorted(set(table) - allowed)
    if unknown:
        raise _err(where, f"unknown setting {unknown[0]!r} (known: {', '.join(sorted(allowed))})")


def _typed(table: Mapping[str, Any], name: str, kind: type | tuple[type, ...], where: str) -> Any:
    v = table[name]
    if isinstance(v, bool) and kind is not bool:
        raise _err(where, f"{name}: {v!r} is not of the right type")
    if not isinstance(v, kind):
        raise _err(where, f"{name}: {v!r} is not of the right type")
    return v


def _group(i: int, g: Any, default_locale: str, src: str) -> Destination:
    where = f"{src}: groups[{i}]"
    if not isinstance(g, dict):
        raise _err(where, "each [[groups]] entry is a table")
    _check_keys(g, {"name", "channel", "url", "url_env", "address", "secret", "secret_env",
                    "language"}, where)  # fmt: skip
    channel = g.get("channel")
    if not isinstance(channel, str):
        raise _err(where, "channel is required (wecom, dingtalk, feishu, email or webhook)")
    if channel == "email":
        address = g.get("address")
        if not isinstance(address, str):
            raise _err(where, "an email group needs address = 'someone@district'")
    else:
        address = _secret(g, "url", where, required=True)
    try:
        return check_destination(
            channel, address, str(g.get("language", default_locale)), _secret(g, "secret", where),
            name=str(g.get("name", ""))[:60], where=where,
        )  # fmt: skip
    except DestinationError as exc:
        raise ConfigError(str(exc)) from None


def _smtp(t: Any, src: str) -> SmtpSettings:
    where = f"{src}: smtp"
    if not isinstance(t, dict):
        raise _err(where, "[smtp] is a table")
    allowed = {"host", "port", "sender", "username", "password", "password_env", "tls", "timeout_s"}
    _check_keys(t, allowed, where)
    vals: dict[str, Any] = {}
    for name, kind in (("host", str), ("port", int), ("sender", str), ("username", str),
                       ("tls", str), ("timeout_s", (int, float))):  # fmt: skip
        if name in t:
            vals[name] = _typed(t, name, kind, where)
    if "tls" in vals and vals["tls"] not in ("none", "starttls", "ssl"):
        raise _err(where, f"tls: {vals['tls']!r} is not none, starttls or ssl")
    if "port" in vals and not 1 <= vals["port"] <= 65535:
        raise _err(where, f"port: {vals['port']} is not a port")
    password = _secret(t, "password", where) or os.environ.get("TRIAGE_CENTRAL_SMTP_PASSWORD", "")
    return SmtpSettings(password=password, **vals)


def _section(t: Any, where: str, cls: type, err: type[Exception]) -> Any:
    if not isinstance(t, dict):
        raise _err(where, "must be a table")
    names = {f.name for f in fields(cls)}
    _check_keys(t, names, where)
    try:
        return cls(**t)
    except (err, TypeError, ValueError) as exc:
        raise _err(where, str(exc)) from None


def parse(
    doc: Mapping[str, Any], default_locale: str, src: str = "delivery settings"
) -> DeliverySettings:
    """Settings from a parsed TOML document."""
    top = {"base_url", "groups", "smtp", "retry", "loop", "clinic_notices", "poll_s", "settle_s",
           "lookback_days"}  # fmt: skip
    _check_keys(doc, top, src)
    vals: dict[str, Any] = {}
    if "base_url" in doc:
        url = _typed(doc, "base_url", str, src).rstrip("/")
        if url and not url.startswith(("http://", "https://")):
            raise _err(src, f"base_url: {url!r} is not an http(s) URL")
        vals["base_url"] = url
    groups = doc.get("groups", [])
    if not isinstance(groups, list):
        raise _err(src, "groups is a list of [[groups]] tables")
    vals["groups"] = tuple(_group(i, g, default_locale, src) for i, g in enumerate(groups))
    keys = [d.key() for d in vals["groups"]]
    if len(set(keys)) != len(keys):
        raise _err(src, "groups: the same destination is listed twice")
    if "smtp" in doc:
        vals["smtp"] = _smtp(doc["smtp"], src)
    if "retry" in doc:
        vals["policy"] = _section(doc["retry"], f"{src}: retry", Policy, ValueError)
    if "loop" in doc:
        vals["loop"] = _section(doc["loop"], f"{src}: loop", LoopSettings, LoopSettingsError)
    if "clinic_notices" in doc:
        vals["clinic_notices"] = _typed(doc, "clinic_notices", bool, src)
    for name, lo, hi in (("poll_s", 0.2, 3600), ("settle_s", 0, 86400), ("lookback_days", 0, 60)):
        if name in doc:
            v = _typed(doc, name, (int, float), src)
            if not lo <= v <= hi:
                raise _err(src, f"{name}: {v} is not between {lo} and {hi}")
            vals[name] = int(v) if name == "lookback_days" else float(v)
    return DeliverySettings(**vals)


def load(path: Path | None, default_locale: str) -> DeliverySettings:
    """The settings of ``path`` (defaults when ``None``)."""
    if path is None:
        return DeliverySettings()
    try:
        doc = tomllib.loads(path.read_text(encoding="utf-8-sig"))
    except OSError as exc:
        raise ConfigError(f"delivery_config: cannot read {path} ({exc.strerror})") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"delivery_config: {path} is not valid TOML ({exc})") from None
    return parse(doc, default_locale, src=str(path))

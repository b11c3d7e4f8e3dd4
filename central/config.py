"""Settings of triage-central: the broker connection, the database and the district time zone.

Values come from command-line flags, else from the environment (``TRIAGE_CENTRAL_<NAME>``, e.g.
``TRIAGE_CENTRAL_DB``, ``TRIAGE_CENTRAL_TZ``, ``TRIAGE_CENTRAL_MQTT_PASSWORD``,
``TRIAGE_CENTRAL_TOKEN``), else the defaults below. A bad value names its field and exits with 78
(EX_CONFIG), as the agent does.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

from central.i18n import UnknownLocaleError, check_locale

EX_CONFIG = 78
DEFAULT_DB = "central.sqlite3"


class ConfigError(Exception):
    """A setting is invalid; the message names it."""


def env(name: str, default: str | None = None) -> str | None:
    """``TRIAGE_CENTRAL_<NAME>`` or ``default``."""
    return os.environ.get(f"TRIAGE_CENTRAL_{name.upper()}", default)


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TlsSettings(_Model):
    """TLS to the broker, like the agent's ``mqtt.tls``."""

    enabled: bool = Field(default=False, description="Connect with TLS.")
    ca_file: Path | None = Field(default=None, description="CA bundle (PEM); system CAs if unset.")
    cert_file: Path | None = Field(default=None, description="Client certificate (PEM).")
    key_file: Path | None = Field(default=None, description="Client private key (PEM).")
    insecure_skip_verify: bool = Field(
        default=False, description="Do not verify the broker certificate (testing only)."
    )


class BrokerSettings(_Model):
    """Where the collector subscribes and how."""

    host: str = Field(default="127.0.0.1", min_length=1, description="Broker host.")
    port: int = Field(default=1883, ge=1, le=65535, description="Broker port (8883 for TLS).")
    protocol: Literal["5", "3.1.1"] = Field(default="5", description="MQTT protocol version.")
    username: str | None = Field(default=None, description="Broker user name.")
    password: SecretStr | None = Field(default=None, description="Broker password.")
    tls: TlsSettings = Field(default_factory=TlsSettings, description="TLS settings.")
    topic_prefix: str = Field(
        default="triage/v1",
        pattern=r"^[A-Za-z0-9_-]+(/[A-Za-z0-9_-]+)*$",
        description="The boxes' mqtt.topic_prefix; topics are '<prefix>/<site>/<desk>/<kind>'.",
    )
    client_id: str = Field(
        default_factory=lambda: f"triage-central-{socket.gethostname()}"[:64],
        min_length=1,
        max_length=64,
        description="MQTT client id; keep it stable: the persistent session is tied to it.",
    )
    share_group: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z0-9_-]+$",
        description="Subscribe as $share/<group>/<prefix>/# so several collectors split the load.",
    )
    session_expiry_s: int = Field(
        default=7 * 86400,
        ge=0,
        description="How long the broker keeps the session (and queues events) while away.",
    )
    exact_status: bool = Field(
        default=False,
        description=(
            "Also subscribe to each known desk's exact status and health topics (desks already "
            "stored, plus 'desks'): for brokers that send retained messages only to exact topic "
            "filters."
        ),
    )
    desks: tuple[tuple[str, str], ...] = Field(
        default=(), description="(site, desk) pairs to subscribe to exactly with exact_status."
    )
    keepalive_s: int = Field(default=30, ge=5, le=3600, description="MQTT keepalive, seconds.")
    receive_maximum: int = Field(
        default=1000, ge=1, le=65535, description="Unacknowledged QoS 1 messages in flight (v5)."
    )
    max_payload: int = Field(
        default=4096,
        ge=1024,
        le=1024 * 1024,
        description="Largest payload stored, bytes; bigger ones are refused before parsing "
        "(at least 1024: a box's summary may be that long).",
    )
    quarantine_keep: int = Field(
        default=10_000, ge=100, le=10_000_000, description="Refused messages the quarantine keeps."
    )


def zone(name: str) -> ZoneInfo:
    """An IANA time zone, or :class:`ConfigError`."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(
            f"tz: unknown time zone {name!r} (an IANA name such as Africa/Nairobi)"
        ) from None


def default_tz() -> str:
    """``TRIAGE_CENTRAL_TZ``, else the machine's ``TZ``, else UTC."""
    return env("TZ") or os.environ.get("TZ") or "UTC"


class CentralSettings(_Model):
    """Everything a triage-central command needs."""

    db: str = Field(default=DEFAULT_DB, min_length=1, description="SQLite file or SQLAlchemy URL.")
    tz: str = Field(default="UTC", description="District time zone for days and times (IANA).")
    language: str = Field(
        default="zh_CN",
        description="Language of the dashboard, reports and notices: zh_CN or en (central/i18n).",
    )
    broker: BrokerSettings = Field(default_factory=BrokerSettings, description="MQTT broker.")

    @field_validator("tz")
    @classmethod
    def _known_tz(cls, v: str) -> str:
        zone(v)
        return v

    @field_validator("language")
    @classmethod
    def _known_language(cls, v: str) -> str:
        try:
            return check_locale(v)
        except UnknownLocaleError as exc:
            raise ConfigError(f"language: {exc}") from None

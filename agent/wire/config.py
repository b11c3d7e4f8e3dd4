"""Config sections of the wire: who this box is, the MQTT broker, the durable outbox."""

from __future__ import annotations

from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, field_validator, model_validator

from agent.flow.settings import Seconds, Section, Slug


class DeviceConfig(Section):
    """Who this box is. Site and desk appear in every MQTT topic and event."""

    site: Slug = Field(
        default="demo-clinic",
        description="Site (clinic) identifier: lower-case letters, digits, '-' or '_'.",
    )
    desk: Slug = Field(
        default="desk-1",
        description="Triage desk identifier within the site: lower-case letters, digits, '-', '_'.",
    )
    id: Slug | None = Field(
        default=None,
        description="Device id, also the MQTT client id; defaults to '<site>-<desk>'.",
    )

    timezone: str = Field(
        default="UTC",
        description=(
            "IANA time zone of the clinic (e.g. 'Asia/Shanghai'): opening hours are local time."
        ),
    )

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"unknown time zone {value!r}; use an IANA name such as 'Asia/Shanghai' or 'UTC'"
            ) from None
        return value

    @model_validator(mode="after")
    def _device_id_fits(self) -> DeviceConfig:
        if self.id is None and len(f"{self.site}-{self.desk}") > 32:
            raise ValueError("'<site>-<desk>' is longer than 32 characters: set device.id")
        return self

    @property
    def device_id(self) -> str:
        """The effective device id."""
        return self.id or f"{self.site}-{self.desk}"


class TlsConfig(Section):
    """TLS towards the broker. Certificate verification stays on unless explicitly disabled."""

    enabled: bool = Field(default=False, description="Connect to the broker over TLS.")
    ca_file: Path | None = Field(
        default=None,
        description="CA bundle (PEM) that signed the broker certificate; system CAs when unset.",
    )
    cert_file: Path | None = Field(
        default=None, description="Client certificate (PEM) for mutual TLS; needs key_file."
    )
    key_file: Path | None = Field(
        default=None, description="Private key (PEM) of the client certificate."
    )
    insecure_skip_verify: bool = Field(
        default=False,
        description="Disable broker certificate and host name checks. Never in production.",
    )

    @model_validator(mode="after")
    def _cert_and_key_together(self) -> TlsConfig:
        if (self.cert_file is None) != (self.key_file is None):
            raise ValueError("cert_file and key_file must be set together (mutual TLS)")
        return self


class MqttConfig(Section):
    """The central MQTT broker and how events are published to it."""

    host: str = Field(default="127.0.0.1", min_length=1, description="Broker host name or IP.")
    port: int = Field(default=1883, ge=1, le=65535, description="Broker TCP port (8883 for TLS).")
    topic_prefix: str = Field(
        default="triage/v1",
        pattern=r"^[A-Za-z0-9_-]+(/[A-Za-z0-9_-]+)*$",
        description="Topic prefix; topics are '<prefix>/<site>/<desk>/<kind>'.",
    )
    protocol: Literal["5", "3.1.1"] = Field(
        default="5", description="MQTT protocol version: '5' (default) or '3.1.1'."
    )
    username: str | None = Field(
        default=None, description="Broker user name; env TRIAGE_MQTT_USERNAME overrides."
    )
    password: SecretStr | None = Field(
        default=None, description="Broker password; env TRIAGE_MQTT_PASSWORD overrides."
    )
    keepalive_s: int = Field(
        default=30, ge=5, le=3600, description="MQTT keepalive interval in seconds."
    )
    reconnect_min_s: Seconds = Field(
        default=1.0, description="First reconnect delay; doubles on each failure."
    )
    reconnect_max_s: Seconds = Field(default=60.0, description="Longest reconnect delay.")
    tls: TlsConfig = Field(default_factory=TlsConfig, description="TLS settings.")

    @model_validator(mode="after")
    def _backoff_order(self) -> MqttConfig:
        if self.reconnect_max_s < self.reconnect_min_s:
            raise ValueError("reconnect_max_s must be >= reconnect_min_s")
        return self


class OutboxConfig(Section):
    """The durable on-disk queue between events and MQTT."""

    path: Path = Field(
        default=Path("/var/lib/triage-agent/outbox.sqlite3"),
        description="SQLite file of the outbox (WAL mode); its folder must be writable.",
    )
    max_messages: int = Field(
        default=100_000, ge=100, description="Oldest messages are evicted beyond this count."
    )
    max_age_s: Seconds = Field(
        default=7 * 24 * 3600.0, description="Messages older than this are evicted unsent."
    )

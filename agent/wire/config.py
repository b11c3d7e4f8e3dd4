"""Config sections of the wire: who this box is, the MQTT broker, the durable outbox."""

from __future__ import annotations

import re
import ssl
from functools import cache
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from pydantic import Field, SecretStr, field_validator, model_validator

from agent.flow.settings import Seconds, Section, Slug


@cache
def known_zones() -> frozenset[str]:
    """IANA zone names of this machine and of the tzdata package (a dependency), without
    ``localtime`` (whatever the machine is set to, not the clinic's zone)."""
    return frozenset(available_timezones() - {"localtime", "posixrules"})


def check_zone(name: str) -> str:
    """``name`` when it is an IANA time zone; ValueError saying what to give otherwise.

    Only names from :func:`known_zones` are accepted, never opened as a path: a region folder
    ("Europe") or a path ("../../etc/passwd") is refused with advice, not an OSError."""
    if name in known_zones():
        try:
            ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError, OSError) as exc:
            raise ValueError(f"time zone {name!r} cannot be loaded ({exc})") from None
        return name
    if not name.strip():
        raise ValueError("empty; give an IANA time zone such as 'Asia/Shanghai' or 'UTC'")
    inside = sorted(z for z in known_zones() if z.startswith(name.rstrip("/") + "/"))
    if inside:
        shown = ", ".join(repr(z) for z in inside[:3])
        raise ValueError(f"{name!r} is a region, not a time zone; give a city zone such as {shown}")
    similar = sorted(z for z in known_zones() if z.lower() == name.strip().lower())
    hint = f" (did you mean {similar[0]!r}?)" if similar else ""
    raise ValueError(
        f"unknown time zone{hint}; use an IANA name such as 'Asia/Shanghai', 'Europe/Paris' "
        "or 'UTC' (list: `timedatectl list-timezones`)"
    )


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
        return check_zone(value)

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
        if self.enabled:
            check_tls_files(self)
        return self


def _no_passphrase() -> bytes:
    raise ValueError("the key is protected by a passphrase; the agent needs an unencrypted key")


def tls_context(tls: TlsConfig) -> ssl.SSLContext:
    """An SSLContext from ``mqtt.tls`` (verification on unless ``insecure_skip_verify``).

    Raises OSError / ssl.SSLError / ValueError for unusable files (never prompts for a passphrase).
    """
    ctx = ssl.create_default_context(cafile=str(tls.ca_file) if tls.ca_file else None)
    if tls.cert_file is not None and tls.key_file is not None:
        ctx.load_cert_chain(str(tls.cert_file), str(tls.key_file), password=_no_passphrase)
    if tls.insecure_skip_verify:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    return ctx


def check_tls_files(tls: TlsConfig) -> None:
    """Raise ValueError naming the field when a TLS file is missing, unreadable or mismatched."""
    for name in ("ca_file", "cert_file", "key_file"):
        path: Path | None = getattr(tls, name)
        if path is None:
            continue
        try:
            with path.open("rb"):
                pass
        except OSError as exc:
            raise ValueError(f"{name} {path}: {exc.strerror or exc}") from None
    if tls.ca_file is not None:
        try:
            ssl.create_default_context(cafile=str(tls.ca_file))
        except (ssl.SSLError, ValueError) as exc:
            raise ValueError(f"ca_file {tls.ca_file}: not a PEM CA certificate ({exc})") from None
    if tls.cert_file is not None and tls.key_file is not None:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        try:
            ctx.load_cert_chain(str(tls.cert_file), str(tls.key_file), password=_no_passphrase)
        except ssl.SSLError as exc:
            why = (
                "does not match the certificate in cert_file"
                if "KEY_VALUES_MISMATCH" in str(exc) or "key values mismatch" in str(exc)
                else f"cannot be loaded with cert_file ({exc.reason or exc})"
            )
            raise ValueError(f"key_file {tls.key_file} {why}") from None
        except ValueError as exc:
            raise ValueError(f"key_file {tls.key_file}: {exc}") from None


_HOST = re.compile(r"[A-Za-z0-9]([A-Za-z0-9.-]{0,251}[A-Za-z0-9])?|\[?[0-9A-Fa-f:.]+\]?")


class MqttConfig(Section):
    """The central MQTT broker and how events are published to it."""

    host: str = Field(
        default="127.0.0.1",
        min_length=1,
        max_length=253,
        description="Broker host name or IP address (no scheme, no port, no spaces).",
    )
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
        default=1.0,
        description="First reconnect delay; later ones are jittered up to reconnect_max_s.",
    )
    reconnect_max_s: Seconds = Field(
        default=8.0,
        description=(
            "Longest delay between connection attempts; capped at 8 s whatever is set here, so a "
            "box is back within 8 s of the broker's return (the jitter spreads a district's "
            "boxes over those seconds)."
        ),
    )
    tls: TlsConfig = Field(default_factory=TlsConfig, description="TLS settings.")

    @field_validator("host")
    @classmethod
    def _plain_host(cls, host: str) -> str:
        if "://" in host:
            raise ValueError(
                "give the bare host name: no scheme such as mqtt:// (port goes in port)"
            )
        if not _HOST.fullmatch(host):
            raise ValueError("not a host name or IP address (letters, digits, '.', '-', ':')")
        return host

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

    @field_validator("path", mode="before")
    @classmethod
    def _not_a_folder(cls, value: object) -> object:
        if isinstance(value, str) and value.endswith("/"):
            raise ValueError("ends with '/': give the path of a file, not of a folder")
        return value

    @field_validator("path")
    @classmethod
    def _a_file(cls, path: Path) -> Path:
        if str(path) in ("", ".") or path.name in ("", ".", ".."):
            raise ValueError("give the path of a file, e.g. /var/lib/triage-agent/outbox.sqlite3")
        return path


class HomeAssistantConfig(Section):
    """Home Assistant MQTT discovery (agent/wire/discovery.py): off by default."""

    enabled: bool = Field(
        default=False,
        description=(
            "Announce this box's entities to Home Assistant (retained discovery configs). "
            "Switching it off removes the configs this box published before."
        ),
    )
    discovery_prefix: str = Field(
        default="homeassistant",
        pattern=r"^[A-Za-z0-9_-]+(/[A-Za-z0-9_-]+)*$",
        description=(
            "Home Assistant's MQTT discovery prefix; its '<prefix>/status' birth message "
            "'online' makes the box publish its configs again."
        ),
    )

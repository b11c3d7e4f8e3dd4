"""The agent's configuration: one TOML file, declared once here as typed, frozen pydantic models.

Everything else reads the validated :class:`AgentConfig`; nothing else parses TOML or environment
variables. Unknown keys are rejected, every field carries a description (``docs/CONFIG.md`` is kept in
sync with these descriptions by a test), and secrets may be supplied through environment variables so
they need not sit in the file:

- ``TRIAGE_MQTT_USERNAME`` overrides ``mqtt.username``
- ``TRIAGE_MQTT_PASSWORD`` overrides ``mqtt.password``

A bad file raises :class:`ConfigError`, whose message names the file, the field path, the bad value
and what is allowed; the CLI turns it into exit status 78 (``EX_CONFIG``).
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, model_validator

EX_CONFIG = 78
"""sysexits.h EX_CONFIG: the configuration is wrong; systemd must not restart us in a loop."""

_SLUG = r"^[a-z0-9][a-z0-9_-]{0,31}$"
Slug = Annotated[str, Field(pattern=_SLUG, min_length=1, max_length=32)]
Seconds = Annotated[float, Field(gt=0)]

ENV_OVERRIDES: Mapping[str, tuple[str, str]] = {
    "TRIAGE_MQTT_USERNAME": ("mqtt", "username"),
    "TRIAGE_MQTT_PASSWORD": ("mqtt", "password"),
}
"""Environment variables that override a config field: name -> (section, key)."""


class ConfigError(Exception):
    """A configuration file that cannot be used; ``str()`` is a message for a technician."""


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DeviceConfig(_Model):
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

    @model_validator(mode="after")
    def _device_id_fits(self) -> DeviceConfig:
        if self.id is None and len(f"{self.site}-{self.desk}") > 32:
            raise ValueError("'<site>-<desk>' is longer than 32 characters: set device.id")
        return self

    @property
    def device_id(self) -> str:
        """The effective device id."""
        return self.id or f"{self.site}-{self.desk}"


class TlsConfig(_Model):
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


class MqttConfig(_Model):
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


class ThermometerConfig(_Model):
    """The IR thermometer on a serial port."""

    enabled: bool = Field(default=True, description="Read the thermometer at all.")
    port: str = Field(
        default="simulated",
        min_length=1,
        description=(
            "Serial device path (/dev/triage-thermometer), a pty path, any pyserial URL "
            "(loop://, spy://, rfc2217://), or 'simulated' for the built-in emulator."
        ),
    )
    protocol: Literal["bridge", "gy-mcu90614"] = Field(
        default="bridge",
        description="Wire protocol: 'bridge' (project firmware) or 'gy-mcu90614' (GY-MCU90614).",
    )
    baudrate: Literal[9600, 19200, 38400, 57600, 115200] = Field(
        default=9600, description="Serial speed; GY-MCU90614 modules use 9600 or 115200."
    )
    reconnect_min_s: Seconds = Field(
        default=1.0, description="First delay before reopening a missing port; doubles."
    )
    reconnect_max_s: Seconds = Field(default=30.0, description="Longest reopen delay.")
    stale_after_s: Seconds = Field(
        default=10.0,
        description="No valid frame for this long marks the thermometer stale (watchdog, health).",
    )
    simulated_scenario: Literal["idle", "normal", "fever", "mixed", "glitch", "queue"] = Field(
        default="queue",
        description="Trace the built-in emulator plays (looped) when port = 'simulated'.",
    )


class ScreeningConfig(_Model):
    """Turning a stream of IR readings into one temperature result per person."""

    fever_threshold_c: float = Field(
        default=37.3, ge=35.0, le=42.0, description="Body temperature at or above which is fever."
    )
    site_offset_c: float = Field(
        default=0.0,
        ge=-5.0,
        le=5.0,
        description="Site calibration offset added to the plateau estimate (see `calibrate`).",
    )
    ambient_correction: bool = Field(
        default=False,
        description="Apply the documented ambient-temperature correction (docs/SCREENING.md).",
    )
    calibration_file: Path | None = Field(
        default=None,
        description="File written by `triage-agent calibrate`; its offset overrides site_offset_c.",
    )
    min_valid_c: float = Field(
        default=34.0, description="Estimates below this are 'invalid' (ask to re-measure)."
    )
    max_valid_c: float = Field(
        default=43.0, description="Estimates above this are 'invalid' (ask to re-measure)."
    )
    presence_delta_c: float = Field(
        default=3.0, gt=0, description="Object above ambient by this much means a person is there."
    )
    plateau_window_s: Seconds = Field(
        default=1.0, description="Readings must stay stable for this long to form a plateau."
    )
    plateau_max_spread_c: float = Field(
        default=0.3, gt=0, description="Largest spread (robust) of readings within a plateau."
    )
    ambient_reference_c: float = Field(
        default=24.0,
        ge=10.0,
        le=35.0,
        description="Ambient temperature at which the ambient correction is zero (°C).",
    )
    ambient_coefficient: float = Field(
        default=0.1,
        ge=0.0,
        le=0.5,
        description="Ambient correction in °C added per °C the room is below ambient_reference_c.",
    )
    presentation_timeout_s: Seconds = Field(
        default=10.0,
        description="A person in front of the sensor this long without a plateau gets 'invalid'.",
    )


class CameraConfig(_Model):
    """Where frames come from. Frames never leave process memory."""

    enabled: bool = Field(default=True, description="Run the camera and vision at all.")
    source: str = Field(
        default="simulated",
        min_length=1,
        description=(
            "V4L2 index or /dev/videoN, rtsp:// or http:// URL, a video file, an image folder, "
            "or 'simulated' (a synthetic scene rendered in process)."
        ),
    )
    width: int = Field(default=640, ge=64, le=4096, description="Requested frame width.")
    height: int = Field(default=480, ge=48, le=4096, description="Requested frame height.")
    max_fps: float = Field(
        default=5.0, gt=0, le=60, description="Maximum analysis rate in frames per second."
    )
    loop: bool = Field(default=True, description="Loop video files and image folders.")
    reconnect_min_s: Seconds = Field(default=1.0, description="First camera reopen delay.")
    reconnect_max_s: Seconds = Field(default=30.0, description="Longest camera reopen delay.")
    stale_after_s: Seconds = Field(
        default=10.0, description="No frame for this long marks the camera stale (watchdog)."
    )
    simulated_scenes_dir: Path | None = Field(
        default=None,
        description=(
            "Photos the 'simulated' camera cycles through (mask images from the sibling 'mask' "
            "folder are composed in); default ../shared/data/scenes beside the repository, "
            "synthetic frames when absent."
        ),
    )


class VisionConfig(_Model):
    """Face, mask and occupancy analysis on camera frames."""

    models_dir: Path = Field(
        default=Path("models"),
        description="Folder holding the ONNX files and manifest.json (relative to the CWD).",
    )
    face_model: str = Field(
        default="face-detector", description="Manifest name of the face detector."
    )
    mask_model: str = Field(
        default="mask-classifier", description="Manifest name of the mask classifier."
    )
    face_min_score: float = Field(
        default=0.5, ge=0, le=1, description="Minimum face detection score."
    )
    person_model: str | None = Field(
        default=None,
        description=(
            "Manifest name of an optional person detector (task 'person') for occupancy; "
            "unset counts faces instead."
        ),
    )
    threads: int = Field(
        default=1, ge=1, le=8, description="onnxruntime intra-op threads per vision model."
    )
    unmasked_alert_after_s: Seconds = Field(
        default=10.0,
        description="Raise an 'unmasked' alert after an unmasked face stays this long.",
    )
    crowd_limit: int = Field(
        default=5, ge=1, description="Occupancy above this many people counts as crowding."
    )
    crowd_after_s: Seconds = Field(
        default=30.0, description="Raise a 'crowding' alert after crowding lasts this long."
    )
    compliance_window_s: Seconds = Field(
        default=60.0, description="Period of the mask compliance and occupancy maximum events."
    )


class OutboxConfig(_Model):
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


class ReportingConfig(_Model):
    """Periodic health and summary events."""

    health_interval_s: Seconds = Field(default=60.0, description="Seconds between health events.")
    summary_interval_s: Seconds = Field(
        default=900.0, description="Seconds between summary events (counts per period)."
    )


class RuntimeConfig(_Model):
    """Local runtime files of the agent."""

    state_dir: Path = Field(
        default=Path("/var/lib/triage-agent"),
        description="Writable folder for persistent state (calibration).",
    )
    status_socket: Path = Field(
        default=Path("/run/triage-agent/status.sock"),
        description="Unix socket serving `triage-agent status` and `tail` (mode 0660).",
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        default="INFO", description="Log level."
    )


class AgentConfig(_Model):
    """The whole configuration file."""

    device: DeviceConfig = Field(default_factory=DeviceConfig, description="Device identity.")
    mqtt: MqttConfig = Field(default_factory=MqttConfig, description="MQTT broker.")
    thermometer: ThermometerConfig = Field(
        default_factory=ThermometerConfig, description="IR thermometer."
    )
    screening: ScreeningConfig = Field(
        default_factory=ScreeningConfig, description="Temperature screening."
    )
    camera: CameraConfig = Field(default_factory=CameraConfig, description="Camera.")
    vision: VisionConfig = Field(default_factory=VisionConfig, description="Vision analysis.")
    outbox: OutboxConfig = Field(default_factory=OutboxConfig, description="Durable outbox.")
    reporting: ReportingConfig = Field(
        default_factory=ReportingConfig, description="Periodic reports."
    )
    runtime: RuntimeConfig = Field(default_factory=RuntimeConfig, description="Runtime files.")


def _apply_env(raw: dict[str, Any], environ: Mapping[str, str]) -> dict[str, Any]:
    for var, (section, key) in ENV_OVERRIDES.items():
        if var in environ:
            raw.setdefault(section, {})
            if isinstance(raw[section], dict):
                raw[section][key] = environ[var]
    return raw


def _describe(err: ValidationError, source: str, raw: Mapping[str, Any]) -> str:
    lines = [f"invalid configuration in {source}:"]
    for e in err.errors():
        path = ".".join(str(p) for p in e["loc"]) or "(top level)"
        if e["type"] == "extra_forbidden":
            lines.append(f"  {path}: unknown key; check the spelling against docs/CONFIG.md")
            continue
        value = e.get("input")
        shown = "<secret>" if "password" in path else repr(value)
        if e["type"] == "missing":
            lines.append(f"  {path}: required field is missing")
        else:
            lines.append(f"  {path} = {shown}: {e['msg']}")
    lines.append("fix the field(s) above; every key is documented in docs/CONFIG.md")
    return "\n".join(lines)


def parse_config(
    raw: Mapping[str, Any], source: str = "<config>", environ: Mapping[str, str] | None = None
) -> AgentConfig:
    """Validate an already-parsed TOML document (plus environment overrides)."""
    data = _apply_env(
        {k: dict(v) if isinstance(v, dict) else v for k, v in raw.items()},
        os.environ if environ is None else environ,
    )
    try:
        return AgentConfig.model_validate(data)
    except ValidationError as err:
        raise ConfigError(_describe(err, source, data)) from None


def load_config(path: Path | str, environ: Mapping[str, str] | None = None) -> AgentConfig:
    """Read, parse and validate the TOML file at ``path``."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(
            f"config file {p} not found; copy packaging/config.example.toml there and edit it"
        ) from None
    except OSError as exc:
        raise ConfigError(f"cannot read config file {p}: {exc.strerror}") from None
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"invalid TOML in {p}: {exc}; fix the syntax at that line") from None
    return parse_config(raw, str(p), environ)

"""The configuration's model: :class:`AgentConfig`, every component's section under one roof.

Each section is declared beside the code it configures (``agent/*/config.py``); the two that belong
to no single component, ``reporting`` and ``runtime``, are declared here. Reading a file, the
environment overrides and the error messages are :mod:`agent.config`'s job.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, field_validator

from agent.flow.settings import Seconds, Section
from agent.scanner.config import ScannerConfig
from agent.thermometer.config import ScreeningConfig, ThermometerConfig
from agent.vision.config import CameraConfig, VisionConfig
from agent.wire.config import DeviceConfig, HomeAssistantConfig, MqttConfig, OutboxConfig
from agent.zones.config import ClinicConfig, Zones

DAY_S = 86_400
"""Seconds in a (civil) day: ``reporting.summary_interval_s`` must divide it."""
_DAY_DIVISORS = tuple(d for d in range(1, DAY_S + 1) if DAY_S % d == 0)


class ReportingConfig(Section):
    """Periodic health and summary events, and alerts across restarts."""

    health_interval_s: float = Field(
        default=60.0,
        ge=0.05,
        le=3600.0,
        description=(
            "Seconds between health events, 0.05 to 3600 (under 10 s only for tests: every "
            "health event is a message to the district)."
        ),
    )
    summary_interval_s: Seconds = Field(
        default=900.0,
        description=(
            "Length of the aligned summary periods, seconds: counted from local midnight in "
            "device.timezone (900 = :00/:15/:30/:45); a day summary is sent at midnight too. A "
            "whole number of seconds from 1 to 86400 that divides the day (86400 s) exactly, so "
            "every period of a day is as long: 60, 300, 600, 900, 1800, 3600, 86400..."
        ),
    )
    restored_alert_grace_s: Seconds = Field(
        default=120.0,
        description=(
            "After a restart, how long an alert that was open at the stop may wait for its "
            "analyser's first verdict; unconfirmed by then it is cleared "
            "('agent restarted; condition not confirmed')."
        ),
    )

    @field_validator("summary_interval_s")
    @classmethod
    def _divides_the_day(cls, interval: float) -> float:
        if interval.is_integer() and interval <= DAY_S and DAY_S % int(interval) == 0:
            return interval
        near = [d for d in _DAY_DIVISORS if d < interval][-1:]
        near += [d for d in _DAY_DIVISORS if d > interval][:1]
        raise ValueError(
            f"must be a whole number of seconds that divides the day ({DAY_S} s) into equal "
            f"periods, e.g. 300, 900 or 3600; the nearest that do: "
            f"{' or '.join(str(d) for d in near)}"
        )


SUN_PATH_MAX = 107
"""sockaddr_un.sun_path is 108 bytes including the terminating NUL."""


class RuntimeConfig(Section):
    """Local runtime files of the agent."""

    state_dir: Path = Field(
        default=Path("/var/lib/triage-agent"),
        description="Writable folder for persistent state (calibration, camera reference, open alerts).",
    )
    status_socket: Path = Field(
        default=Path("/run/triage-agent/status.sock"),
        description="Unix socket serving `triage-agent status` and `tail` (mode 0660).",
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        default="INFO", description="Log level."
    )

    @field_validator("status_socket", mode="before")
    @classmethod
    def _not_a_folder(cls, value: Any) -> Any:
        if isinstance(value, str) and value.endswith("/"):
            raise ValueError("ends with '/': give the path of the socket file, not of a folder")
        return value

    @field_validator("status_socket")
    @classmethod
    def _fits_sun_path(cls, path: Path) -> Path:
        if path.name in ("", ".", ".."):
            raise ValueError("give the path of the socket file, e.g. /run/triage-agent/status.sock")
        if len(os.fsencode(path)) > SUN_PATH_MAX:
            raise ValueError(
                f"a Unix socket path holds at most {SUN_PATH_MAX} bytes; choose a shorter one"
            )
        return path


class AgentConfig(Section):
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
    zones: Zones = Field(
        default_factory=list,
        description="Zones of the camera picture; none = the whole frame is one waiting zone.",
    )
    clinic: ClinicConfig = Field(
        default_factory=ClinicConfig, description="Opening hours and the attended desk."
    )
    outbox: OutboxConfig = Field(default_factory=OutboxConfig, description="Durable outbox.")
    reporting: ReportingConfig = Field(
        default_factory=ReportingConfig, description="Periodic reports."
    )
    runtime: RuntimeConfig = Field(default_factory=RuntimeConfig, description="Runtime files.")
    home_assistant: HomeAssistantConfig = Field(
        default_factory=HomeAssistantConfig, description="Home Assistant MQTT discovery."
    )
    scanner: ScannerConfig = Field(
        default_factory=ScannerConfig,
        description="Registration scanner at the desk: scans counted, never read (absent by default).",
    )

"""Config sections of the thermometer: the serial device and the screening algorithm."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field

from agent.flow.settings import Seconds, Section


class ThermometerConfig(Section):
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


class ScreeningConfig(Section):
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

"""Config sections of the thermometer: the serial device and the screening algorithm.

``thermometer.protocol`` and ``thermometer.baudrate`` are checked against the protocol registry
(:mod:`agent.thermometer.protocols`) when the config is validated, so a protocol registered there is
accepted here without a change to this file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, ValidationInfo, field_validator, model_validator

from agent.flow.settings import Seconds, Section
from agent.thermometer import protocols

_SHIPPED = "; ".join(f"'{name}': {p.summary}" for name, p in protocols.PROTOCOLS.items())


class ThermometerConfig(Section):
    """The IR thermometer on a serial port."""

    enabled: bool = Field(default=True, description="Read the thermometer at all.")
    port: str = Field(
        default="simulated",
        min_length=1,
        description=(
            "Serial device path (/dev/triage-thermometer), a pty path, any pyserial URL "
            "(loop://, spy://, rfc2217://), or 'simulated' for the built-in emulator (demos and "
            "tests: it makes up temperatures). Must be given in the file while enabled: a file "
            "without it is refused, never run on the emulator."
        ),
    )
    protocol: str = Field(
        default="bridge",
        description=f"Wire protocol, a name from agent/thermometer/protocols: {_SHIPPED}.",
    )
    baudrate: int = Field(
        default=9600,
        description="Serial speed; must be one the protocol allows (GY-MCU90614: 9600 or 115200).",
    )
    reconnect_min_s: Seconds = Field(
        default=1.0, description="First delay before reopening a missing port; doubles."
    )
    reconnect_max_s: Seconds = Field(
        default=5.0,
        description=(
            "Longest reopen delay; at most about 5 s keeps the time from the device's return "
            "to data under 10 s whatever the outage."
        ),
    )
    stale_after_s: Seconds = Field(
        default=10.0,
        description="No valid frame for this long marks the thermometer stale (health, status).",
    )
    lost_alert_after_s: Seconds = Field(
        default=60.0,
        description=(
            "While the clinic is open, raise 'thermometer_lost' once it stayed stale this much "
            "longer."
        ),
    )
    simulated_scenario: Literal["idle", "normal", "fever", "mixed", "glitch", "queue", "clinic"] = (
        Field(
            default="queue",
            description="Trace the built-in emulator plays (looped) when port = 'simulated'.",
        )
    )

    @field_validator("protocol")
    @classmethod
    def _known_protocol(cls, name: str) -> str:
        protocols.get(name)  # UnknownProtocolError (a ValueError) names the known ones
        return name

    @field_validator("baudrate")
    @classmethod
    def _allowed_baudrate(cls, rate: int, info: ValidationInfo) -> int:
        name = info.data.get("protocol")
        if name is None:  # the protocol itself is invalid; that error is reported
            return rate
        allowed = protocols.get(name).baudrates
        if rate not in allowed:
            shown = ", ".join(str(r) for r in allowed)
            raise ValueError(f"protocol {name!r} allows {shown} baud")
        return rate


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
    coverage_match_s: Seconds = Field(
        default=120.0,
        le=3600.0,
        description=(
            "Screening coverage (camera and thermometer): an arrival counts as screened when a "
            "valid temperature result comes at most this long after it (docs/EVENTS.md, coverage)."
        ),
    )
    coverage_before_s: float = Field(
        default=30.0,
        ge=0.0,
        le=600.0,
        description=(
            "...or at most this long before it (screened at the door before the camera "
            "confirmed the person)."
        ),
    )
    skipped_after: int = Field(
        default=3,
        ge=1,
        le=100,
        description=(
            "Raise 'screening_skipped' while the clinic is open once this many arrivals in a "
            "row went unscreened..."
        ),
    )
    skipped_within_s: Seconds = Field(
        default=600.0,
        description="...all judged within this many seconds (cleared by the next valid result).",
    )

    @model_validator(mode="after")
    def _valid_range_in_order(self) -> ScreeningConfig:
        if self.min_valid_c >= self.max_valid_c:
            raise ValueError("min_valid_c must be below max_valid_c")
        return self

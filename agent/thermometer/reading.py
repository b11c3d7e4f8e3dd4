"""The thermometer's observation: one valid reading, as handed to the pipeline by the serial source."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ThermoReading:
    """One valid temperature frame, time-stamped on arrival (POSIX seconds)."""

    at: float
    object_c: float
    ambient_c: float
    sensor_id: int = 0
    seq: int | None = None
    """Bridge sequence number; None for the GY-MCU90614."""

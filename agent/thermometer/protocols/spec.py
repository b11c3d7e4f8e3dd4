"""What a thermometer protocol module declares: one frozen :class:`ThermometerProtocol`.

Everything that differs between thermometer wire protocols lives in one of these, so the serial
source, the config validator, ``diag`` and the emulator read the same facts and never branch on a
protocol name.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from agent.thermometer.records import Decoder
from firmware_bridge.emulator import DeviceEncoder


@dataclass(frozen=True, slots=True)
class ThermometerProtocol:
    """One wire protocol between a thermometer and the agent."""

    summary: str
    """One line for the config reference: what speaks this protocol."""
    decoder: Callable[[], Decoder]
    """A fresh incremental decoder (bytes -> records) for one open port."""
    baudrates: tuple[int, ...]
    """Serial speeds the device can use; ``thermometer.baudrate`` must be one of them."""
    device: Callable[[], DeviceEncoder]
    """A fresh emulator encoder: the device side, played by ``firmware_bridge.emulator``."""
    start: bytes = b""
    """Sent on every open of the port (empty: the device streams unasked)."""
    keepalive_after_s: float | None = None
    """Re-send :attr:`start` when no reading arrived for this long (a power-cycled device forgets)."""

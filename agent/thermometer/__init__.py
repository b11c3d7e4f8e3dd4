"""The IR thermometer: serial source (bridge firmware or GY-MCU90614) and the screening analyser.

:func:`build` is the plug-in point used by the pipeline. Modules: :mod:`.records` (wire records),
:mod:`.bridge_decoder` and :mod:`.gy_decoder` (byte stream -> records), :mod:`.serial_source` (port,
reconnects, readings), :mod:`.reading` (the observation), :mod:`.screening` (one result per person),
:mod:`.simulated_port` (the emulator behind ``port = "simulated"``).
"""

from __future__ import annotations

from agent.config import AgentConfig
from agent.ports import Analyser, Source
from agent.thermometer.screening import ScreeningAnalyser
from agent.thermometer.serial_source import SerialThermometer
from agent.thermometer.simulated_port import SimulatedPort

SIMULATED = "simulated"


def build(config: AgentConfig) -> tuple[list[Source], list[Analyser]]:
    """The thermometer source and screening analyser for ``config`` (empty when disabled).

    Raises :class:`agent.config.ConfigError` when the calibration file exists but is unusable.
    """
    from agent.calibration import effective_offset  # noqa: PLC0415 (calibration imports us)

    if not config.thermometer.enabled:
        return [], []
    analyser = ScreeningAnalyser(config.screening, offset_c=effective_offset(config))
    return [build_source(config)], [analyser]


def build_source(config: AgentConfig) -> SerialThermometer:
    """The serial source for the configured port (the in-process emulator for 'simulated')."""
    t = config.thermometer
    provider = SimulatedPort(t.protocol, t.simulated_scenario) if t.port == SIMULATED else None
    return SerialThermometer(
        port=t.port,
        protocol=t.protocol,
        baudrate=t.baudrate,
        reconnect_min_s=t.reconnect_min_s,
        reconnect_max_s=t.reconnect_max_s,
        stale_after_s=t.stale_after_s,
        provider=provider,
    )

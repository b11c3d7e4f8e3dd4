"""The IR thermometer: serial source (bridge firmware or GY-MCU90614) and the screening analyser.

:func:`build` is the plug-in point the service wires. Modules: :mod:`.config` (its config sections),
:mod:`.records` (wire records), :mod:`.protocols` (the registry of wire protocols, one module each:
decoder, start bytes, baud rates, emulator encoder), :mod:`.link` (one open port speaking one
protocol), :mod:`.serial_source` (port, reconnects, readings), :mod:`.reading` (the observation),
:mod:`.screening` (one result per person), :mod:`.calibration` (the site offset file),
:mod:`.live_calibration` (the offset in force: the file watched, calibration through the running
agent), :mod:`.simulated_port` (the emulator behind ``port = "simulated"``).
"""

from __future__ import annotations

from pathlib import Path

from agent.flow.alerts import AlertBook
from agent.flow.ports import Analyser, Source
from agent.thermometer.calibration import calibration_path
from agent.thermometer.config import ScreeningConfig, ThermometerConfig
from agent.thermometer.live_calibration import CalibratedScreening
from agent.thermometer.screening import ScreeningAnalyser
from agent.thermometer.serial_source import SerialThermometer
from agent.thermometer.simulated_port import SimulatedPort

SIMULATED = "simulated"


def build(
    thermometer: ThermometerConfig,
    screening: ScreeningConfig,
    state_dir: Path,
    book: AlertBook | None = None,
) -> tuple[list[Source], list[Analyser]]:
    """The thermometer source and screening analyser (empty when disabled); its fever alerts are
    kept in ``book``.

    The analyser takes its offset from the calibration file and watches it
    (:class:`.live_calibration.CalibratedScreening`); a file it cannot use is a degraded state, never
    an error here.
    """
    if not thermometer.enabled:
        return [], []
    source = build_source(thermometer)
    # Presentations that are no body temperature count among the thermometer's rejected inputs.
    analyser = CalibratedScreening(
        ScreeningAnalyser(screening, rejected=source.heartbeat.error, book=book),
        calibration_path(screening, state_dir),
        screening.site_offset_c,
    )
    return [source], [analyser]


def build_source(t: ThermometerConfig) -> SerialThermometer:
    """The serial source for the configured port (the in-process emulator for 'simulated')."""
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

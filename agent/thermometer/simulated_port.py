"""``thermometer.port = "simulated"``: the firmware emulator on an in-process pty.

A thread writes the real wire bytes of a looped trace into a pty; the serial source opens the pty
path exactly as it would open ``/dev/ttyACM0``, so the simulated path exercises the same code.
:func:`emulator` is where the emulator gets its encoder: from the protocol registry.
"""

from __future__ import annotations

from agent.thermometer import protocols
from firmware_bridge.emulator import PtyEmulator
from firmware_bridge.trace import Trace, generate


def emulator(
    protocol: str,
    trace: Trace,
    speed: float = 1.0,
    loop: bool = False,
    wire_faults: bool = True,
) -> PtyEmulator:
    """A :class:`PtyEmulator` speaking the registered ``protocol`` (its declared encoder)."""
    device = protocols.get(protocol).device()
    return PtyEmulator(device, trace, speed=speed, loop=loop, wire_faults=wire_faults)


class SimulatedPort:
    """A :class:`agent.thermometer.serial_source.PortProvider` backed by :class:`PtyEmulator`."""

    def __init__(self, protocol: str, scenario: str = "queue", seed: int = 0) -> None:
        self.emulator = emulator(protocol, generate(scenario, seed), loop=True)

    def start(self) -> str:
        """Open the pty and start streaming; return its path."""
        return self.emulator.start()

    def stop(self) -> None:
        """Stop streaming and close the pty."""
        self.emulator.stop()

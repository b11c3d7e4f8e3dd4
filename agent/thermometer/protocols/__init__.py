"""Thermometer wire protocols: the registry from ``thermometer.protocol`` to what it declares.

Each protocol is one module here declaring a :class:`~.spec.ThermometerProtocol` named ``PROTOCOL``:
its decoder (bytes -> records), the bytes to send on open and as keep-alive, the baud rates the
device can use and the emulator's encoder. The serial source, the config validator, ``diag`` and
the emulator (``port = "simulated"``) read :data:`PROTOCOLS` and nothing else, so adding a protocol
is one new module and one line below.
"""

from __future__ import annotations

from agent.thermometer.protocols import bridge, gy_mcu90614
from agent.thermometer.protocols.spec import ThermometerProtocol

__all__ = ["PROTOCOLS", "ThermometerProtocol", "UnknownProtocolError", "get"]

PROTOCOLS: dict[str, ThermometerProtocol] = {
    "bridge": bridge.PROTOCOL,
    "gy-mcu90614": gy_mcu90614.PROTOCOL,
}


class UnknownProtocolError(ValueError):
    """A protocol name that is not in :data:`PROTOCOLS`."""


def get(name: str) -> ThermometerProtocol:
    """The protocol registered as ``name``; :class:`UnknownProtocolError` names the known ones."""
    try:
        return PROTOCOLS[name]
    except KeyError:
        known = ", ".join(sorted(PROTOCOLS))
        raise UnknownProtocolError(
            f"unknown thermometer protocol {name!r} (known: {known})"
        ) from None

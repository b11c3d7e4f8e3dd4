"""The I2C bus the sensor driver needs, as a typing Protocol (type checking only).

MicroPython's ``machine.I2C`` satisfies it on the device; tests use a fake MLX90614 that speaks the
same SMBus bytes. This module is imported only under ``TYPE_CHECKING`` and never copied to the Pico.
"""

from typing import Protocol


class I2CBus(Protocol):
    """The subset of ``machine.I2C`` used by :class:`firmware_bridge.mlx90614.MLX90614`."""

    def readfrom_mem(self, addr: int, memaddr: int, nbytes: int) -> bytes:
        """Write ``memaddr`` to device ``addr``, repeated start, read ``nbytes``; OSError on NACK."""
        ...

"""A fake MLX90614 on a fake I2C bus, speaking the exact SMBus bytes (LSB, MSB, PEC).

Used by the firmware tests: a physical sensor cannot exist on the host. Faults can be scripted per
read: ``"nack"`` raises OSError like ``machine.I2C``, ``"pec"`` corrupts the PEC byte, ``"short"``
returns two bytes.
"""

from __future__ import annotations

from firmware_bridge.mlx90614 import crc8_pec


def centi_to_word(centi_c: int) -> int:
    """Inverse of the sensor's transfer function (0.02 K per LSB; odd centi-degrees are exact)."""
    return round((centi_c + 27315) / 2)


class FakeMLX90614Bus:
    """Answers ``readfrom_mem`` for registers 0x06 (Ta) and 0x07 (Tobj1) at one address."""

    def __init__(self, ambient_cc: int = 2301, object_cc: int = 3651, address: int = 0x5A) -> None:
        self.address = address
        self.words = {0x06: centi_to_word(ambient_cc), 0x07: centi_to_word(object_cc)}
        self.faults: list[str] = []
        self.reads = 0

    def readfrom_mem(self, addr: int, memaddr: int, nbytes: int) -> bytes:
        self.reads += 1
        fault = self.faults.pop(0) if self.faults else ""
        if addr != self.address or fault == "nack":
            raise OSError(5, "EIO")
        word = self.words.get(memaddr, 0)
        lsb, msb = word & 0xFF, word >> 8
        pec = crc8_pec(bytes((addr << 1, memaddr, (addr << 1) | 1, lsb, msb)))
        if fault == "pec":
            pec ^= 0x01
        data = bytes((lsb, msb, pec))
        return data[:2] if fault == "short" else data[:nbytes]

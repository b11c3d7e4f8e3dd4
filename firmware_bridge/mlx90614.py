"""MLX90614 driver: SMBus "read word" of the Ta (0x06) and Tobj1 (0x07) RAM registers, PEC checked.

Runs under MicroPython (``machine.I2C``) and CPython (tests with a fake bus). A read returns the
temperature in centi-degrees Celsius plus status flags from :mod:`firmware_bridge.framing`; it never
raises: a NACK or bus fault sets ``FLAG_BUS_ERROR``, a bad PEC ``FLAG_PEC_ERROR``, the sensor's own
error bit (bit 15 of the word) ``FLAG_SENSOR_ERROR``; the value is then ``None``.

SMBus transaction (datasheet section 8.4.3): ``S SA_W Cmd Sr SA_R LSB MSB PEC P``; the PEC is a
CRC-8 (polynomial 0x07, init 0) over ``SA_W Cmd SA_R LSB MSB``. Temperature in kelvin is
``word * 0.02``, so centi-degrees Celsius are ``word * 2 - 27315``.
"""

from firmware_bridge.framing import FLAG_BUS_ERROR, FLAG_PEC_ERROR, FLAG_SENSOR_ERROR

TYPE_CHECKING = False
if TYPE_CHECKING:
    from firmware_bridge.bus import I2CBus

DEFAULT_ADDRESS = 0x5A
REG_TA = 0x06
REG_TOBJ1 = 0x07


def crc8_pec(data: bytes) -> int:
    """SMBus PEC: CRC-8, polynomial x^8 + x^2 + x + 1 (0x07), init 0, no reflection."""
    crc = 0
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = ((crc << 1) ^ 0x07) & 0xFF if crc & 0x80 else (crc << 1) & 0xFF
    return crc


def word_to_centi_c(word: int) -> int:
    """A 15-bit temperature word (0.02 K units) in centi-degrees Celsius."""
    return (word & 0x7FFF) * 2 - 27315


class MLX90614:
    """One MLX90614 on an I2C bus."""

    def __init__(self, i2c: "I2CBus", address: int = DEFAULT_ADDRESS, retries: int = 2) -> None:
        self.i2c = i2c
        self.address = address
        self.retries = retries
        self.pec_errors = 0
        self.bus_errors = 0

    def read_register(self, reg: int) -> tuple[int | None, int]:
        """Read one temperature register: (centi-degrees C or None, flags)."""
        flags = 0
        for _ in range(self.retries + 1):
            try:
                raw = bytes(self.i2c.readfrom_mem(self.address, reg, 3))
            except OSError:
                self.bus_errors += 1
                flags = FLAG_BUS_ERROR
                continue
            if len(raw) != 3:
                self.bus_errors += 1
                flags = FLAG_BUS_ERROR
                continue
            addr_w = (self.address << 1) & 0xFF
            pec = crc8_pec(bytes((addr_w, reg, addr_w | 1, raw[0], raw[1])))
            if pec != raw[2]:
                self.pec_errors += 1
                flags = FLAG_PEC_ERROR
                continue
            word = raw[0] | (raw[1] << 8)
            if word & 0x8000:
                return None, FLAG_SENSOR_ERROR
            return word_to_centi_c(word), 0
        return None, flags

    def read_ambient(self) -> tuple[int | None, int]:
        """Die (ambient) temperature Ta."""
        return self.read_register(REG_TA)

    def read_object(self) -> tuple[int | None, int]:
        """Object temperature Tobj1."""
        return self.read_register(REG_TOBJ1)

"""MLX90614 driver against a fake SMBus device: transfer function, PEC, faults and retries."""

from __future__ import annotations

from firmware_bridge.framing import FLAG_BUS_ERROR, FLAG_PEC_ERROR, FLAG_SENSOR_ERROR
from firmware_bridge.mlx90614 import MLX90614, crc8_pec, word_to_centi_c
from tests.fake_mlx90614 import FakeMLX90614Bus


def test_pec_check_value() -> None:
    assert crc8_pec(b"123456789") == 0xF4  # CRC-8/SMBUS check value


def test_datasheet_pec_example() -> None:
    # MLX90614 datasheet read word example: SA=0x5A, cmd 0x07, data 0x3AD2 -> PEC 0x30.
    assert crc8_pec(bytes((0xB4, 0x07, 0xB5, 0xD2, 0x3A))) == 0x30


def test_transfer_function() -> None:
    assert word_to_centi_c(0x3AD2) == 0x3AD2 * 2 - 27315
    assert word_to_centi_c(13658) == 1  # 273.16 K


def test_reads_object_and_ambient() -> None:
    bus = FakeMLX90614Bus(ambient_cc=2315, object_cc=3653)
    sensor = MLX90614(bus)
    assert sensor.read_object() == (3653, 0)
    assert sensor.read_ambient() == (2315, 0)


def test_pec_error_is_retried_then_reported() -> None:
    bus = FakeMLX90614Bus()
    sensor = MLX90614(bus, retries=2)
    bus.faults = ["pec"]
    assert sensor.read_object()[1] == 0  # one bad PEC, the retry succeeds
    bus.faults = ["pec", "pec", "pec"]
    assert sensor.read_object() == (None, FLAG_PEC_ERROR)
    assert sensor.pec_errors == 4


def test_nack_and_short_reads() -> None:
    bus = FakeMLX90614Bus()
    sensor = MLX90614(bus, retries=1)
    bus.faults = ["nack", "short"]
    assert sensor.read_ambient() == (None, FLAG_BUS_ERROR)
    assert sensor.bus_errors == 2
    assert MLX90614(bus, address=0x33, retries=0).read_object() == (None, FLAG_BUS_ERROR)


def test_sensor_error_bit() -> None:
    bus = FakeMLX90614Bus()
    bus.words[0x07] = 0x8000 | 0x1234
    assert MLX90614(bus).read_object() == (None, FLAG_SENSOR_ERROR)

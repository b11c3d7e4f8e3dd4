"""What a temperature must be to be believed: the one rule for every decoder and for screening.

Two levels, declared here once:

1. **The sensor.** An MLX90614 measures objects from -70 to 380 °C and its own die (ambient) from
   -40 to 125 °C (datasheet). A value outside is not a reading; neither is the raw code
   :data:`NO_READING` (0x7FFF, 327.67 °C in centi-degrees), which modules and bridges send when the
   sensor gave nothing. Every protocol decoder asks :func:`raw_problem` about each value of a
   checksum-valid frame and drops the frame (a ``range`` :class:`~.records.WireFault`, counted by
   the serial source in the thermometer's rejected inputs, logged at most once a minute) when it
   answers.
2. **The body.** A screening estimate (raw plateau + site offset + ambient correction) outside
   :data:`BODY_RANGE_C`, 25-45 °C, is not a person's temperature at all: a hot drink, a lamp, a
   laptop, a run of glitches. Screening publishes no result for it (not even ``invalid``) and
   counts it. Inside the window but outside ``screening.min_valid_c``..``max_valid_c`` (34-43 °C by
   default) stays an ``invalid`` result: a person measured badly (hair, distance, a cold forehead),
   asked to re-measure.
"""

from __future__ import annotations

from typing import Final, Literal

Quantity = Literal["object", "ambient"]

NO_READING: Final = 0x7FFF
"""The raw 16-bit value (centi-degrees) that means 'no reading', never 327.67 °C."""
OBJECT_RANGE_C: Final = (-70.0, 380.0)
AMBIENT_RANGE_C: Final = (-40.0, 125.0)
"""The MLX90614's measurement ranges (datasheet); values outside are not readings."""
BODY_RANGE_C: Final = (25.0, 45.0)
"""Screening estimates outside this are not a body temperature: never a screening result."""

_SENSOR_RANGE_C: Final[dict[Quantity, tuple[float, float]]] = {
    "object": OBJECT_RANGE_C,
    "ambient": AMBIENT_RANGE_C,
}


def signed_centi(raw: int) -> float:
    """A 16-bit two's complement field in centi-degrees, as °C."""
    raw &= 0xFFFF
    if raw & 0x8000:
        raw -= 0x10000
    return raw / 100.0


def value_problem(quantity: Quantity, value_c: float) -> str | None:
    """Why ``value_c`` cannot be a sensor reading of ``quantity`` (outside its range), or None."""
    low, high = _SENSOR_RANGE_C[quantity]
    if low <= value_c <= high:
        return None
    return f"{quantity} {value_c:.2f} °C (outside the sensor's range {low:g}..{high:g} °C)"


def raw_problem(quantity: Quantity, raw: int) -> str | None:
    """Why a raw 16-bit centi-degree field is not a reading ('no reading' code, range), or None."""
    if raw & 0xFFFF == NO_READING:
        return f"{quantity} = 0x7FFF (no reading)"
    return value_problem(quantity, signed_centi(raw))


def body_problem(estimate_c: float) -> str | None:
    """Why a screening estimate cannot be a body temperature (outside :data:`BODY_RANGE_C`)."""
    low, high = BODY_RANGE_C
    if low <= estimate_c <= high:
        return None
    return f"estimate {estimate_c:.1f} °C is not a body temperature ({low:g}-{high:g} °C)"

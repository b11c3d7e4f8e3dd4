# Pico (RP2040) entry point of the thermometer bridge firmware, MicroPython only.
#
# Reads one MLX90614 on I2C0 (GP4 = SDA, GP5 = SCL, 100 kHz) every 100 ms and writes bridge protocol
# frames (../PROTOCOL.md) to the USB CDC serial port. The onboard LED blinks once per frame and stays
# on while the sensor does not answer. Install: see ../README.md (mpremote).
import sys
import time

from machine import I2C, WDT, Pin

from firmware_bridge.bridge import Bridge
from firmware_bridge.mlx90614 import MLX90614

PERIOD_MS = 100
SENSOR_ID = 0

i2c = I2C(0, sda=Pin(4), scl=Pin(5), freq=100_000)
led = Pin("LED", Pin.OUT)
out = sys.stdout.buffer
sensor = MLX90614(i2c)
bridge = Bridge(sensor, out.write, sensor_id=SENSOR_ID, period_ms=PERIOD_MS)
wdt = WDT(timeout=2000)

next_ms = time.ticks_ms()
while True:
    errors_before = sensor.bus_errors
    bridge.step(time.ticks_ms())
    led.value(1 if sensor.bus_errors != errors_before else (bridge.seq & 1))
    wdt.feed()
    next_ms = time.ticks_add(next_ms, PERIOD_MS)
    delay = time.ticks_diff(next_ms, time.ticks_ms())
    if delay > 0:
        time.sleep_ms(delay)
    else:
        next_ms = time.ticks_ms()

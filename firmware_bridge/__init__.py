"""Reference firmware for the thermometer bridge (Raspberry Pi Pico, MicroPython) and its emulator.

The modules here hold the firmware's logic as plain Python that runs unchanged under MicroPython on
the device and under CPython on the host (tests, emulator): :mod:`firmware_bridge.framing` encodes
the bridge wire protocol (``PROTOCOL.md``), :mod:`firmware_bridge.mlx90614` reads the sensor over
SMBus, :mod:`firmware_bridge.bridge` is the sampling loop, ``pico/main.py`` wires them to the real
hardware. :mod:`firmware_bridge.trace` and :mod:`firmware_bridge.emulator` stand in for a person in
front of a real sensor; the emulator plays whichever protocol's encoder the agent's protocol registry
hands it. Nothing here imports the agent (an import-linter contract).
"""

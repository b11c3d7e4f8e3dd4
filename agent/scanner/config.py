"""Config section of the registration scanner (``[scanner]``): absent by default."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from agent.flow.settings import Seconds, Section


class ScannerConfig(Section):
    """An optional code scanner at the desk whose scans are counted, never read or stored."""

    enabled: bool = Field(default=False, description="Count registration scans at all.")
    kind: Literal["serial", "hid"] = Field(
        default="serial",
        description=(
            "'serial': a scanner on a serial port (or a pyserial URL) ending each scan with CR or "
            "LF; 'hid': a USB keyboard-type scanner read through evdev (one scan per Enter key-up; "
            "the device is grabbed, so its keys never reach a console)."
        ),
    )
    port: str = Field(
        default="/dev/triage-scanner",
        min_length=1,
        description="The serial port or pyserial URL (kind 'serial'), or the /dev/input/event* "
        "device (kind 'hid').",
    )
    baudrate: int = Field(default=9600, gt=0, le=4_000_000, description="Serial speed (serial).")
    reconnect_s: Seconds = Field(
        default=5.0, description="Delay before reopening a missing scanner."
    )

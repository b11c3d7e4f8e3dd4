"""The registration scanner at the desk: scans **counted, never read or stored**.

A scanner ends each scan with a terminator: CR or LF on a serial line, the Enter key on a USB
keyboard-type (HID) scanner. The drivers here count terminators and discard every other byte or key
inside the read that brought it: no content is kept beyond the read buffer, logged, put in an
observation or an event. Each read with scans in it hands one
:class:`~agent.flow.coverage.Scanned` (a time and a count) to the engine; the screening coverage
analyser (:mod:`agent.flow.coverage`) reports the count in its ``coverage`` events and the summary
adds it up (``scans``). Absent by default (``[scanner] enabled = false``).
"""

from __future__ import annotations

from agent.flow.ports import Source
from agent.scanner.config import ScannerConfig
from agent.scanner.source import HidScanner, SerialScanner


def build(cfg: ScannerConfig) -> list[Source]:
    """The scanner source the config enables (none by default)."""
    if not cfg.enabled:
        return []
    if cfg.kind == "hid":
        return [HidScanner(cfg.port, cfg.reconnect_s)]
    return [SerialScanner(cfg.port, cfg.baudrate, cfg.reconnect_s)]

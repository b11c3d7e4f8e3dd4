"""SIGTERM and SIGINT: stop the main loop cleanly (systemd's stop, Ctrl-C)."""

from __future__ import annotations

import logging
import signal
import threading
from types import FrameType

log = logging.getLogger("agent.service.pipeline")  # the main loop's lines keep one logger name


def stop_on_signals() -> threading.Event:
    """An event set by the first SIGTERM or SIGINT (handlers installed now, main thread only)."""
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        log.info("signal %s: stopping", signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    return stop

"""Helpers for thermometer tests: wait for a condition, collect emitted observations."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


def wait_for(cond: Callable[[], bool], timeout: float = 15.0, what: str = "condition") -> None:
    """Poll ``cond`` until true; fail the test with ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return
        time.sleep(0.02)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


class Collector:
    """A thread-safe ``emit`` target."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.items: list[object] = []

    def __call__(self, obs: object) -> None:
        with self._lock:
            self.items.append(obs)

    def snapshot(self) -> list[object]:
        with self._lock:
            return list(self.items)

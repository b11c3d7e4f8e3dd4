"""Logging that cannot flood: one line per key at most once a minute, with what was held back.

A box sending garbage 100 times a second must not fill the district's journal: the collector logs
each refusal reason at most once per interval and says how many more there were.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable


class RateLimitedLog:
    """``warning(key, ...)`` logs when ``key`` was not logged in the last ``interval_s``."""

    def __init__(
        self,
        logger: logging.Logger,
        interval_s: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._log = logger
        self._interval = interval_s
        self._clock = clock
        self._last: dict[str, float] = {}
        self._held: dict[str, int] = {}

    def warning(self, key: str, msg: str, *args: object) -> bool:
        """Log ``msg % args`` unless ``key`` was logged within the interval; True if logged."""
        now = self._clock()
        last = self._last.get(key)
        if last is not None and now - last < self._interval:
            self._held[key] = self._held.get(key, 0) + 1
            return False
        held = self._held.pop(key, 0)
        suffix = f" (and {held} more like it in the last {self._interval:.0f} s)" if held else ""
        self._last[key] = now
        self._log.warning(msg + suffix, *args)
        return True

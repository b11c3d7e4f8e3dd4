"""How the technician CLI writes to a terminal: colour only on a TTY, human durations and times.

``NO_COLOR`` (any value) turns colour off; ``TERM=dumb`` too. Nothing here decides *what* to say.
"""

from __future__ import annotations

import os
import time
from typing import TextIO

_CODES = {"green": "32", "yellow": "33", "red": "31", "bold": "1", "dim": "2"}


def use_colour(stream: TextIO) -> bool:
    """True when ``stream`` is a terminal that wants colour."""
    if os.environ.get("NO_COLOR") is not None or os.environ.get("TERM") == "dumb":
        return False
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


def paint(text: str, colour: str, enabled: bool) -> str:
    """``text`` wrapped in an ANSI colour when ``enabled``."""
    if not enabled or colour not in _CODES:
        return text
    return f"\033[{_CODES[colour]}m{text}\033[0m"


def duration(seconds: float | None) -> str:
    """``3 s``, ``4 min 05 s``, ``2 h 03 min``, ``3 d 04 h``; ``-`` for None."""
    if seconds is None:
        return "-"
    s = max(0, round(seconds))
    if s < 60:
        return f"{s} s"
    m, s = divmod(s, 60)
    if m < 60:
        return f"{m} min {s:02d} s"
    h, m = divmod(m, 60)
    if h < 48:
        return f"{h} h {m:02d} min"
    d, h = divmod(h, 24)
    return f"{d} d {h:02d} h"


def local_time(ts: float | None) -> str:
    """POSIX seconds as local ``YYYY-MM-DD HH:MM:SS``; ``-`` for None."""
    if ts is None:
        return "-"
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(ts))

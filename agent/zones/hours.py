"""Opening hours: is the clinic open at a given instant, in the device's local time zone."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from agent.zones.config import ClinicConfig, parse_range


class OpeningHours:
    """The ``[clinic]`` weekly hours in one IANA time zone (``device.timezone``)."""

    def __init__(self, clinic: ClinicConfig, timezone: str = "UTC") -> None:
        self.tz = ZoneInfo(timezone)
        self._days = [[parse_range(r) for r in clinic.day(d)] for d in range(7)]

    @property
    def ever_open(self) -> bool:
        """False when no opening hours are configured at all."""
        return any(self._days)

    def is_open(self, at: float) -> bool:
        """Whether POSIX time ``at`` falls in an opening range of its local weekday."""
        local = datetime.fromtimestamp(at, self.tz)
        minute = local.hour * 60 + local.minute
        return any(start <= minute < end for start, end in self._days[local.weekday()])

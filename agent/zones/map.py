"""Where a point of the picture stands: the configured zones, or one implicit whole-frame zone.

:class:`ZoneMap` answers "which zone is this normalised point in" for the per-frame analysers.
With no zones configured the whole frame is one zone of role ``waiting`` with ``implicit`` set
(events then carry no zone names, exactly as before zones existed). Zones may overlap (except
staff/queue, refused by the config); a point in several zones is in the first one listed, except
that a ``staff`` zone always wins (the feet of a person behind the desk decide staff).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from agent.zones.config import ZoneConfig, ZoneRole
from agent.zones.geometry import Point, contains

WHOLE_FRAME = "frame"


@dataclass(frozen=True, slots=True)
class Zone:
    """A zone as the analysers use it."""

    name: str
    role: ZoneRole
    polygon: tuple[Point, ...]
    crowd_limit: int | None = None
    crowd_after_s: float | None = None
    implicit: bool = False
    """The whole-frame zone used when none is configured."""


class ZoneMap:
    """The zones of one camera."""

    def __init__(self, zones: Sequence[ZoneConfig] = ()) -> None:
        if zones:
            self.zones = tuple(
                Zone(z.name, z.role, tuple(z.polygon), z.crowd_limit, z.crowd_after_s)
                for z in zones
            )
        else:
            whole = ((0.0, 0.0), (1.0, 0.0), (1.0, 1.0), (0.0, 1.0))
            self.zones = (Zone(WHOLE_FRAME, "waiting", whole, implicit=True),)
        self._order = sorted(self.zones, key=lambda z: z.role != "staff")

    @property
    def implicit(self) -> bool:
        """True when no zones are configured (one whole-frame waiting zone)."""
        return self.zones[0].implicit

    @property
    def has_staff(self) -> bool:
        """True when at least one staff zone is configured."""
        return any(z.role == "staff" for z in self.zones)

    def locate(self, point: Point) -> Zone | None:
        """The zone holding ``point`` (normalised x, y), or None when it is in no zone."""
        if self.implicit:
            return self.zones[0]
        for zone in self._order:
            if contains(zone.polygon, point):
                return zone
        return None

    def of_role(self, *roles: ZoneRole) -> tuple[Zone, ...]:
        """The zones with one of ``roles``, in config order."""
        return tuple(z for z in self.zones if z.role in roles)

"""Config of zones and opening hours: the ``[[zones]]`` entries and the ``[clinic]`` section.

``[[zones]]``: named polygons in normalised image coordinates (0..1, x to the right, y down) with a
role. Every problem is a config error naming the zone: fewer than 3 points, a coordinate outside
0..1, a self-intersecting or flat polygon, two zones of one name, a ``staff`` zone overlapping a
``queue`` zone, more than :data:`MAX_ZONES` zones (the bound that keeps every event within 512
bytes, together with the 16-character names).

``[clinic]``: opening hours per weekday in the device's time zone (``device.timezone``) and the
delays of the ``desk_unattended`` alert. A day's ranges must not repeat or overlap (a config error
naming the day and both ranges).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from itertools import pairwise
from typing import Annotated, Literal

from pydantic import AfterValidator, Field, model_validator

from agent.flow.settings import Seconds, Section
from agent.zones.geometry import area, interiors_overlap, self_intersection

MAX_ZONES = 8
"""At most this many zones (each named in occupancy events: the 512-byte bound)."""
MAX_NAME = 16
MAX_POINTS = 16
ZoneRole = Literal["staff", "queue", "waiting", "entrance"]
ZONE_NAME = r"^[a-z0-9][a-z0-9_-]{0,15}$"
MIN_AREA = 1e-4
"""Smallest polygon area accepted (1 % x 1 % of the picture)."""


class ZoneConfig(Section):
    """One zone of the camera picture."""

    name: str = Field(
        description=(
            "Zone name, shown in events and alerts: up to 16 lower-case letters, digits, '-', '_'."
        ),
    )
    role: ZoneRole = Field(
        description=(
            "'staff' (behind the triage desk: people there are staff), 'queue' (patients waiting "
            "to be screened), 'waiting' (waiting area) or 'entrance' (the way in)."
        ),
    )
    polygon: list[tuple[float, float]] = Field(
        description=(
            "Corners [x, y] in normalised picture coordinates (0..1, x right, y down), 3 to 16 "
            "points, edges must not cross."
        ),
    )
    crowd_limit: int | None = Field(
        default=None,
        ge=1,
        description=(
            "Crowding above this many people in this queue/waiting zone; vision.crowd_limit "
            "when unset. Ignored for staff and entrance zones."
        ),
    )
    crowd_after_s: Seconds | None = Field(
        default=None,
        description=(
            "Raise this zone's 'crowding' alert after crowding lasts this long; "
            "vision.crowd_after_s when unset."
        ),
    )

    @model_validator(mode="after")
    def _valid_polygon(self) -> ZoneConfig:
        label = f"zone {self.name!r}"
        if not re.match(ZONE_NAME, self.name):
            raise ValueError(
                f"{label}: the name must be 1 to {MAX_NAME} lower-case letters, digits, '-' or '_'"
            )
        n = len(self.polygon)
        if n < 3:
            raise ValueError(f"{label}: polygon has {n} point(s), needs at least 3")
        if n > MAX_POINTS:
            raise ValueError(f"{label}: polygon has {n} points, at most {MAX_POINTS} allowed")
        for i, (x, y) in enumerate(self.polygon):
            if not (0.0 <= x <= 1.0 and 0.0 <= y <= 1.0):
                raise ValueError(
                    f"{label}: polygon point {i} [{x}, {y}] is outside the picture; coordinates are "
                    "fractions of the width and height, 0..1"
                )
        crossing = self_intersection(self.polygon)
        if crossing is not None:
            i, j = crossing
            raise ValueError(
                f"{label}: polygon is self-intersecting (edges {i} and {j} cross or touch); "
                "list the corners in order around the zone"
            )
        if abs(area(self.polygon)) < MIN_AREA:
            raise ValueError(f"{label}: polygon has (almost) no area")
        return self


def check_zones(zones: Sequence[ZoneConfig]) -> list[ZoneConfig]:
    """Rules across zones: unique names, no staff zone overlapping a queue zone, at most 8."""
    if len(zones) > MAX_ZONES:
        raise ValueError(f"{len(zones)} zones configured, at most {MAX_ZONES} allowed")
    seen: set[str] = set()
    for z in zones:
        if z.name in seen:
            raise ValueError(f"zone {z.name!r} is declared twice; zone names must be unique")
        seen.add(z.name)
    for staff in (z for z in zones if z.role == "staff"):
        for queue in (z for z in zones if z.role == "queue"):
            if interiors_overlap(staff.polygon, queue.polygon):
                raise ValueError(
                    f"zone {staff.name!r} (staff) overlaps zone {queue.name!r} (queue); a person "
                    "cannot be both staff and a waiting patient: make them share at most an edge"
                )
    return list(zones)


Zones = Annotated[list[ZoneConfig], AfterValidator(check_zones)]
"""The ``[[zones]]`` list, validated as a whole."""

_RANGE = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)-([01]\d|2[0-4]):([0-5]\d)$")


def parse_range(text: str) -> tuple[int, int]:
    """``"08:00-17:30"`` -> minutes since midnight ``(480, 1050)``; ValueError when malformed."""
    m = _RANGE.match(text)
    if m is None:
        raise ValueError(f"{text!r} is not a time range like '08:00-17:00'")
    start = int(m[1]) * 60 + int(m[2])
    end = int(m[3]) * 60 + int(m[4])
    if end > 24 * 60:
        raise ValueError(f"{text!r} ends after 24:00")
    if end <= start:
        raise ValueError(
            f"{text!r} ends before it starts; split a range past midnight into two days"
        )
    return start, end


def _hhmm(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def _ranges(value: list[str]) -> list[str]:
    """Each range well-formed; no range listed twice, no two overlapping (sharing an end is fine:
    '08:00-12:00' then '12:00-17:00')."""
    spans = sorted((parse_range(text), text) for text in value)
    for ((start, end), text), ((nxt_start, nxt_end), nxt) in pairwise(spans):
        if (start, end) == (nxt_start, nxt_end):
            raise ValueError(f"{text!r} is listed twice; list each opening period once")
        if nxt_start < end:
            merged = f"{_hhmm(start)}-{_hhmm(max(end, nxt_end))}"
            raise ValueError(
                f"{text!r} and {nxt!r} overlap; give one range such as '{merged}' instead"
            )
    return value


DayHours = Annotated[list[str], AfterValidator(_ranges)]
_DAY = (
    "Opening hours on {day} in device.timezone, as 'HH:MM-HH:MM' ranges (e.g. "
    "['08:00-12:00', '13:00-17:00']), none repeated or overlapping; empty = closed all day."
)


class ClinicConfig(Section):
    """Opening hours of the clinic and when an empty triage desk is an alert.

    The desk is watched only while open and only when a ``staff`` zone is configured."""

    mon: DayHours = Field(default_factory=list, description=_DAY.format(day="Monday"))
    tue: DayHours = Field(default_factory=list, description=_DAY.format(day="Tuesday"))
    wed: DayHours = Field(default_factory=list, description=_DAY.format(day="Wednesday"))
    thu: DayHours = Field(default_factory=list, description=_DAY.format(day="Thursday"))
    fri: DayHours = Field(default_factory=list, description=_DAY.format(day="Friday"))
    sat: DayHours = Field(default_factory=list, description=_DAY.format(day="Saturday"))
    sun: DayHours = Field(default_factory=list, description=_DAY.format(day="Sunday"))
    desk_unattended_after_s: Seconds = Field(
        default=300.0,
        description=(
            "While open, raise 'desk_unattended' when nobody stood in a staff zone this long."
        ),
    )
    desk_unattended_patients_after_s: Seconds = Field(
        default=60.0,
        description=("The same, sooner, when patients are waiting in a queue zone meanwhile."),
    )

    def day(self, weekday: int) -> list[str]:
        """The ranges of ``weekday`` (0 = Monday)."""
        return [self.mon, self.tue, self.wed, self.thu, self.fri, self.sat, self.sun][weekday]

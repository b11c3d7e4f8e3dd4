"""The desk's current state for Home Assistant: one small retained JSON document.

Home Assistant's entities (:mod:`agent.wire.discovery`) read their values from this document,
published retained on ``<discovery_prefix>/triage/<device_id>/state`` whenever a value changes, so
a Home Assistant that restarts gets every value back from the broker at once instead of showing
``unknown`` until the next event (the box's events are not retained). It is kept from the events
the box stores (:meth:`DeskState.hear`, on the main loop) and holds only what the events already
say: the last valid body temperature, the last mask compliance window (compliance, and how many
faces wore a mask wrong), the people in view now (per zone), whether staff stands at the desk, and the open alerts by type. Values the box does not know
yet (after a start) are left out, and Home Assistant keeps what it had.

Document::

    {"open": {"crowding": 1}, "setup": ["camera_dark"], "open_alerts": 2,
     "temperature": 36.71, "mask_compliance": 92, "masks_worn_wrong": 1, "people": 3,
     "zones": {"desk": 1, "queue": 2}, "desk_attended": true}

``open``: open alerts by type (every type, ``fever`` included); ``setup``: the open ``setup``
alerts that mean the triage point is not working (all but ``desk_unattended``: camera covered,
dark, blurred, moved or lost, thermometer lost, screening skipped), sorted; ``open_alerts``: how
many alerts are open. Outside the event contract (docs/EVENTS.md): never sent to the outbox, never
read by the district side.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any

from agent.flow import alert_kinds
from agent.flow.events import AlertEvent, Event, MaskEvent, OccupancyEvent, TemperatureEvent

DESK_GROUP = "desk"
"""The ``minutes`` group of the alert that has its own sensor (``desk_unattended``)."""


def triage_point(alert: str) -> bool:
    """Whether an open ``alert`` means the triage point is not working (a ``setup`` alert other
    than the unattended desk)."""
    if not alert_kinds.is_alert(alert):
        return False
    kind = alert_kinds.ALERTS[alert]
    return kind.family == "setup" and kind.minutes != DESK_GROUP


class DeskState:
    """What Home Assistant shows, kept from the events. Main loop thread only."""

    def __init__(
        self, staff_zones: Sequence[str] = (), open_alerts: Iterable[tuple[str, str]] = ()
    ) -> None:
        """``open_alerts``: (alert_id, alert) of the alerts open at the start (the alert book's,
        carried over a restart without a new raise)."""
        self.staff_zones = tuple(staff_zones)
        self._open: dict[str, str] = dict(open_alerts)
        self._values: dict[str, Any] = {}

    def hear(self, event: Event) -> bool:
        """Take one stored event into account; True when the document changed."""
        before = self.document()
        if isinstance(event, AlertEvent):
            if event.state == "raised":
                self._open[event.alert_id] = event.alert
            else:
                self._open.pop(event.alert_id, None)
        elif isinstance(event, TemperatureEvent) and event.result != "invalid":
            self._values["temperature"] = round(event.estimate_c, 2)
        elif isinstance(event, MaskEvent) and event.window_s is not None and event.faces > 0:
            self._values["mask_compliance"] = round(100 * event.masked / event.faces)
            if event.worn_wrong is not None:
                self._values["masks_worn_wrong"] = event.worn_wrong
        elif isinstance(event, OccupancyEvent) and event.window_s is None:
            self._values["people"] = event.count
            if event.zones is not None:
                self._values["zones"] = dict(event.zones)
                if self.staff_zones:
                    staff = sum(event.zones.get(z, 0) for z in self.staff_zones)
                    self._values["desk_attended"] = staff > 0
        return self.document() != before

    def document(self) -> dict[str, Any]:
        """The state document (JSON-ready)."""
        open_by_type = Counter(self._open.values())
        return {
            "open": dict(sorted(open_by_type.items())),
            "setup": sorted(a for a in open_by_type if triage_point(a)),
            "open_alerts": len(self._open),
            **self._values,
        }

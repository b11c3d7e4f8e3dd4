"""The attended desk: the ``desk_unattended`` alert, from who stands in the staff zones.

An :class:`~agent.flow.ports.Analyser` fed :class:`~agent.vision.findings.SceneFindings`, built only
when a ``staff`` zone and opening hours are configured. While the clinic is open
(:class:`~agent.zones.hours.OpeningHours`, local time of ``device.timezone``) the desk is attended
when at least one person's feet stood in a staff zone within the last ``visible_s`` seconds.

``desk_unattended`` is raised when the desk has been empty for ``clinic.desk_unattended_after_s``
while open, or already after ``clinic.desk_unattended_patients_after_s`` when patients are waiting
in a ``queue`` zone meanwhile; its value is the number of patients waiting in the queue zones.
It is cleared once staff stood in a staff zone for ``clear_after_s`` (hysteresis), or at once when
the clinic closes.

A camera that sees nothing (the integrity checks' latest verdict: ``covered`` or ``dark`` failed,
:data:`BLIND_CHECKS`) cannot tell an empty desk from an attended one: while it is blind the desk is
*unknown*. No ``desk_unattended`` is raised (the camera alert is the problem to report, not a desk
nobody can see), one already raised stays as it is until staff are seen, and the empty-desk delay
starts again once the view is back. The clock is the one the caller passes (frame capture times and ticks), so tests
drive it directly; nothing here reads the time itself.
"""

from __future__ import annotations

from collections.abc import Sequence

from agent.flow.alerts import AlertBook, AlertLatch
from agent.flow.debounce import Debouncer
from agent.flow.events import Event
from agent.vision.findings import IntegrityCheck, IntegrityFindings, SceneFindings
from agent.vision.people import people_in
from agent.zones.config import ClinicConfig
from agent.zones.hours import OpeningHours
from agent.zones.map import ZoneMap

BLIND_CHECKS: frozenset[IntegrityCheck] = frozenset({"covered", "dark"})
"""Integrity checks whose failure means the camera sees nothing at all."""


class DeskAnalyser:
    """Staff presence in staff zones during opening hours -> ``desk_unattended``."""

    def __init__(
        self,
        zones: ZoneMap,
        clinic: ClinicConfig,
        hours: OpeningHours,
        *,
        name: str = "desk",
        visible_s: float = 3.0,
        hold_s: float = 2.0,
        clear_after_s: float = 3.0,
        book: AlertBook | None = None,
    ) -> None:
        self.name = name
        self.zones = zones
        self.clinic = clinic
        self.hours = hours
        self.visible_s = visible_s
        """Staff count as present while seen in a staff zone within this many seconds."""
        self._last_staff: float | None = None
        self._empty_since: float | None = None
        self._queue: Debouncer[int] = Debouncer(0, hold_s)
        self._alert = AlertLatch("desk_unattended", 0.0, clear_after_s, book=book)
        self.blind = False
        """The latest integrity verdict says the camera sees nothing (the desk is unknown)."""

    @property
    def waiting(self) -> int:
        """Patients waiting in the queue zones (debounced)."""
        return self._queue.value

    def feed(self, observation: object) -> Sequence[Event]:
        """Consume one frame's findings or integrity verdicts; ignore other observations."""
        if isinstance(observation, IntegrityFindings):
            self.blind = any(
                v.check in BLIND_CHECKS and v.outcome == "failed" for v in observation.verdicts
            )
            return self._evaluate(observation.at)
        if not isinstance(observation, SceneFindings):
            return []
        at = observation.at
        queue = 0
        for person in people_in(observation):
            zone = self.zones.locate(person.feet)
            if zone is None:
                continue
            if zone.role == "staff":
                self._last_staff = at
            elif zone.role == "queue":
                queue += 1
        self._queue.update(queue, at)
        return self._evaluate(at)

    def tick(self, now: float) -> Sequence[Event]:
        """Advance the clock: opening and closing, the empty-desk delays."""
        return self._evaluate(now)

    def _evaluate(self, at: float) -> list[Event]:
        if not self.hours.is_open(at):
            self._empty_since = None
            change = self._alert.clear_now(at)
            if change is None:
                return []
            return [change.event("the clinic is closed: the desk need not be attended")]
        if self.blind:  # nobody can be seen, staff or not: unknown, not unattended
            self._empty_since = None
            return []
        staffed = self._last_staff is not None and at - self._last_staff <= self.visible_s
        if staffed:
            self._empty_since = None
        elif self._empty_since is None:
            self._empty_since = at
        empty_for = 0.0 if self._empty_since is None else at - self._empty_since
        waiting = self._queue.value
        if self._alert.raised:
            condition = not staffed
        else:
            condition = empty_for >= self.clinic.desk_unattended_after_s or (
                waiting > 0 and empty_for >= self.clinic.desk_unattended_patients_after_s
            )
        change = self._alert.update(condition, at)
        if change is None:
            return []
        if change.raised:
            text = f"nobody at the triage desk for {empty_for:.0f} s while open"
            if waiting:
                text += f"; {waiting} patient(s) waiting"
            return [change.event(text, value=float(waiting))]
        return [change.event("staff back at the triage desk", value=float(waiting))]

"""Mask compliance: the ``mask`` events, the patient ``unmasked`` alert and ``staff_unmasked``.

An :class:`~agent.flow.ports.Analyser` fed :class:`~agent.vision.findings.SceneFindings`. Each face
belongs to a person (:mod:`agent.vision.people`); a person whose feet stand in a ``staff`` zone
(:class:`~agent.zones.map.ZoneMap`) is staff, anyone else a patient or visitor. Faces are tracked
(:mod:`agent.vision.analysers.tracker`) and each track's mask state is smoothed with hysteresis; a track's
role is the one of its latest frame.

Three verdicts (:data:`~agent.vision.findings.MaskVerdict`): masked, a mask worn wrong (nose or
mouth uncovered) and no mask. Only masked is compliant: on the wire ``unmasked`` counts every face
that is not compliant, and ``worn_wrong`` says how many of those wear a mask wrong.

Patients: the scene state is ``unmasked`` when any patient face seen within ``visible_s`` is not
masked, ``masked`` when patient faces are present and all are masked, else ``no_face``; a change
is published (``MaskEvent`` with ``window_s`` None) only after the new state held for ``hold_s``
seconds. The ``unmasked`` alert is raised when one patient face stayed not masked for
``vision.unmasked_alert_after_s`` and cleared once none has for ``clear_after_s``; its ``cause``
is that face's: ``worn_wrong`` or ``no_mask``.

Staff: the ``staff_unmasked`` alert is raised when one staff face stayed not masked for
``vision.staff_unmasked_after_s`` and cleared the same way (hysteresis ``clear_after_s``); it
names the staff zone that person stood in (``zone``) and its cause.

Every ``vision.compliance_window_s`` a periodic ``MaskEvent`` reports the distinct patient faces
seen in the window and how many were masked or not (the worst verdict a face had in the window
counts: no mask over a mask worn wrong over masked), and, when a staff zone is configured, the
same for staff (``staff_faces``, ``staff_masked``, ``staff_unmasked``, ``staff_worn_wrong``). With
no zones everybody is a patient, exactly as before zones existed. Never an event per frame.
"""

from __future__ import annotations

from collections.abc import Sequence

from agent.flow.alerts import AlertBook, AlertLatch
from agent.flow.debounce import Debouncer
from agent.flow.events import Event, MaskCause, MaskEvent, MaskState
from agent.flow.window import PeriodicWindow
from agent.vision.analysers.tracker import Settled, Track, Tracker
from agent.vision.config import VisionConfig
from agent.vision.findings import SceneFindings
from agent.vision.people import people_in
from agent.zones.map import ZoneMap

NOT_COMPLIANT: frozenset[Settled] = frozenset({"worn_wrong", "unmasked"})
"""Verdicts that are not compliant: only ``masked`` is."""
WHAT: dict[MaskCause, str] = {
    "no_mask": "without a mask",
    "worn_wrong": "with a mask worn wrong (nose or mouth uncovered)",
}
"""The alert message's words for each cause."""
_WORSE: dict[Settled | None, int] = {None: 0, "masked": 1, "worn_wrong": 2, "unmasked": 3}


def worst(a: Settled | None, b: Settled | None) -> Settled | None:
    """The worse of two verdicts (no mask over a mask worn wrong over masked; None: not yet
    settled)."""
    return a if _WORSE[a] >= _WORSE[b] else b


def cause(track: Track | None) -> MaskCause:
    """Why ``track`` is not compliant: a mask worn wrong, or no mask (also when unknown)."""
    return "worn_wrong" if track is not None and track.mask.state == "worn_wrong" else "no_mask"


def _not_masked(states: Sequence[Settled | None]) -> int:
    """How many of ``states`` are not compliant."""
    return sum(s in NOT_COMPLIANT for s in states)


class ComplianceAnalyser:
    """Face tracks with roles -> patient mask state, periodic figures, unmasked alerts."""

    def __init__(
        self,
        vision: VisionConfig,
        zones: ZoneMap | None = None,
        *,
        name: str = "compliance",
        hold_s: float = 2.0,
        clear_after_s: float = 3.0,
        visible_s: float = 1.0,
        tracker: Tracker | None = None,
        book: AlertBook | None = None,
    ) -> None:
        self.name = name
        self.visible_s = visible_s
        """A face counts as present while seen within this many seconds."""
        self.vision = vision
        self.zones = zones if zones is not None else ZoneMap()
        self.tracker = tracker if tracker is not None else Tracker()
        self._staff: dict[int, bool] = {}
        """Track id -> staff (feet in a staff zone in its latest frame)."""
        self._zone: dict[int, str] = {}
        """Track id -> the staff zone it stood in (staff tracks only)."""
        self._staff_zone: str | None = None
        """The zone named by the raised ``staff_unmasked`` alert (its clear names it too)."""
        self._state: Debouncer[MaskState] = Debouncer("no_face", hold_s)
        self._alert = AlertLatch("unmasked", 0.0, clear_after_s, book=book)
        self._staff_alert = AlertLatch("staff_unmasked", 0.0, clear_after_s, book=book)
        self._period = PeriodicWindow(vision.compliance_window_s)
        self._window: dict[int, tuple[bool, Settled | None]] = {}

    def feed(self, observation: object) -> Sequence[Event]:
        """Consume one frame's findings; ignore other observations."""
        if not isinstance(observation, SceneFindings):
            return []
        at = observation.at
        self._period.touch(at)
        with_face = [p for p in people_in(observation) if p.face is not None]
        faces = [p.face for p in with_face if p.face is not None]
        seen = self.tracker.update(
            [f.box for f in faces],
            at,
            [f.mask_prob for f in faces],
            [f.worn_wrong_prob for f in faces],
        )
        for track, person in zip(seen, with_face, strict=True):
            zone = self.zones.locate(person.feet)
            self._staff[track.id] = zone is not None and zone.role == "staff"
            if zone is not None and zone.role == "staff":
                self._zone[track.id] = zone.name
        for track in self.tracker.present():
            staff = self._staff.get(track.id, False)
            prev = self._window.get(track.id, (staff, None))[1]
            self._window[track.id] = (staff, worst(prev, track.mask.state))
        return self._evaluate(at)

    def tick(self, now: float) -> Sequence[Event]:
        """Expire faces no longer seen, publish due changes, alerts and the periodic figures."""
        self.tracker.expire(now)
        events = self._evaluate(now)
        if self._period.due(now):
            patients = [s for staff, s in self._window.values() if not staff]
            staff = [s for is_staff, s in self._window.values() if is_staff]
            has_staff = self.zones.has_staff
            events.append(
                MaskEvent(
                    at=now,
                    state=self._state.value,
                    faces=len(patients),
                    masked=patients.count("masked"),
                    unmasked=_not_masked(patients),
                    window_s=self.vision.compliance_window_s,
                    staff_faces=len(staff) if has_staff else None,
                    staff_masked=staff.count("masked") if has_staff else None,
                    staff_unmasked=_not_masked(staff) if has_staff else None,
                    worn_wrong=patients.count("worn_wrong"),
                    staff_worn_wrong=staff.count("worn_wrong") if has_staff else None,
                )
            )
            self._window = {}
            live = {t.id for t in self.tracker.present()}
            self._staff = {k: v for k, v in self._staff.items() if k in live}
            self._zone = {k: v for k, v in self._zone.items() if k in live}
        return events

    def _present(self, at: float, staff: bool) -> list[Track]:
        return [
            t
            for t in self.tracker.present(at, self.visible_s)
            if self._staff.get(t.id, False) == staff
        ]

    @staticmethod
    def _longest_unmasked(tracks: list[Track], at: float) -> tuple[float, Track | None]:
        """Seconds the longest not-masked track has been so, and that track."""
        unmasked = [t for t in tracks if t.mask.state in NOT_COMPLIANT and t.mask.since is not None]
        if not unmasked:
            return 0.0, None
        track = min(unmasked, key=lambda t: t.mask.since or 0.0)
        return at - (track.mask.since or at), track

    def _evaluate(self, at: float) -> list[Event]:
        events: list[Event] = []
        patients = self._present(at, staff=False)
        states = [t.mask.state for t in patients]
        masked, unmasked = states.count("masked"), _not_masked(states)
        state: MaskState = "unmasked" if unmasked else "masked" if masked else "no_face"
        if self._state.update(state, at):
            events.append(
                MaskEvent(
                    at=at,
                    state=state,
                    faces=len(patients),
                    masked=masked,
                    unmasked=unmasked,
                    worn_wrong=states.count("worn_wrong"),
                )
            )
        longest, track = self._longest_unmasked(patients, at)
        change = self._alert.update(longest >= self.vision.unmasked_alert_after_s, at)
        if change is not None and change.raised:
            why = cause(track)
            events.append(
                change.event(
                    f"a person {WHAT[why]} has been at the desk for {longest:.0f} s",
                    value=round(longest, 1),
                    cause=why,
                )
            )
        elif change is not None:
            events.append(change.event("no unmasked person at the desk any more"))
        staff_longest, who = self._longest_unmasked(self._present(at, staff=True), at)
        change = self._staff_alert.update(staff_longest >= self.vision.staff_unmasked_after_s, at)
        if change is not None and change.raised:
            self._staff_zone = self._zone.get(who.id) if who is not None else None
            where = f" in zone '{self._staff_zone}'" if self._staff_zone else ""
            why = cause(who)
            events.append(
                change.event(
                    f"a staff member has worked {WHAT[why]}{where} for {staff_longest:.0f} s",
                    value=round(staff_longest, 1),
                    zone=self._staff_zone,
                    cause=why,
                )
            )
        elif change is not None:
            events.append(
                change.event("no staff member without a mask any more", zone=self._staff_zone)
            )
            self._staff_zone = None
        return events

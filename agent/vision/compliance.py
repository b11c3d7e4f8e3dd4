"""Mask compliance: the ``mask`` events and the ``unmasked`` alert, from per-frame face findings.

An :class:`~agent.flow.ports.Analyser` fed :class:`~agent.vision.findings.SceneFindings`. Faces are
tracked (:mod:`agent.vision.tracker`) and each track's mask state is smoothed with hysteresis. The
scene state is ``unmasked`` when any face seen within ``visible_s`` is unmasked, ``masked`` when
faces are present and
all are masked, else ``no_face``; a change is published (``MaskEvent`` with ``window_s`` None) only
after the new state held for ``hold_s`` seconds. Every ``vision.compliance_window_s`` a periodic
``MaskEvent`` reports the distinct faces seen in the window and how many of them were masked or
unmasked (a face seen unmasked at any time in the window counts as unmasked). An ``unmasked`` alert
is raised when one face stayed unmasked for ``vision.unmasked_alert_after_s`` and cleared once no
face has been unmasked that long for ``clear_after_s``. Never an event per frame.
"""

from __future__ import annotations

from collections.abc import Sequence

from agent.flow.alerts import AlertLatch
from agent.flow.debounce import Debouncer
from agent.flow.events import Event, MaskEvent, MaskState
from agent.flow.window import PeriodicWindow
from agent.vision.config import VisionConfig
from agent.vision.findings import SceneFindings
from agent.vision.tracker import Settled, Tracker


class ComplianceAnalyser:
    """Face tracks -> debounced mask state, periodic compliance figures, unmasked alert."""

    def __init__(
        self,
        vision: VisionConfig,
        *,
        name: str = "compliance",
        hold_s: float = 2.0,
        clear_after_s: float = 3.0,
        visible_s: float = 1.0,
        tracker: Tracker | None = None,
    ) -> None:
        self.name = name
        self.visible_s = visible_s
        """A face counts as present while seen within this many seconds."""
        self.vision = vision
        self.tracker = tracker if tracker is not None else Tracker()
        self._state: Debouncer[MaskState] = Debouncer("no_face", hold_s)
        self._alert = AlertLatch("unmasked", 0.0, clear_after_s)
        self._period = PeriodicWindow(vision.compliance_window_s)
        self._window: dict[int, Settled | None] = {}

    def feed(self, observation: object) -> Sequence[Event]:
        """Consume one frame's findings; ignore other observations."""
        if not isinstance(observation, SceneFindings):
            return []
        at = observation.at
        self._period.touch(at)
        faces = observation.faces
        self.tracker.update([f.box for f in faces], at, [f.mask_prob for f in faces])
        for track in self.tracker.present():
            prev = self._window.get(track.id)
            if prev != "unmasked":
                self._window[track.id] = track.mask.state or prev
        return self._evaluate(at)

    def tick(self, now: float) -> Sequence[Event]:
        """Expire faces no longer seen, publish due changes, alerts and the periodic figures."""
        self.tracker.expire(now)
        events = self._evaluate(now)
        if self._period.due(now):
            settled = list(self._window.values())
            events.append(
                MaskEvent(
                    at=now,
                    state=self._state.value,
                    faces=len(self._window),
                    masked=settled.count("masked"),
                    unmasked=settled.count("unmasked"),
                    window_s=self.vision.compliance_window_s,
                )
            )
            self._window = {}
        return events

    def _counts(self, at: float) -> tuple[int, int, int]:
        present = self.tracker.present(at, self.visible_s)
        states = [t.mask.state for t in present]
        return len(present), states.count("masked"), states.count("unmasked")

    def _evaluate(self, at: float) -> list[Event]:
        events: list[Event] = []
        faces, masked, unmasked = self._counts(at)
        state: MaskState = "unmasked" if unmasked else "masked" if masked else "no_face"
        if self._state.update(state, at):
            events.append(
                MaskEvent(at=at, state=state, faces=faces, masked=masked, unmasked=unmasked)
            )
        longest = max(
            (
                at - t.mask.since
                for t in self.tracker.present(at, self.visible_s)
                if t.mask.state == "unmasked" and t.mask.since is not None
            ),
            default=0.0,
        )
        limit = self.vision.unmasked_alert_after_s
        change = self._alert.update(longest >= limit, at)
        if change is not None and change.raised:
            events.append(
                change.event(
                    f"a person without a mask has been at the desk for {longest:.0f} s",
                    value=round(longest, 1),
                )
            )
        elif change is not None:
            events.append(change.event("no unmasked person at the desk any more"))
        return events

"""Lost sources: a ``setup`` alert when a device delivered nothing for a while during opening hours.

While the clinic is open the thermometer and the camera must be connected and delivering. The
:class:`SourceLostAnalyser` watches the :class:`~agent.flow.heartbeat.Heartbeat` of each source it is
given (the thermometer's serial source, the camera's frame grabber): once a source has delivered no
valid data for its ``after_s`` while open, its alert (``thermometer_lost``, ``camera_lost``) is
raised; it is cleared once the source delivers again, or when the clinic closes (then nobody needs
it; the message says which). The agent keeps running meanwhile: the sources reconnect on their own.

Whether the clinic is open comes from the ``is_open`` hook (the service passes the ``[clinic]``
opening hours in ``device.timezone``; without any hours configured it watches always).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from agent.flow.alerts import AlertBook, AlertLatch
from agent.flow.events import AlertType, Event
from agent.flow.heartbeat import Heartbeat

CLEAR_AFTER_S = 10.0
"""A lost source must deliver this long before its alert clears."""


def always_open(at: float) -> bool:
    """The ``is_open`` hook when no opening hours are configured."""
    return True


@dataclass(frozen=True, slots=True)
class Watched:
    """One source to watch."""

    what: str
    """How the operator calls it ("thermometer", "camera")."""
    alert: AlertType
    heartbeat: Heartbeat
    after_s: float
    """Raise once it delivered nothing this long while open."""


class SourceLostAnalyser:
    """Heartbeats + opening hours -> ``*_lost`` setup alerts (time-driven: works on ``tick``)."""

    def __init__(
        self,
        watched: Sequence[Watched],
        is_open: Callable[[float], bool] = always_open,
        *,
        name: str = "setup",
        clear_after_s: float = CLEAR_AFTER_S,
        book: AlertBook | None = None,
    ) -> None:
        self.name = name
        self.watched = list(watched)
        self.is_open = is_open
        self.latches = {
            w.alert: AlertLatch(w.alert, w.after_s, clear_after_s, book=book) for w in watched
        }
        """One latch per watched source (the seam for carrying alerts over a restart)."""

    def feed(self, observation: object) -> Sequence[Event]:
        """Nothing: only time (``tick``) tells that data stopped."""
        return []

    def tick(self, now: float) -> Sequence[Event]:
        """Raise or clear each source's alert from its heartbeat and the opening hours."""
        open_now = self.is_open(now)
        events: list[Event] = []
        for w in self.watched:
            lost = not w.heartbeat.fresh(now)
            change = self.latches[w.alert].update(open_now and lost, now)
            if change is None:
                continue
            snap = w.heartbeat.snapshot(now)
            if change.raised:
                silent = "no data yet" if snap.age_s is None else f"no data for {snap.age_s:.0f} s"
                message = (
                    f"{w.what} lost while the clinic is open: {silent} ({snap.state}); "
                    "check its cable and power"
                )
                events.append(change.event(message[:160], snap.age_s))
            elif lost:
                events.append(change.event(f"{w.what} no longer watched: the clinic is closed"))
            else:
                events.append(change.event(f"{w.what} delivering again"))
        return events

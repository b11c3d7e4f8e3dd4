"""Camera integrity alerts: the ``setup`` family alerts from the integrity verdicts.

An :class:`~agent.flow.ports.Analyser` fed :class:`~agent.vision.findings.IntegrityFindings` (made in the
vision worker thread by :class:`~agent.vision.inference.integrity.IntegrityChecker`; no frame gets here). Per
check a :class:`~agent.flow.alerts.AlertLatch` raises ``camera_covered`` / ``camera_dark`` / ``camera_blurred`` / ``camera_moved``
once the check failed continuously for its ``vision.integrity.*_after_s`` and clears it once it
passed for ``clear_after_s``. Like every ``setup`` alert they are watched only while the clinic is open
(the ``is_open`` hook; a camera dark at night is no news): at closing they clear. A check that cannot
be judged (``unknown``: the camera is covered, so
focus cannot be told) leaves its alert as it is. The alert's ``value`` is the measured figure (see
docs/EVENTS.md), never an image.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from agent.flow.alerts import AlertBook, AlertLatch
from agent.flow.events import AlertType, Event
from agent.flow.lost import always_open
from agent.vision.config import IntegrityConfig
from agent.vision.findings import CHECKS, IntegrityCheck, IntegrityFindings, IntegrityVerdict

ALERTS: dict[IntegrityCheck, AlertType] = {
    "covered": "camera_covered",
    "dark": "camera_dark",
    "blurred": "camera_blurred",
    "moved": "camera_moved",
}


def _pct(x: float | None) -> str:
    return "?" if x is None else f"{100 * x:.0f}%"


def value(v: IntegrityVerdict) -> float | None:
    """The alert's ``value``: % featureless, brightness 0-255, % sharpness or energy, % in place."""
    if v.value is None:
        return None
    if v.check == "dark" or (v.check == "blurred" and v.basis == "absolute"):
        return round(v.value, 1)
    return round(100 * v.value, 1)


def raise_message(v: IntegrityVerdict, held_s: float) -> str:
    """Operator text for a raised camera alert (at most 160 characters)."""
    if v.check == "covered":
        return (
            f"camera covered or blacked out: {_pct(v.value)} of the view shows nothing for "
            f"{held_s:.0f} s; uncover the lens"
        )
    if v.check == "dark":
        return (
            f"camera image too dark to analyse: brightness {v.value or 0:.0f}/255 (needs "
            f"{v.limit:.0f}) for {held_s:.0f} s; switch the light on"
        )
    if v.check == "blurred":
        what = (
            f"sharpness {_pct(v.value)} of commissioned"
            if v.basis == "reference"
            else f"sharpness {v.value or 0:.0f} (needs {v.limit:.0f})"
        )
        return (
            f"camera out of focus or lens smeared: {what} for {held_s:.0f} s; clean or refocus it"
        )
    shift = "" if v.shift is None else f", view shifted {100 * v.shift:.1f}% of its width"
    return (
        f"camera moved: {_pct(v.value)} of its landmarks in place{shift}; re-aim it, or re-run "
        "`triage-agent commission` if deliberate"
    )


CLEAR_MESSAGES: dict[IntegrityCheck, str] = {
    "covered": "camera uncovered: the view shows the scene again",
    "dark": "camera image bright enough to analyse again",
    "blurred": "camera image sharp again",
    "moved": "camera view matches its commissioned reference again",
}


class IntegrityAnalyser:
    """Integrity verdicts -> latched ``setup`` alerts, one :class:`AlertLatch` per check."""

    def __init__(
        self,
        cfg: IntegrityConfig,
        *,
        name: str = "integrity",
        commissioned: bool | None = None,
        is_open: Callable[[float], bool] = always_open,
        book: AlertBook | None = None,
    ) -> None:
        self.name = name
        self.cfg = cfg
        self.is_open = is_open
        """Opening hours: camera alerts are raised only while the clinic is open."""
        after = {
            "covered": cfg.covered_after_s,
            "dark": cfg.dark_after_s,
            "blurred": cfg.blurred_after_s,
            "moved": cfg.moved_after_s,
        }
        self.latches = {
            c: AlertLatch(ALERTS[c], after[c], cfg.clear_after_s, book=book) for c in CHECKS
        }
        """One latch per check (the seam for carrying alerts over a restart)."""
        self.commissioned = commissioned
        """A usable reference: as loaded at start, then as the last findings say."""
        self.last: IntegrityFindings | None = None

    @property
    def raised(self) -> tuple[AlertType, ...]:
        """The camera alerts open now."""
        return tuple(ALERTS[c] for c in CHECKS if self.latches[c].raised)

    def feed(self, observation: object) -> Sequence[Event]:
        """Consume one check's findings; ignore other observations."""
        if not isinstance(observation, IntegrityFindings):
            return []
        self.last = observation
        self.commissioned = observation.commissioned
        events: list[Event] = []
        open_now = self.is_open(observation.at)
        for v in observation.verdicts:
            if v.outcome == "unknown" and open_now:
                continue
            failed = open_now and v.outcome == "failed"
            change = self.latches[v.check].update(failed, observation.at)
            if change is None:
                continue
            if change.raised:
                message = raise_message(v, change.at - change.since)
            elif not open_now:
                message = f"{ALERTS[v.check]} no longer watched: the clinic is closed"
            else:
                message = CLEAR_MESSAGES[v.check]
            events.append(change.event(message, value(v)))
        return events

    def integrity_snapshot(self) -> dict[str, object]:
        """For `triage-agent status` and diag: commissioned, open camera alerts, last check cost."""
        last = self.last
        return {
            "commissioned": self.commissioned,
            "raised": list(self.raised),
            "check_ms": None if last is None else round(last.check_ms, 1),
            "unknown": {
                v.check: v.why_unknown for v in (last.verdicts if last else ()) if v.why_unknown
            },
        }

    def tick(self, now: float) -> Sequence[Event]:
        """Nothing time-driven: verdicts arrive every ``check_every_s`` while frames do."""
        return []

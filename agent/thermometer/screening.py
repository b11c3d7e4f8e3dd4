"""Screening: thermometer readings in, exactly one temperature result per person presentation out.

Algorithm (docs/SCREENING.md has the rationale):

1. **Presentation**: a person is in front of the sensor when ``object - ambient >=
   presence_delta_c`` for ``ENTER_SAMPLES`` consecutive readings; they have left after
   ``LEAVE_SAMPLES`` consecutive readings below it (single outliers in either direction are ignored),
   or when readings stop for ``LOST_AFTER_S`` (sensor unplugged mid-presentation).
2. **Plateau**: the readings of the last ``plateau_window_s`` (at least ``MIN_SAMPLES``) are a
   plateau when their trimmed range (10 % cut at each end, at least one sample) is within
   ``plateau_max_spread_c`` and the medians of their first and second halves differ by at most a
   third of that (no rise still in progress).
3. **Estimate**: the median of the later half of the plateau window (robust to isolated glitches,
   free of the tail of the rise); ambient: the median over the window.
   ``estimate = object + offset + ambient correction``, where the correction is
   ``ambient_coefficient * (ambient_reference_c - ambient)`` when ``ambient_correction`` is on.
4. **Classification**: an estimate outside the body window (:data:`.plausibility.BODY_RANGE_C`,
   25-45 °C: a hot drink, a lamp, glitches) is **no result at all**: nothing is published, it is
   counted in :attr:`ScreeningAnalyser.not_a_body` (and handed to ``rejected``, the thermometer's
   rejected inputs), logged at most once a minute, and the presentation goes on looking for a
   plateau (someone may take the object's place). Otherwise outside ``[min_valid_c, max_valid_c]``
   is ``invalid`` (re-measure), at or above ``fever_threshold_c`` is ``fever``, otherwise
   ``normal``. A presentation that never reaches a plateau (left too early, or
   ``presentation_timeout_s`` passed) is ``invalid`` too, unless its readings are outside the body
   window.
5. One :class:`TemperatureEvent` per presentation, as soon as the plateau is found; a fever also
   raises an ``AlertEvent`` (a clinical thermometer must confirm), cleared when the person leaves.
"""

from __future__ import annotations

import logging
import statistics
import time
from collections.abc import Callable, Sequence

from agent.flow.alerts import AlertBook, AlertLatch
from agent.flow.events import Event, TemperatureEvent, TemperatureResult
from agent.thermometer.config import ScreeningConfig
from agent.thermometer.plausibility import body_problem
from agent.thermometer.reading import ThermoReading

log = logging.getLogger(__name__)

ENTER_SAMPLES = 3
LEAVE_SAMPLES = 3
MIN_SAMPLES = 5
LOST_AFTER_S = 3.0
LOG_EVERY_S = 60.0
"""Presentations outside the body window are all counted, but logged at most once a minute."""


class ScreeningAnalyser:
    """The :class:`agent.flow.ports.Analyser` for temperature screening."""

    name = "screening"

    def __init__(
        self,
        cfg: ScreeningConfig,
        offset_c: float | None = None,
        rejected: Callable[[str], None] | None = None,
        book: AlertBook | None = None,
    ) -> None:
        self.cfg = cfg
        self.rejected = rejected
        """Told why, once per presentation that is not a body temperature (the thermometer's
        heartbeat ``error``: its rejected inputs in ``status`` and health ``rejected``)."""
        self.offset_c = cfg.site_offset_c if offset_c is None else offset_c
        """Site offset in force: the calibration file's when present, else ``site_offset_c``."""
        self._candidates: list[ThermoReading] = []
        self._samples: list[ThermoReading] = []
        self._present = False
        self._reported = False
        self._below = 0
        self._last_at: float | None = None
        self._fever = AlertLatch("fever", book=book)
        self._fever_value: float | None = None
        self.presentations = 0
        self.not_a_body = 0
        """Presentations whose estimate was outside the body window (no result published)."""
        self._not_a_body_seen = False
        self._logged = -LOG_EVERY_S
        self._since_log = 0

    # -- Analyser protocol -------------------------------------------------------------------
    def feed(self, observation: object) -> Sequence[Event]:
        """Consume a :class:`ThermoReading` (other observations are ignored)."""
        if not isinstance(observation, ThermoReading):
            return []
        r = observation
        self._last_at = r.at
        above = r.object_c - r.ambient_c >= self.cfg.presence_delta_c
        if not self._present:
            if not above:
                self._candidates.clear()
                return []
            self._candidates.append(r)
            if len(self._candidates) < ENTER_SAMPLES:
                return []
            self._present = True
            self.presentations += 1
            self._samples = list(self._candidates)
            self._candidates.clear()
            self._below = 0
            return self._evaluate(r.at)
        if not above:
            self._below += 1
            return self._leave(r.at) if self._below >= LEAVE_SAMPLES else []
        self._below = 0
        if self._reported:
            return []
        self._samples.append(r)
        return self._evaluate(r.at)

    def tick(self, now: float) -> Sequence[Event]:
        """Ends a presentation whose readings stopped (sensor lost while a person stood there)."""
        if self._present and self._last_at is not None and now - self._last_at > LOST_AFTER_S:
            return self._leave(now)
        return []

    # -- internals -----------------------------------------------------------------------------
    def _window(self, now: float) -> list[ThermoReading]:
        start = now - self.cfg.plateau_window_s
        n = len(self._samples)
        i = n
        while i > 0 and (self._samples[i - 1].at >= start or n - i < MIN_SAMPLES):
            i -= 1
        return self._samples[i:]

    def _is_plateau(self, window: list[ThermoReading]) -> bool:
        if len(window) < MIN_SAMPLES:
            return False
        if window[-1].at - window[0].at < 0.8 * self.cfg.plateau_window_s:
            return False
        values = sorted(s.object_c for s in window)
        cut = max(1, len(values) // 10)
        trimmed = values[cut:-cut]
        if trimmed[-1] - trimmed[0] > self.cfg.plateau_max_spread_c:
            return False
        half = len(window) // 2
        first = statistics.median(s.object_c for s in window[:half])
        second = statistics.median(s.object_c for s in window[half:])
        return abs(second - first) <= self.cfg.plateau_max_spread_c / 3

    def _evaluate(self, now: float) -> list[Event]:
        if self._reported:
            return []
        window = self._window(now)
        if self._is_plateau(window):
            return self._report(now, window, plateau=True)
        if now - self._samples[0].at >= self.cfg.presentation_timeout_s:
            return self._report(now, self._samples, plateau=False)
        return []

    def estimate(self, object_c: float, ambient_c: float) -> float:
        """Body-temperature estimate from a raw plateau value: offset plus ambient correction."""
        value = object_c + self.offset_c
        if self.cfg.ambient_correction:
            value += self.cfg.ambient_coefficient * (self.cfg.ambient_reference_c - ambient_c)
        return value

    def classify(self, estimate_c: float) -> TemperatureResult:
        """``invalid`` outside the plausible range, ``fever`` at/above threshold, else ``normal``."""
        if not self.cfg.min_valid_c <= estimate_c <= self.cfg.max_valid_c:
            return "invalid"
        return "fever" if estimate_c >= self.cfg.fever_threshold_c else "normal"

    def _report(self, now: float, window: Sequence[ThermoReading], plateau: bool) -> list[Event]:
        # The later half is the most settled part of the plateau (no tail of the rise in it).
        settled = window[len(window) // 2 :] if plateau else window
        raw = statistics.median(s.object_c for s in settled)
        ambient = statistics.median(s.ambient_c for s in window)
        est = self.estimate(raw, ambient)
        problem = body_problem(est)
        if problem is not None:
            self._not_a_body_now(f"{problem}, raw {raw:.2f} °C: not a screening result")
            return []
        self._reported = True
        result: TemperatureResult = self.classify(est) if plateau else "invalid"
        events: list[Event] = [
            TemperatureEvent(
                at=now,
                result=result,
                object_c=round(raw, 2),
                ambient_c=round(ambient, 2),
                estimate_c=round(est, 2),
                threshold_c=self.cfg.fever_threshold_c,
                plateau_s=round(window[-1].at - window[0].at, 2) if plateau else 0.0,
                samples=len(window),
                offset_c=round(self.offset_c, 2),
            )
        ]
        change = self._fever.raise_now(now) if result == "fever" else None
        if change is not None:
            self._fever_value = round(est, 2)
            events.append(
                change.event(
                    f"Screening temperature {est:.1f} °C is at or above "
                    f"{self.cfg.fever_threshold_c:.1f} °C. This is a screening result only: "
                    "a clinical thermometer must confirm it before any decision.",
                    value=self._fever_value,
                )
            )
        return events

    def _not_a_body_now(self, why: str) -> None:
        """Count (once per presentation) and log (once a minute); look for a plateau afresh."""
        self._samples = []
        if self._not_a_body_seen:
            return
        self._not_a_body_seen = True
        self.not_a_body += 1
        self._since_log += 1
        if self.rejected is not None:
            self.rejected(f"screening: {why}")
        mono = time.monotonic()
        if mono - self._logged >= LOG_EVERY_S:
            log.warning(
                "screening: %s (%d such presentation(s) since the last such line, %d in all; "
                "at most one line a minute)",
                why,
                self._since_log,
                self.not_a_body,
            )
            self._logged = mono
            self._since_log = 0

    def _leave(self, now: float) -> list[Event]:
        events: list[Event] = []
        if self._present and not self._reported and self._samples:
            events += self._report(now, self._samples, plateau=False)
        cleared = self._fever.clear_now(now)
        if cleared is not None:
            events.append(
                cleared.event("The person left the screening position.", value=self._fever_value)
            )
        self._present = False
        self._reported = False
        self._not_a_body_seen = False
        self._samples = []
        self._candidates.clear()
        self._below = 0
        return events

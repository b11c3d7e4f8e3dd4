"""Screening coverage: were the people who came in screened at the desk? And registration scans.

The :class:`CoverageAnalyser` puts side by side what two (or three) devices see, none of which it
knows by name:

- **arrivals**: instants handed to :meth:`CoverageAnalyser.arrived` by the camera's arrival counter
  (people entering through an ``entrance`` zone, or entering the view when none is configured:
  :mod:`agent.vision.analysers.arrivals`);
- **screenings**: the valid ``temperature`` results (``normal`` or ``fever``) other analysers
  produce; the engine lets this analyser hear them (``hears_facts``, :mod:`agent.flow.engine`);
- **scans**: :class:`Scanned` observations from an optional registration scanner (counts only:
  the scanner's driver never hands over what was scanned, :mod:`agent.scanner`).

Matching, one to one, oldest first: an arrival is **screened** when a valid result comes at most
``match_s`` after it, or at most ``before_s`` before it (screened at the door before the camera
confirmed the person); it is **unscreened** once ``match_s`` passed without one. A result that
matches no arrival (staff screened, a re-measure, somebody the camera missed) is counted apart
(``results_unmatched``). An arrival is counted when it is judged: matched, or its ``match_s``
passed; so near a period's end it may land in the next period.

Every ``period_s`` a :class:`~agent.flow.events.CoverageEvent` reports the window's counts (none
when nothing was judged and nothing scanned); the summary adds them up per period and per day.

``screening_skipped`` (``setup`` family: the triage point is not working): raised while the clinic
is open once ``skipped_after`` arrivals in a row, all judged within ``skipped_within_s``, went
unscreened (no valid result at the desk in between); cleared when screening resumes (a valid
result) or the clinic closes. Its ``value`` is the number of unscreened arrivals in that run.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from agent.flow.alerts import AlertBook, AlertLatch
from agent.flow.events import CoverageEvent, Event, TemperatureEvent
from agent.flow.window import PeriodicWindow

SCREENED_RESULTS = frozenset({"normal", "fever"})
"""Temperature results that count as a screening (``invalid`` asks to measure again)."""


@dataclass(frozen=True, slots=True)
class Scanned:
    """Registration scans completed at ``at`` (a count: the scanned content never leaves the
    scanner's driver)."""

    at: float
    count: int = 1


def _always_open(at: float) -> bool:
    return True


class CoverageAnalyser:
    """Arrivals vs screenings (and scans) -> periodic ``coverage`` events, ``screening_skipped``."""

    hears_facts = True
    """The engine feeds it the events other analysers produce (the temperature results)."""

    def __init__(
        self,
        *,
        period_s: float,
        match_s: float,
        before_s: float,
        skipped_after: int,
        skipped_within_s: float,
        screening: bool = True,
        scanner: bool = False,
        is_open: Callable[[float], bool] = _always_open,
        name: str = "coverage",
        book: AlertBook | None = None,
    ) -> None:
        self.name = name
        self.match_s = match_s
        self.before_s = before_s
        self.skipped_after = skipped_after
        self.skipped_within_s = skipped_within_s
        self.screening = screening
        """Arrivals and screenings are both measured (a camera and a thermometer)."""
        self.scanner = scanner
        self.is_open = is_open
        self._window = PeriodicWindow(period_s)
        self._pending: deque[float] = deque()
        """Arrivals waiting for a result, oldest first."""
        self._results: deque[float] = deque()
        """Valid results no arrival took yet, kept ``before_s`` for an arrival counted late."""
        self._run: deque[float] = deque()
        """When each unscreened arrival of the current run (no screening since) was judged."""
        self._skipping = False
        self._latch = AlertLatch("screening_skipped", book=book)
        self.screened = 0
        self.unscreened = 0
        self.unmatched = 0
        self.scans = 0
        """Counts of the current window."""
        self.total_screened = 0
        self.total_unscreened = 0
        self.total_scans = 0
        """Since start (status)."""

    # -- inputs ----------------------------------------------------------------------------------
    def arrived(self, at: float) -> None:
        """One arrival counted by the camera at ``at``."""
        if not self.screening:
            return
        self._expire_results(at)
        if self._results:
            self._results.popleft()
            self._count_screened()
            return
        self._pending.append(at)

    def feed(self, observation: object) -> Sequence[Event]:
        """A valid temperature result or scans; other observations are ignored."""
        if isinstance(observation, Scanned):
            self._window.touch(observation.at)
            if self.scanner:
                self.scans += observation.count
                self.total_scans += observation.count
            return []
        if not isinstance(observation, TemperatureEvent) or not self.screening:
            return []
        if observation.result not in SCREENED_RESULTS:
            return []
        at = observation.at
        self._window.touch(at)
        self._judge(at)
        self._run.clear()
        self._skipping = False
        if self._pending and at - self._pending[0] <= self.match_s:
            self._pending.popleft()
            self._count_screened()
        else:
            self._results.append(at)
        return self._alert(at)

    def tick(self, now: float) -> Sequence[Event]:
        """Judge arrivals whose time ran out, raise or clear the alert, report a closed window."""
        self._judge(now)
        self._expire_results(now)
        events = self._alert(now)
        if self._window.due(now):
            if self.screened or self.unscreened or self.unmatched or self.scans:
                events.append(
                    CoverageEvent(
                        at=now,
                        window_s=self._window.period_s,
                        arrivals_screened=self.screened if self.screening else None,
                        arrivals_unscreened=self.unscreened if self.screening else None,
                        results_unmatched=self.unmatched if self.screening else None,
                        scans=self.scans if self.scanner else None,
                    )
                )
            self.screened = self.unscreened = self.unmatched = self.scans = 0
        return events

    # -- matching --------------------------------------------------------------------------------
    def _count_screened(self) -> None:
        self.screened += 1
        self.total_screened += 1

    def _judge(self, now: float) -> None:
        """Arrivals left without a result for ``match_s``: unscreened."""
        while self._pending and now - self._pending[0] > self.match_s:
            self._pending.popleft()
            self.unscreened += 1
            self.total_unscreened += 1
            self._run.append(now)
        while self._run and now - self._run[0] > self.skipped_within_s:
            self._run.popleft()
        if len(self._run) >= self.skipped_after:
            self._skipping = True

    def _expire_results(self, now: float) -> None:
        while self._results and now - self._results[0] > self.before_s:
            self._results.popleft()
            self.unmatched += 1

    def _alert(self, at: float) -> list[Event]:
        open_now = self.is_open(at)
        change = self._latch.update(self._skipping and open_now, at)
        if change is None:
            return []
        if change.raised:
            n = len(self._run)
            return [
                change.event(
                    f"{n} people came in unscreened within {self.skipped_within_s / 60:.0f} min: "
                    "nobody is taking temperatures at the desk",
                    value=float(n),
                )
            ]
        if not open_now:
            self._skipping = False
            self._run.clear()
            return [change.event("screening_skipped no longer watched: the clinic is closed")]
        return [change.event("screening resumed: a temperature was taken at the desk")]

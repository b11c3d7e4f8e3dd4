"""The periodic ``summary``: counts over one reporting period, tallied from the events themselves.

The tally sees every event the analysers produce (the pipeline calls :meth:`SummaryTally.record`) and,
every ``reporting.summary_interval_s``, returns one :class:`SummaryEvent` and starts a new period:

- ``screened``/``fevers``/``invalid``: temperature results by classification;
- ``people``: distinct people the camera tracked (sum of ``people`` in periodic occupancy events);
- ``mask_violations``: ``unmasked`` alerts raised; ``alerts``: alerts raised by type;
- ``max_occupancy``: the highest occupancy count or window maximum reported.
"""

from __future__ import annotations

from collections import Counter

from agent.flow.events import AlertEvent, Event, OccupancyEvent, SummaryEvent, TemperatureEvent


class SummaryTally:
    """Counts for the current period. Used from the main loop thread only."""

    def __init__(self, interval_s: float, start: float) -> None:
        self.interval_s = interval_s
        self._reset(start)

    def _reset(self, start: float) -> None:
        self._start = start
        self._results: Counter[str] = Counter()
        self._alerts: Counter[str] = Counter()
        self._people = 0
        self._max_occupancy = 0

    def record(self, event: Event) -> None:
        """Count one event produced in this period."""
        if isinstance(event, TemperatureEvent):
            self._results[event.result] += 1
        elif isinstance(event, AlertEvent) and event.state == "raised":
            self._alerts[event.alert] += 1
        elif isinstance(event, OccupancyEvent):
            self._max_occupancy = max(self._max_occupancy, event.count, event.max)
            self._people += event.people or 0

    def tick(self, now: float) -> SummaryEvent | None:
        """The summary of the period if it is over (and reset), else None."""
        if now - self._start < self.interval_s:
            return None
        event = SummaryEvent(
            at=now,
            window_s=now - self._start,
            screened=sum(self._results.values()),
            fevers=self._results["fever"],
            invalid=self._results["invalid"],
            people=self._people,
            mask_violations=self._alerts["unmasked"],
            max_occupancy=self._max_occupancy,
            alerts=dict(sorted(self._alerts.items())),
        )
        self._reset(now)
        return event

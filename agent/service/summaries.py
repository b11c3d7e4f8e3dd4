"""The summaries in the running service: the tally fed with every event, started once the clock
can be trusted, its ended periods emitted, and its state persisted (:mod:`.tally_store`).

After a boot without a clock battery the wall clock may be wrong until NTP synchronises it: the
counted events are then kept (in memory, at most :data:`PENDING_MAX`) and counted at their
corrected times once the clock is synchronised, or after :data:`CLOCK_TRUST_AFTER_S` as it is.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from agent.flow.clock import rebase_tally
from agent.flow.events import AlertEvent, Event, OccupancyEvent, SummaryEvent, TemperatureEvent
from agent.flow.summary import SummaryTally
from agent.service.clocks import Clocks
from agent.service.tally_store import TallyStore
from agent.wire.outbox import Outbox

log = logging.getLogger("agent.service.pipeline")  # the main loop's lines keep one logger name

CLOCK_TRUST_AFTER_S = 900.0
"""How long the summaries wait for an NTP client that runs but has not synchronised the clock
(after a boot without a clock battery); then the clock is taken as it is."""
PENDING_MAX = 20000
"""Counted events kept (in memory) for the summaries while they wait for a synchronised clock."""


def counted(event: Event) -> bool:
    """Whether the summaries count ``event`` (:meth:`SummaryTally.counts`, without a tally)."""
    return isinstance(event, TemperatureEvent | OccupancyEvent | AlertEvent)


class Summaries:
    """The summary tally of the running service; ``store`` takes the summaries of ended periods."""

    def __init__(
        self,
        outbox: Outbox,
        store: TallyStore,
        clocks: Clocks,
        interval_s: float,
        timezone: str,
        store_event: Callable[[Event], None],
    ) -> None:
        self._outbox = outbox
        self._store = store
        self._clocks = clocks
        self._interval_s = interval_s
        self._timezone = timezone
        self._store_event = store_event
        self.tally: SummaryTally | None = None
        """None while the summaries wait for a synchronised clock (:meth:`check_clock`)."""
        self._pending: deque[tuple[Event, float]] = deque(maxlen=PENDING_MAX)
        """Counted events (and the wall-agent shift then) waiting for the summaries."""
        if clocks.state != "unsynced":
            self._start()

    def record(self, event: Event) -> None:
        """Count ``event``; the periods that ended by its time are closed first."""
        if self.tally is None:
            if counted(event):
                self._pending.append((event, self._clocks.shift))
            return
        if not isinstance(event, SummaryEvent):
            self.close_periods(event.at)
        self.tally.record(event)

    def close_periods(self, now: float) -> None:
        """Emit the summary of every period that ended by ``now``; each is stored with the tally
        that no longer holds it, so a restart neither repeats nor loses it."""
        while self.tally is not None and (summary := self.tally.due(now)) is not None:
            self._store_event(summary)

    def state_for(self, event: Event) -> dict[str, str] | None:
        """The tally's state to store with ``event`` when the event changed it."""
        return None if self.tally is None else self._store.state_for(self.tally, event)

    def alive(self, now: float) -> None:
        """The box is alive at ``now`` (the tally's stamp: ``offline`` minutes after a restart)."""
        if self.tally is not None:
            self.tally.alive(now)

    def save(self) -> None:
        if self.tally is not None:
            self._store.save(self.tally)

    def _start(self) -> None:
        """Start the summaries once the wall clock is trusted: resume the saved tally at the true
        start time, then count the events kept meanwhile at their corrected times."""
        c = self._clocks
        start = c.started_agent + c.shift
        self.tally = SummaryTally.resume(
            self._interval_s, self._timezone, start, self._store.load(start)
        )
        pending, self._pending = list(self._pending), deque(maxlen=PENDING_MAX)
        if pending:
            log.info(
                "summaries: counting %d event(s) kept while the clock was unsynchronised",
                len(pending),
            )
        for event, shift in pending:
            moved = replace(event, at=event.at - shift + c.shift)
            self.close_periods(moved.at)
            self.tally.record(moved)
        if pending and self._outbox.fault is None:
            self.save()

    def check_clock(self, agent: float) -> None:
        """Ask whether the clock is synchronised; start the summaries when it can be trusted."""
        state = self._clocks.check_state()
        if self.tally is None:
            waited = agent - self._clocks.started_agent
            if state != "unsynced" or waited >= CLOCK_TRUST_AFTER_S:
                if state == "unsynced":
                    log.warning(
                        "system clock still not synchronised after %.0f s: summaries go on with "
                        "the clock as it is (health says clock unsynced)",
                        waited,
                    )
                self._start()

    def clock_stepped(self, now: float) -> None:
        """The wall clock stepped: the open periods carry on in those of the corrected clock."""
        if self.tally is None:
            return
        c = self.tally.clock
        self.tally.load(rebase_tally(self.tally.to_state(), now, c.slot(now), c.day(now)))
        if self._outbox.fault is None:
            self.save()

    def snapshot(self) -> dict[str, Any]:
        """The summaries as ``triage-agent status`` shows them (in its ``clock`` part)."""
        return {
            "summaries": "waiting for a synchronised clock" if self.tally is None else "on",
            "kept_for_summaries": len(self._pending),
        }

"""The summary tally's persistence: its state kept in the outbox's database (``outbox.state``).

The tally's state is stored in the same transaction as the event that changed it
(:meth:`TallyStore.state_for`, handed to :meth:`Outbox.append`), so a power cut mid-period neither
loses nor repeats counts, and saved on its own every :data:`ALIVE_EVERY_S` (its last-alive stamp:
the precision of the ``offline`` minutes a restart reports). A tally saved under a clock since
stepped back is carried on in the current periods.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from agent.flow.clock import STEP_TOLERANCE_S, made_under_a_wrong_clock, rebase_tally
from agent.flow.events import Event, SummaryEvent
from agent.flow.summary import ClinicClock, SummaryTally
from agent.wire.outbox_state import StateStore

log = logging.getLogger("agent.service.pipeline")  # the main loop's lines keep one logger name

ALIVE_EVERY_S = 10.0
"""How often the summary tally (with its last-alive stamp) is saved when no event saved it: the
precision of the ``offline`` minutes a restart reports."""
SUMMARY_STATE = "summary"
"""The outbox state key of the summary tally."""


class TallyStore:
    """The saved summary tally of one box (periods in ``timezone``, ``interval_s`` long)."""

    def __init__(self, state: StateStore, timezone: str, interval_s: float) -> None:
        self._state = state
        self._timezone = timezone
        self._interval_s = interval_s

    def load(self, now: float) -> dict[str, Any] | None:
        """The saved tally's state for a start at ``now``; None when there is none (or unusable)."""
        text = self._state.load(SUMMARY_STATE)
        if text is None:
            return None
        try:
            state = json.loads(text)
        except ValueError:
            log.warning("saved summary tally unreadable; counting from now")
            return None
        if not isinstance(state, dict):
            return None
        if made_under_a_wrong_clock(state, now, STEP_TOLERANCE_S):
            log.warning(
                "saved summary tally is from the future (saved %+.0f s from now, under a clock "
                "since stepped back): its counts carry on in the current periods",
                float(state["alive"]) - now,
            )
            c = ClinicClock(self._timezone, self._interval_s)
            return rebase_tally(state, now, c.slot(now), c.day(now))
        return dict(state)

    def save(self, tally: SummaryTally) -> None:
        """Save the tally without a message (never raises; a failure is the outbox's fault)."""
        self._state.save({SUMMARY_STATE: text_of(tally)})

    @staticmethod
    def state_for(tally: SummaryTally, event: Event) -> dict[str, str] | None:
        """The tally's state to store with ``event`` when the event changed it."""
        if isinstance(event, SummaryEvent) or tally.counts(event):
            return {SUMMARY_STATE: text_of(tally)}
        return None


def text_of(tally: SummaryTally) -> str:
    """The tally's state as stored."""
    return json.dumps(tally.to_state(), separators=(",", ":"))

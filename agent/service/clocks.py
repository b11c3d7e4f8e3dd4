"""The service's clocks: the wall clock for labels, agent time for durations, and their steps.

The wall clock labels events (``ts``) and places the clinic's periods; agent time
(:mod:`agent.flow.clock`) runs durations, health periods, uptime and the analysers, so a step of the
wall clock neither stalls nor hurries them. :class:`Clocks` keeps the difference between the two
(the steps since the start), notices a step, and asks whether the system clock is synchronised.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from agent.flow.clock import ClockState, StepWatch, agent_now

log = logging.getLogger("agent.service.pipeline")  # the main loop's lines keep one logger name

Clock = Callable[[], float]


class Clocks:
    """Wall and agent time of one running service."""

    def __init__(
        self,
        clock: Clock = time.time,
        agent_clock: Clock | None = None,
        clock_state: Callable[[], ClockState] | None = None,
    ) -> None:
        self.wall = clock
        """The wall clock: labels (``ts``) and the clinic's periods only."""
        self.scripted = agent_clock is None and clock is not time.time
        """A test's scripted clock: one time line, so wall and agent time are the same."""
        self.agent: Clock = agent_clock or (clock if self.scripted else agent_now)
        """Agent time (:mod:`agent.flow.clock`): durations, health periods, uptime, analysers."""
        self.clock_state = clock_state
        """Whether the system clock is synchronised (None: trusted as it is)."""
        self.state: ClockState = clock_state() if clock_state is not None else "synced"
        self._steps = StepWatch()
        self.started = clock()
        self.started_agent = self.agent()
        self.shift = self.started - self.started_agent
        """Wall minus agent time: the clock's steps since the start."""

    def agent_at(self, now: float) -> float:
        """Agent time at wall time ``now`` (read now; ``now`` itself on a scripted clock)."""
        return now if self.scripted else self.agent()

    def observe(self, now: float) -> tuple[float, float]:
        """Each tick: agent time at ``now`` and the wall clock's step since the last tick (0: none;
        a step is logged)."""
        agent = self.agent_at(now)
        step = self._steps.check(now, agent)
        self.shift = now - agent
        if step:
            log.warning(
                "system clock stepped by %+.0f s (now %s); health, uptime and alert delays run on "
                "the monotonic clock, open summary periods carry on under the corrected clock",
                step,
                time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(now)),
            )
        return agent, step

    def check_state(self) -> ClockState:
        """Ask whether the system clock is synchronised (a change is logged)."""
        if self.clock_state is not None:
            state = self.clock_state()
            if state != self.state:
                log.warning("system clock: %s (was %s)", state, self.state)
                self.state = state
        return self.state

    def uptime(self, agent: float) -> float:
        """Seconds since the start, on the monotonic clock (agent time ``agent``)."""
        return max(0.0, agent - self.started_agent)

    def snapshot(self) -> dict[str, Any]:
        """The clock as ``triage-agent status`` shows it (the summaries add theirs)."""
        last = self._steps.last_step
        return {
            "state": self.state,
            "steps": self._steps.steps,
            "last_step_s": None if last is None else round(last),
        }

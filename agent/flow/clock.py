"""Time on a box without a clock battery: durations on the monotonic clock, the wall clock for labels.

A Raspberry Pi boots with its clock wherever fake-hwclock left it (hours or days behind) until NTP
steps it; an operator may step it too. So the agent keeps two times apart:

- **agent time** (:func:`agent_now`): the monotonic clock, expressed as the wall-clock time the
  process started plus the seconds elapsed since. It never steps. Sources stamp their observations
  with it, heartbeats, alert delays, windows, health periods and uptime all run on it.
- **wall time**: ``time.time()``, only to label facts (``ts``) and to align the summaries to the
  clinic's day. ``wall - agent`` is the sum of the steps since the start (:class:`StepWatch`); the
  service adds it to an event's time when it stores the event.

:class:`StepWatch` tells a step from the passing of time by comparing the wall clock's delta with
the monotonic delta at each tick. :func:`rebase_tally` carries the summary tally's open periods
across a step (or over a state saved under a wrong clock), so a step in either direction neither
stalls, repeats nor closes a period early. No IO here: whether the system clock is synchronised is
the service's question (``agent/service/clock_sync.py``), answered as a :data:`ClockState`.
"""

from __future__ import annotations

import time
from typing import Any, Literal

STEP_TOLERANCE_S = 2.0
"""A wall-clock delta that differs from the monotonic one by more than this is a step (NTP slews
at most 0.5 ms per second; a tick is 1 s)."""

ClockState = Literal["synced", "unsynced", "free"]
"""``synced``: an NTP client disciplines the clock. ``unsynced``: one runs but has not synchronised
yet (the clock may be hours or days off). ``free``: nothing disciplines it (no NTP client): it is
trusted as it is, and reported unsynchronised."""

_OFFSET = time.time() - time.monotonic()
"""Wall minus monotonic when the process started: agent time's origin."""


def agent_now() -> float:
    """Agent time: the monotonic clock on the wall clock's scale at the start; never steps."""
    return time.monotonic() + _OFFSET


class StepWatch:
    """Detects wall-clock steps: the wall clock moved by more (or less) than the monotonic one."""

    def __init__(self, tolerance_s: float = STEP_TOLERANCE_S) -> None:
        self.tolerance_s = tolerance_s
        self._last: tuple[float, float] | None = None
        self.steps = 0
        """Steps seen so far."""
        self.last_step: float | None = None
        """The last step's size, seconds (negative: the clock went back)."""

    def check(self, wall: float, mono: float) -> float:
        """Seconds the wall clock stepped since the last call (0.0 when it did not)."""
        last, self._last = self._last, (wall, mono)
        if last is None:
            return 0.0
        step = (wall - last[0]) - (mono - last[1])
        if abs(step) <= self.tolerance_s:
            return 0.0
        self.steps += 1
        self.last_step = step
        return step


# -- the summary tally across a step (its JSON state; no dependency on its class) -----------------
def _period_state(old: dict[str, Any], bounds: tuple[float, float, str]) -> dict[str, Any]:
    start, end, date = bounds
    return {**old, "start": start, "end": end, "date": date}


def rebase_tally(
    state: dict[str, Any],
    now: float,
    slot: tuple[float, float, str],
    day: tuple[float, float, str],
) -> dict[str, Any]:
    """The tally ``state`` after a wall-clock step to ``now`` (``slot``/``day``: the bounds of the
    periods holding ``now``): what the open period and day counted under the old clock is carried
    into the periods the corrected clock says it is in, instead of closing them (a step forward
    would close the day early) or waiting for them to end (a step back would stall the summaries
    for as long as the step). Open problem alerts count from ``now``; ``alive`` is ``now``.

    A period still holding ``now`` is left as it is (a small step within the period)."""
    out = dict(state)
    for key, bounds in (("slot", slot), ("day", day)):
        p = state[key]
        if not float(p["start"]) <= now < float(p["end"]):
            out[key] = _period_state(p, bounds)
    out["alive"] = now
    out["since"] = {g: now for g in state.get("since", {})}
    out["open"] = {k: [v[0], now] for k, v in state.get("open", {}).items()}
    return out


def made_under_a_wrong_clock(state: dict[str, Any], now: float, tolerance_s: float) -> bool:
    """A saved tally from the future: saved before the clock was stepped back (an NTP correction
    of a clock that ran ahead). Resuming it as it is would hold the summaries until the wall clock
    catches up with it."""
    try:
        alive = float(state["alive"])
        start = min(float(state["slot"]["start"]), float(state["day"]["start"]))
    except (KeyError, TypeError, ValueError):
        return False
    return alive > now + tolerance_s or start > now + tolerance_s


def wall_of(at: float) -> float:
    """The wall-clock label of an agent time, with the steps so far (the clinic's hours, ``ts``)."""
    return at + (time.time() - agent_now())

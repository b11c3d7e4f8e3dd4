"""Synthetic thermometer traces with known truth: what a sensor sees as people step up and leave.

A trace is a list of :class:`Sample` (time, object and ambient temperature as the sensor would
report them) plus the :class:`Presentation` list that produced it, with each presentation's true
plateau. Host only (CPython): the emulator streams traces over a pty and tests compare the agent's
results against the truth.

Model of one presentation: the object temperature approaches the person's skin temperature
exponentially (time constant ``tau_s``: the person moves in, the sensor's IIR filter settles),
holds a noisy plateau (Gaussian noise, quantised to the MLX90614's 0.02 K resolution), then decays
back to the idle level as the person leaves. Glitches are isolated outliers (a hand, a reflection)
and sensor read errors (``object_c`` None), never during the rise or fall.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from typing import Literal

Label = Literal["normal", "fever", "invalid"]
SCENARIOS: tuple[str, ...] = ("idle", "normal", "fever", "mixed", "glitch", "queue", "clinic")
"""``queue``: a line stepping up every few seconds, many fevers (streams for tests); ``clinic``: a
believable desk, a person every 25-60 s and few fevers (demos)."""


CLINIC_PEOPLE = 30
"""People in one loop of the ``clinic`` trace (about 25 minutes)."""


@dataclass(frozen=True, slots=True)
class Sample:
    """One sensor sample; ``t`` in seconds from the trace start, ``object_c`` None on read error."""

    t: float
    object_c: float | None
    ambient_c: float


@dataclass(frozen=True, slots=True)
class Presentation:
    """Truth about one person stepping up (times in trace seconds)."""

    start: float
    end: float
    plateau_start: float
    plateau_end: float
    plateau_c: float
    """True object temperature of the plateau (what a perfect estimator reports, no compensation)."""
    label: Label
    """Expected classification with compensation off and the default thresholds."""


@dataclass(frozen=True, slots=True)
class Trace:
    """A whole scenario: samples at a fixed period and the presentations behind them."""

    scenario: str
    seed: int
    period_s: float
    samples: tuple[Sample, ...]
    presentations: tuple[Presentation, ...]

    @property
    def duration_s(self) -> float:
        """Time of the last sample plus one period."""
        return self.samples[-1].t + self.period_s if self.samples else 0.0


class _Builder:
    def __init__(self, seed: int, period_s: float, glitch_rate: float) -> None:
        self.rng = random.Random(seed)
        self.period_s = period_s
        self.glitch_rate = glitch_rate
        self.ambient_base = self.rng.uniform(21.0, 26.0)
        self.idle_offset = self.rng.uniform(0.3, 0.8)
        self.samples: list[Sample] = []
        self.presentations: list[Presentation] = []
        self.t = 0.0

    def _ambient(self) -> float:
        drift = 0.2 * math.sin(2 * math.pi * self.t / 90.0)
        return round(self.ambient_base + drift + self.rng.gauss(0, 0.02), 2)

    def _quantise(self, value: float) -> float:
        return round(round(value / 0.02) * 0.02, 2)

    def _push(self, obj: float | None, glitches: bool) -> None:
        amb = self._ambient()
        if obj is not None and glitches and self.rng.random() < self.glitch_rate:
            if self.rng.random() < 0.3:
                obj = None
            else:
                obj = obj + self.rng.choice((-12.0, -6.0, 4.0, 9.0))
        self.samples.append(
            Sample(round(self.t, 4), None if obj is None else self._quantise(obj), amb)
        )
        self.t += self.period_s

    def idle(self, seconds: float, glitches: bool = True) -> None:
        for _ in range(round(seconds / self.period_s)):
            self._push(self._ambient() + self.idle_offset + self.rng.gauss(0, 0.05), glitches)

    def person(
        self, plateau_c: float, label: Label, plateau_s: float, noise_c: float = 0.05
    ) -> None:
        rise_s, fall_s, tau_s = 0.8, 0.8, 0.13
        start = self.t
        level0 = self.ambient_base + self.idle_offset
        for i in range(round(rise_s / self.period_s)):
            x = level0 + (plateau_c - level0) * (1 - math.exp(-(i + 1) * self.period_s / tau_s))
            self._push(x + self.rng.gauss(0, noise_c), glitches=False)
        p_start = self.t
        for _ in range(round(plateau_s / self.period_s)):
            self._push(plateau_c + self.rng.gauss(0, noise_c), glitches=True)
        p_end = self.t
        for i in range(round(fall_s / self.period_s)):
            x = level0 + (plateau_c - level0) * math.exp(-(i + 1) * self.period_s / tau_s)
            self._push(x + self.rng.gauss(0, noise_c), glitches=False)
        self.presentations.append(
            Presentation(
                start=round(start, 4),
                end=round(self.t, 4),
                plateau_start=round(p_start, 4),
                plateau_end=round(p_end, 4),
                plateau_c=plateau_c,
                label=label,
            )
        )

    def normal(self) -> None:
        self.person(round(self.rng.uniform(35.0, 36.9), 2), "normal", self.rng.uniform(2.5, 4.0))

    def fever(self) -> None:
        self.person(round(self.rng.uniform(37.6, 39.0), 2), "fever", self.rng.uniform(2.5, 4.0))

    def cold(self) -> None:
        """Hair, a hat or a cold forehead: clearly above ambient but not a plausible body reading."""
        self.person(round(self.rng.uniform(31.5, 33.6), 2), "invalid", self.rng.uniform(2.5, 4.0))

    def line(
        self,
        people: int,
        shares: tuple[tuple[Literal["normal", "fever", "cold"], float], ...],
        gap_s: tuple[float, float],
    ) -> None:
        """``people`` step up one after another, each drawn by ``shares`` (in order, summing to
        1), with a uniform gap of ``gap_s`` after each."""
        step = {"normal": self.normal, "fever": self.fever, "cold": self.cold}
        for _ in range(people):
            r, kind = self.rng.random(), shares[-1][0]
            for name, share in shares:
                if r < share:
                    kind = name
                    break
                r -= share
            step[kind]()
            self.idle(self.rng.uniform(*gap_s))


def generate(
    scenario: str = "mixed", seed: int = 0, period_s: float = 0.1, glitch_rate: float | None = None
) -> Trace:
    """Build the named scenario (one of :data:`SCENARIOS`); same seed, same trace."""
    if scenario not in SCENARIOS:
        raise ValueError(f"unknown scenario {scenario!r}; choose one of {', '.join(SCENARIOS)}")
    rate = glitch_rate if glitch_rate is not None else (0.06 if scenario == "glitch" else 0.01)
    b = _Builder(seed, period_s, rate)
    if scenario == "idle":
        b.idle(20.0)
    elif scenario == "normal":
        b.idle(3.0)
        b.normal()
        b.idle(3.0)
    elif scenario == "fever":
        b.idle(3.0)
        b.fever()
        b.idle(3.0)
    elif scenario in ("mixed", "glitch"):
        b.idle(3.0)
        b.normal()
        b.idle(2.5)
        b.fever()
        b.idle(2.0)
        b.cold()
        b.idle(2.0)
        b.normal()
        b.idle(3.0)
    elif scenario == "clinic":  # a believable desk: about one person a minute, few fevers
        b.idle(2.0)
        b.line(CLINIC_PEOPLE, (("fever", 0.05), ("cold", 0.05), ("normal", 0.9)), (25.0, 60.0))
    else:  # queue: a line of people, short gaps
        b.idle(2.0)
        b.line(12, (("normal", 0.6), ("fever", 0.3), ("cold", 0.1)), (1.5, 3.0))
    return Trace(scenario, seed, period_s, tuple(b.samples), tuple(b.presentations))

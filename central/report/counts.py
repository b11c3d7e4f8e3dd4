"""Counting a window's events per desk: screened, fevers, invalid, arrivals, peak, alerts raised.

One pass over stored ``temperature``, ``occupancy`` and ``alert`` events. ``screened`` counts
valid results (normal + fever); ``invalid`` (re-measure asked) is counted on its own. ``arrivals``
is the sum of ``people`` in periodic occupancy events (distinct people first seen in each window);
``peak`` the highest ``count``/``max`` reported; of the mask alerts raised, ``worn_wrong`` those for a
mask worn wrong (central/store/rollups.py ``is_worn_wrong``). Optional fields are read defensively.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

from central.report.kinds import kind_of
from central.store.reader import Stored
from central.store.rollups import is_worn_wrong

COUNTED_KINDS = ("temperature", "occupancy", "alert")


@dataclass(frozen=True, slots=True)
class Counts:
    """Counts over a window for one desk (or summed over a clinic)."""

    screened: int = 0
    fevers: int = 0
    invalid: int = 0
    arrivals: int = 0
    peak: int = 0
    raised: dict[str, int] = field(default_factory=dict)
    """Alerts raised, by alert name."""
    worn_wrong: dict[str, int] = field(default_factory=dict)
    """Of those, mask alerts raised for a mask worn wrong, by alert name (names with none absent)."""

    @property
    def problems(self) -> int:
        """Alerts raised that are problems (central/report/kinds.py): a fever is a screening
        result, not a problem."""
        return sum(n for name, n in self.raised.items() if kind_of(name) is not None)

    @property
    def screening_alerts(self) -> int:
        return sum(n for name, n in self.raised.items() if kind_of(name) is None)

    def plus(self, other: Counts) -> Counts:
        raised = Counter(self.raised)
        raised.update(other.raised)
        worn_wrong = Counter(self.worn_wrong)
        worn_wrong.update(other.worn_wrong)
        return Counts(
            self.screened + other.screened,
            self.fevers + other.fevers,
            self.invalid + other.invalid,
            self.arrivals + other.arrivals,
            max(self.peak, other.peak),
            dict(sorted(raised.items())),
            dict(sorted(worn_wrong.items())),
        )


class Tally:
    """Accumulates :class:`Counts` from events, one desk or many."""

    def __init__(self) -> None:
        self.results: Counter[str] = Counter()
        self.arrivals = 0
        self.peak = 0
        self.raised: Counter[str] = Counter()
        self.worn_wrong: Counter[str] = Counter()

    def add(self, e: Stored) -> None:
        if e.kind == "temperature":
            result = e.doc.get("result")
            self.results[result if isinstance(result, str) else "unknown"] += 1
        elif e.kind == "occupancy":
            peak = max(e.integer("count"), e.integer("max"))
            self.peak = max(self.peak, peak)
            if e.number("window_s") is not None:
                self.arrivals += e.integer("people")
        elif e.kind == "alert" and e.state == "raised" and e.alert:
            self.raised[e.alert] += 1
            if is_worn_wrong(e):
                self.worn_wrong[e.alert] += 1

    def counts(self) -> Counts:
        return Counts(
            screened=self.results["normal"] + self.results["fever"],
            fevers=self.results["fever"],
            invalid=self.results["invalid"],
            arrivals=self.arrivals,
            peak=self.peak,
            raised=dict(sorted(self.raised.items())),
            worn_wrong=dict(sorted(self.worn_wrong.items())),
        )


def per_desk(events: Iterable[Stored]) -> dict[tuple[str, str], Counts]:
    """Counts per (site, desk) of ``events`` (other kinds are ignored)."""
    tallies: dict[tuple[str, str], Tally] = {}
    for e in events:
        if e.kind in COUNTED_KINDS:
            tallies.setdefault(e.key, Tally()).add(e)
    return {k: t.counts() for k, t in sorted(tallies.items())}

"""Screening coverage and registration scans of a desk's day, from its stored ``summary`` events.

A box with a camera and a thermometer counts, per period and per local day, the arrivals it
matched to a temperature result (``arrivals_screened``) and those it did not
(``arrivals_unscreened``); a box with a registration scanner counts ``scans`` (docs/EVENTS.md,
``summary`` and ``coverage``). The collector stores every summary whole (central/store/records.py),
old ones (without these fields) and new ones alike; nothing is rolled up, since a day's figures are
in the box's own day summary. How a day's figures are read (docs/EVENTS.md, "Building a day's
table"): the day summary (``period`` ``day``) when it came, else the sum of that date's periodic
summaries so far, each (``period``, ``date``, ``start``) counted once (the highest ``seq`` kept).

Coverage = screened / (screened + unscreened), None when the box sent no such figures or nobody
arrived. Readers are defensive: a field that is absent, negative or not an integer adds nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

FIELDS = ("arrivals_screened", "arrivals_unscreened", "scans")
"""The summary fields read here (absent from boxes before issue 23)."""


@dataclass(frozen=True, slots=True)
class Coverage:
    """A desk's counted entry facts over a day (or a sum of days); None: not reported."""

    screened: int | None = None
    unscreened: int | None = None
    scans: int | None = None

    @property
    def arrivals(self) -> int | None:
        if self.screened is None and self.unscreened is None:
            return None
        return (self.screened or 0) + (self.unscreened or 0)

    @property
    def percent(self) -> float | None:
        """Arrivals screened, % (one decimal); None without figures or arrivals."""
        n = self.arrivals
        if not n:
            return None
        return round(100.0 * (self.screened or 0) / n, 1)

    def __add__(self, other: Coverage) -> Coverage:
        return Coverage(*(_add(getattr(self, f), getattr(other, f)) for f in self.__slots__))


def _add(a: int | None, b: int | None) -> int | None:
    return b if a is None else a if b is None else a + b


def _count(doc: Mapping[str, Any], name: str) -> int | None:
    v = doc.get(name)
    if isinstance(v, bool) or not isinstance(v, int) or v < 0:
        return None
    return v


def _seq(doc: Mapping[str, Any]) -> int:
    seq = doc.get("seq")
    return seq if isinstance(seq, int) else -1


def of_summary(doc: Mapping[str, Any]) -> Coverage:
    """The coverage figures of one ``summary`` payload (all None for an old summary)."""
    screened, unscreened, scans = (_count(doc, f) for f in FIELDS)
    return Coverage(screened, unscreened, scans)


def day_coverage(summaries: Iterable[Mapping[str, Any]], date: str) -> Coverage:
    """One desk's figures for local ``date`` (``YYYY-MM-DD``) from its ``summary`` payloads."""
    periods: dict[tuple[str, str], Mapping[str, Any]] = {}
    for doc in summaries:
        if doc.get("date") != date or not isinstance(doc.get("period"), str):
            continue
        key = (str(doc["period"]), str(doc.get("start")))
        kept = periods.get(key)
        if kept is None or _seq(doc) > _seq(kept):
            periods[key] = doc
    days = [d for (period, _), d in periods.items() if period == "day"]
    chosen = days[:1] or list(periods.values())
    total = Coverage()
    for doc in chosen:
        total = total + of_summary(doc)
    return total

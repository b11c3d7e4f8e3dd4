"""Sequence gaps per box seen by this collector: events a box numbered that never arrived.

Every box numbers its events 1, 2, 3... and never reuses a number (docs/EVENTS.md), so numbers
missing between the lowest and the highest a collector stored are events lost on the way (evicted
on the box, or dropped by a broker whose queue overflowed). Counted per (site, desk, device) over
the rows that were new, so redeliveries do not hide a gap. With several collectors on a shared
subscription each sees part of the numbers: use the fleet page's figure (from the database).

One gap is not a loss: each connection's MQTT Will takes the number after its ``online`` status
and is published only if that connection is lost (docs/EVENTS.md, "What a gap in seq means"), so
the number after an ``online`` that never arrives is not counted.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(slots=True)
class _Span:
    low: int
    high: int
    count: int
    wills: set[int] = field(default_factory=set)
    """Numbers after an ``online`` status not seen (yet): an unpublished Will, not a loss."""

    @property
    def missing(self) -> int:
        unpublished = sum(1 for w in self.wills if self.low <= w <= self.high)
        return max(0, self.high - self.low + 1 - self.count - unpublished)


class SeqGaps:
    """Lowest, highest and count of the sequence numbers stored per box."""

    def __init__(self) -> None:
        self._spans: dict[tuple[str, str, str], _Span] = {}

    def add(
        self, site: str, desk: str, device: str | None, seq: int | None, online: bool = False
    ) -> None:
        """One stored event; ``online`` for an ``online`` status (its next number is the Will's)."""
        if seq is None:
            return
        key = (site, desk, device or "")
        span = self._spans.get(key)
        if span is None:
            span = self._spans[key] = _Span(seq, seq, 0)
        span.low, span.high, span.count = min(span.low, seq), max(span.high, seq), span.count + 1
        span.wills.discard(seq)  # a Will published after all is a number like any other
        if online:  # a box's messages arrive in order: its Will, if ever, comes after
            span.wills.add(seq + 1)

    @property
    def missing(self) -> int:
        """Numbers missing, summed over every box."""
        return sum(s.missing for s in self._spans.values())

    def desks_with_gaps(self) -> list[tuple[str, str, int]]:
        """(site, desk, missing) for every box with a gap, most missing first."""
        out = [(k[0], k[1], s.missing) for k, s in self._spans.items() if s.missing]
        return sorted(out, key=lambda x: (-x[2], x[0], x[1]))

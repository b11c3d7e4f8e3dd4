"""A simple multi-object tracker: stable ids for boxes across frames, and per-track mask smoothing.

Boxes of a new frame are matched to live tracks greedily, best IoU first (IoU >= ``min_iou``), then by
centroid distance (within ``max_shift`` box sizes) for fast movers. Unmatched boxes start new tracks;
a track becomes *confirmed* after ``min_hits`` detections (one-frame false positives never count),
tolerates missed detections and is forgotten ``forget_after_s`` seconds after it was last seen. So one
person standing at the desk for a minute is one track, counted once.

Each track smooths its mask probabilities with an exponential moving average and switches state with
hysteresis: it settles after ``min_votes`` votes, then flips to ``masked`` only above ``high`` and
to ``unmasked`` only below ``low``, so a flickering classifier does not flicker the state.
Boxes stay in process memory: nothing here is ever published.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

from agent.vision.findings import Box
from agent.vision.geometry import iou, shift

Settled = Literal["masked", "unmasked"]


@dataclass(slots=True)
class MaskVote:
    """Smoothed mask probability of one track with hysteresis."""

    alpha: float = 0.35
    low: float = 0.35
    high: float = 0.65
    min_votes: int = 3
    ema: float | None = None
    votes: int = 0
    state: Settled | None = None
    since: float | None = None
    """When ``state`` last changed (POSIX seconds)."""

    def add(self, prob: float, at: float) -> None:
        """One more P(masked) observation at time ``at``."""
        self.ema = prob if self.ema is None else self.alpha * prob + (1 - self.alpha) * self.ema
        self.votes += 1
        if self.votes < self.min_votes:
            return
        new: Settled | None = self.state
        if self.state is None:
            new = "masked" if self.ema >= 0.5 else "unmasked"
        elif self.state == "unmasked" and self.ema >= self.high:
            new = "masked"
        elif self.state == "masked" and self.ema <= self.low:
            new = "unmasked"
        if new != self.state:
            self.state = new
            self.since = at


@dataclass(slots=True)
class Track:
    """One tracked object (face or person). Mutable, owned by the tracker."""

    id: int
    box: Box
    first_seen: float
    last_seen: float
    hits: int = 1
    mask: MaskVote = field(default_factory=MaskVote)

    def confirmed(self, min_hits: int) -> bool:
        """Seen often enough to count."""
        return self.hits >= min_hits


class Tracker:
    """IoU/centroid tracker with miss tolerance and a forget timeout."""

    def __init__(
        self,
        *,
        min_iou: float = 0.2,
        max_shift: float = 1.0,
        min_hits: int = 2,
        forget_after_s: float = 2.0,
    ) -> None:
        self.min_iou = min_iou
        self.max_shift = max_shift
        self.min_hits = min_hits
        self.forget_after_s = forget_after_s
        self._tracks: dict[int, Track] = {}
        self._next_id = 1

    def update(
        self, boxes: Sequence[Box], at: float, mask_probs: Sequence[float | None] | None = None
    ) -> list[Track]:
        """Match ``boxes`` (one frame at ``at``) to tracks; return the tracks seen in this frame.

        ``mask_probs[i]`` (when given and not None) is a mask vote for the track of ``boxes[i]``.
        """
        self.expire(at)
        probs = list(mask_probs) if mask_probs is not None else [None] * len(boxes)
        tracks = list(self._tracks.values())
        pairs: dict[int, Track] = {}
        taken: set[int] = set()
        candidates = sorted(
            ((iou(t.box, b), ti, bi) for ti, t in enumerate(tracks) for bi, b in enumerate(boxes)),
            reverse=True,
        )
        for score, ti, bi in candidates:
            if score < self.min_iou:
                break
            if bi in pairs or tracks[ti].id in taken:
                continue
            pairs[bi] = tracks[ti]
            taken.add(tracks[ti].id)
        near = sorted(
            (shift(t.box, b), ti, bi)
            for ti, t in enumerate(tracks)
            for bi, b in enumerate(boxes)
            if bi not in pairs and t.id not in taken
        )
        for dist, ti, bi in near:
            if dist > self.max_shift:
                break
            if bi in pairs or tracks[ti].id in taken:
                continue
            pairs[bi] = tracks[ti]
            taken.add(tracks[ti].id)
        seen: list[Track] = []
        for bi, box in enumerate(boxes):
            track = pairs.get(bi)
            if track is None:
                track = Track(self._next_id, box, at, at)
                self._next_id += 1
                self._tracks[track.id] = track
            else:
                track.box = box
                track.last_seen = at
                track.hits += 1
            prob = probs[bi] if bi < len(probs) else None
            if prob is not None:
                track.mask.add(prob, at)
            seen.append(track)
        return seen

    def expire(self, now: float) -> list[Track]:
        """Forget tracks not seen for ``forget_after_s``; return the forgotten ones."""
        gone = [t for t in self._tracks.values() if now - t.last_seen > self.forget_after_s]
        for t in gone:
            del self._tracks[t.id]
        return gone

    def present(self, now: float | None = None, within_s: float | None = None) -> list[Track]:
        """Confirmed live tracks, oldest first: all of them (including ones briefly missed), or
        only those seen within ``within_s`` seconds before ``now`` when both are given."""
        return sorted(
            (
                t
                for t in self._tracks.values()
                if t.confirmed(self.min_hits)
                and (now is None or within_s is None or now - t.last_seen <= within_s)
            ),
            key=lambda t: t.id,
        )

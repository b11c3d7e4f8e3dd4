"""A simple multi-object tracker: stable ids for boxes across frames, and per-track mask smoothing.

Boxes of a new frame are matched to live tracks greedily, best IoU first (IoU >= ``min_iou``), then by
centroid distance (within ``max_shift`` box sizes) for fast movers. Unmatched boxes start new tracks;
a track becomes *confirmed* after ``min_hits`` detections (one-frame false positives never count),
tolerates missed detections and is forgotten ``forget_after_s`` seconds after it was last seen. So one
person standing at the desk for a minute is one track, counted once.

Each track smooths its mask probabilities with an exponential moving average and switches state with
hysteresis: it settles after ``min_votes`` votes, then flips to ``masked`` only above ``high`` and
to not masked only below ``low``, so a flickering classifier does not flicker the state. Not masked
is ``worn_wrong`` (a mask worn wrong: nose or mouth uncovered) or ``unmasked`` by the smoothed share
of P(worn wrong) in P(not masked), with the same hysteresis; a mask model with two verdicts never
says ``worn_wrong``.
Boxes stay in process memory: nothing here is ever published.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from agent.vision.findings import Box, MaskVerdict
from agent.vision.geometry import iou, shift

Settled = MaskVerdict
"""A track's settled mask state (:data:`~agent.vision.findings.MaskVerdict`)."""


@dataclass(slots=True)
class MaskVote:
    """Smoothed mask probabilities of one track with hysteresis."""

    alpha: float = 0.35
    low: float = 0.35
    high: float = 0.65
    min_votes: int = 3
    ema: float | None = None
    """Smoothed P(masked)."""
    wrong_ema: float = 0.0
    """Smoothed P(a mask worn wrong)."""
    votes: int = 0
    state: Settled | None = None
    since: float | None = None
    """When the track last became masked or not masked (POSIX seconds); a change between
    ``worn_wrong`` and ``unmasked`` keeps it (the person has been not compliant since then)."""

    def add(self, prob: float, at: float, worn_wrong: float = 0.0) -> None:
        """One more P(masked) (and P(mask worn wrong)) observation at time ``at``."""
        if self.ema is None:
            self.ema, self.wrong_ema = prob, worn_wrong
        else:
            self.ema = self.alpha * prob + (1 - self.alpha) * self.ema
            self.wrong_ema = self.alpha * worn_wrong + (1 - self.alpha) * self.wrong_ema
        self.votes += 1
        if self.votes < self.min_votes:
            return
        masked = self.state == "masked"
        if self.state is None:
            masked = self.ema >= 0.5
        elif not masked and self.ema >= self.high:
            masked = True
        elif masked and self.ema <= self.low:
            masked = False
        new: Settled = "masked" if masked else self._not_masked()
        if self.state is None or (new == "masked") != (self.state == "masked"):
            self.since = at
        self.state = new

    def _not_masked(self) -> Settled:
        """``worn_wrong`` or ``unmasked``: by the share of P(worn wrong) in P(not masked), with
        hysteresis (``high``/``low``) once one of them is settled."""
        rest = max(1.0 - (self.ema or 0.0), 1e-6)
        share = min(1.0, self.wrong_ema / rest)
        if self.state == "worn_wrong":
            return "unmasked" if share <= self.low else "worn_wrong"
        if self.state == "unmasked":
            return "worn_wrong" if share >= self.high else "unmasked"
        return "worn_wrong" if share >= 0.5 else "unmasked"


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
        self,
        boxes: Sequence[Box],
        at: float,
        mask_probs: Sequence[float | None] | None = None,
        worn_wrong_probs: Sequence[float] | None = None,
    ) -> list[Track]:
        """Match ``boxes`` (one frame at ``at``) to tracks; return the tracks seen in this frame.

        ``mask_probs[i]`` (when given and not None) is a mask vote for the track of ``boxes[i]``,
        with ``worn_wrong_probs[i]`` its P(mask worn wrong) when given (else 0).
        """
        self.expire(at)
        probs = list(mask_probs) if mask_probs is not None else [None] * len(boxes)
        wrong = list(worn_wrong_probs) if worn_wrong_probs is not None else [0.0] * len(boxes)
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
                track.mask.add(prob, at, wrong[bi] if bi < len(wrong) else 0.0)
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

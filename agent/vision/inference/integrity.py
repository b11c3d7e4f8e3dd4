"""Camera integrity (tamper) checks: is the camera covered, too dark, out of focus, or moved?

Pure numpy/OpenCV, no models. Each checked frame is reduced to a small grey image
(:data:`ANALYSIS_WIDTH` pixels wide) and contrast-normalised (1st..99th percentile stretched to
0..255, so a low gain does not read as blur or as a covered lens). From it:

- **covered** (or blacked out): the share of the frame that is featureless. The frame is cut into a
  :data:`GRID_COLS` x :data:`GRID_ROWS` grid; a cell is flat when its normalised standard deviation
  is below :data:`FLAT_STD`. A frame whose whole brightness range is under :data:`MIN_CONTRAST`
  levels is entirely flat. With a reference only the cells that were textured when commissioned
  count (a plain wall in view is not a cover), without one all cells do.
- **dark** (too dark to analyse): the mean brightness (0..255), an absolute threshold.
- **blurred** (out of focus, smeared): the Laplacian energy per textured cell. With a reference,
  the median over cells of (now / commissioned) energy, so a person walking through a few cells
  does not move it; without one, the median absolute energy of the textured cells.
- **moved** (re-aimed): the share of the reference's landmarks (ORB keypoints that were stable over
  the commissioning frames) found again within :data:`MATCH_RADIUS_PX` of their place with a
  similar descriptor; that is the inlier ratio of the identity transform. People in front of the
  background hide some landmarks, a turned camera moves all of them. Needs a reference.

:class:`IntegrityChecker` keeps the last ``window`` measurements (numbers only, never a frame) and
decides on their medians, with a precedence: a covered frame cannot be judged dark, blurred or
moved; a dark one not blurred or moved; a blurred one not moved (those are ``unknown``). The
:class:`Reference` holds landmark positions and descriptors and per-cell statistics; it is not an
image and cannot be turned back into one. It is saved with :func:`save_reference` (``.npz``, no
pickle). Raising alerts after a delay is the integrity analyser's job, not this module's.

Three modules, one job each: :mod:`~agent.vision.inference.integrity_measures` (one frame to
numbers), :mod:`~agent.vision.inference.integrity_reference` (the commissioned reference and its
file) and this one (thresholds, and the decisions over recent frames).
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from statistics import median

import numpy as np

from agent.vision.config import IntegrityConfig
from agent.vision.findings import Basis, Frame, IntegrityFindings, IntegrityVerdict
from agent.vision.inference.integrity_measures import Measurement, measure
from agent.vision.inference.integrity_reference import Reference


@dataclass(frozen=True, slots=True)
class IntegrityThresholds:
    """When a check fails (the integrity config maps onto this)."""

    covered_share: float = 0.6
    covered_share_uncommissioned: float = 0.85
    """Without a reference a plain wall cannot be told from a cover: only a nearly featureless
    frame is covered."""
    """Share of (textured) grid cells that are featureless at or above which the camera is covered."""
    dark_luma: float = 35.0
    """Mean brightness (0..255) below which the frame is too dark to analyse."""
    blur_ratio: float = 0.3
    """With a reference: sharpness below this share of the commissioned sharpness is blurred."""
    blur_min_sharpness: float = 400.0
    """Without a reference: median Laplacian energy of textured cells below this is blurred."""
    moved_min_match: float = 0.15
    """With a reference: share of landmarks in place (over ``moved_window``) below which the view
    no longer matches (turned away)."""
    moved_min_shift: float = 0.015
    """With a reference: a view displaced by at least this share of the frame width has moved."""
    window: int = 5
    """Decide on the median of this many recent checks."""
    moved_window: int = 30
    """A landmark counts as in place when found in any of this many recent checks (people walking
    through hide different landmarks from one check to the next; a moved camera loses them all)."""


def thresholds(cfg: IntegrityConfig) -> IntegrityThresholds:
    """The detector thresholds of the integrity config."""
    return IntegrityThresholds(
        covered_share=cfg.covered_share,
        covered_share_uncommissioned=cfg.covered_share_uncommissioned,
        dark_luma=cfg.dark_luma,
        blur_ratio=cfg.blur_ratio,
        blur_min_sharpness=cfg.blur_min_sharpness,
        moved_min_match=cfg.moved_min_match,
        moved_min_shift=cfg.moved_min_shift,
        window=cfg.window,
        moved_window=cfg.moved_window,
    )


# -- decisions over recent frames ------------------------------------------------------------------
def _median(values: Sequence[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return float(median(present)) if present else None


def _union_match(measurements: Sequence[Measurement]) -> float | None:
    """Share of landmarks found in place in at least one of ``measurements``."""
    found = [m.found for m in measurements if m.found is not None]
    if not found or any(f.shape != found[0].shape for f in found):
        return None
    return float(np.logical_or.reduce(found).mean())


@dataclass
class IntegrityChecker:
    """Measures frames and decides the four checks on the median of the last ``window`` ones."""

    thresholds: IntegrityThresholds = field(default_factory=IntegrityThresholds)
    reference: Reference | None = None
    _recent: deque[Measurement] = field(init=False)

    def __post_init__(self) -> None:
        self._recent = deque(maxlen=max(1, self.thresholds.window, self.thresholds.moved_window))

    def check(self, frame: Frame, at: float) -> IntegrityFindings:
        """Measure ``frame`` (captured at ``at``) and return the verdicts on the recent frames."""
        started = time.perf_counter()
        m = measure(frame, self.reference)
        if self._recent and self._recent[-1].shape != m.shape:
            self._recent.clear()  # the camera changed resolution: old figures do not compare
        self._recent.append(m)
        verdicts = self.decide()
        return IntegrityFindings(
            at=at,
            verdicts=verdicts,
            commissioned=self.commissioned_for(m.shape),
            check_ms=(time.perf_counter() - started) * 1000.0,
        )

    def commissioned_for(self, shape: tuple[int, int]) -> bool:
        """A reference exists, matches this analysis size and has enough landmarks."""
        ref = self.reference
        return ref is not None and (ref.height, ref.width) == shape and ref.can_judge_moves

    def decide(self) -> tuple[IntegrityVerdict, ...]:
        """The verdicts on the median of the recent measurements, with the precedence rules."""
        t = self.thresholds
        every = list(self._recent)
        if not every:
            raise ValueError("no measurement yet")
        recent = every[-max(1, t.window) :]
        shape = recent[-1].shape
        ref = self.reference if self.reference is not None else None
        ref_usable = ref is not None and (ref.height, ref.width) == shape
        basis: Basis = "reference" if ref_usable else "absolute"
        flat = _median([m.flat_share for m in recent]) or 0.0
        luma = _median([m.luma for m in recent]) or 0.0
        sharp = _median([m.sharpness for m in recent])
        match = _union_match(every[-max(1, t.moved_window) :])

        cover_limit = t.covered_share if ref_usable else t.covered_share_uncommissioned
        covered = flat >= cover_limit
        out = [IntegrityVerdict("covered", "failed" if covered else "ok", flat, cover_limit, basis)]
        if covered:
            out.append(
                IntegrityVerdict("dark", "unknown", luma, t.dark_luma, "absolute", "covered")
            )
            dark = False
        else:
            dark = luma < t.dark_luma
            out.append(
                IntegrityVerdict("dark", "failed" if dark else "ok", luma, t.dark_luma, "absolute")
            )
        blur_limit = t.blur_ratio if ref_usable else t.blur_min_sharpness
        blurred = False
        if covered or dark:
            why = "covered" if covered else "dark"
            out.append(IntegrityVerdict("blurred", "unknown", sharp, blur_limit, basis, why))
        elif sharp is None:
            out.append(
                IntegrityVerdict(
                    "blurred", "unknown", None, blur_limit, basis, "no texture in view"
                )
            )
        else:
            blurred = sharp < blur_limit
            out.append(
                IntegrityVerdict("blurred", "failed" if blurred else "ok", sharp, blur_limit, basis)
            )
        if not ref_usable or ref is None:
            why_moved = (
                "not commissioned" if ref is None else "reference made at another resolution"
            )
            out.append(
                IntegrityVerdict("moved", "unknown", None, t.moved_min_match, basis, why_moved)
            )
        elif not ref.can_judge_moves:
            out.append(
                IntegrityVerdict(
                    "moved",
                    "unknown",
                    None,
                    t.moved_min_match,
                    basis,
                    "too few landmarks in reference",
                )
            )
        elif covered or dark or blurred:
            why = "covered" if covered else "dark" if dark else "blurred"
            out.append(IntegrityVerdict("moved", "unknown", match, t.moved_min_match, basis, why))
        else:
            shift = _median([m.shift for m in recent])
            moved = (match is not None and match < t.moved_min_match) or (
                shift is not None and shift >= t.moved_min_shift
            )
            out.append(
                IntegrityVerdict(
                    "moved",
                    "failed" if moved else "ok",
                    match,
                    t.moved_min_match,
                    basis,
                    shift=shift,
                )
            )
        return tuple(out)

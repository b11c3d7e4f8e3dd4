"""What the vision models find in one frame, and the seams between models and the rest of vision.

These value objects stay inside the process: face boxes are used for tracking and mask state, and
are never put into an event, a log line or a diagnostic (see docs/PRIVACY in docs/ARCHITECTURE.md).

- :class:`FaceDetector` plugins (one per model family) turn a BGR frame into face :class:`Box` es,
  optionally with a mask probability when the family classifies masks itself (AIZOO-style SSD).
- :class:`MaskClassifier` turns a face crop into :class:`MaskProbs`: P(masked) and P(mask worn
  wrong).
- :class:`PersonDetector` plugins turn a frame into person boxes (for occupancy).
- :class:`SceneInference` combines them: ``analyse(frame) -> SceneFindings``.
- :class:`IntegrityFindings` are the camera tamper checks' verdicts (numbers only), made by the
  worker's :class:`~agent.vision.inference.integrity.IntegrityChecker` and consumed by the
  analysers.

Both kinds of findings are what the vision worker emits and the analysers consume, so they sit
below :mod:`agent.vision.inference` and :mod:`agent.vision.analysers`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol

import numpy as np
import numpy.typing as npt

Frame = npt.NDArray[np.uint8]
"""An OpenCV image: H x W x 3, BGR, uint8."""


@dataclass(frozen=True, slots=True)
class Box:
    """An axis-aligned box in frame pixels with a detection score in [0, 1]."""

    x1: float
    y1: float
    x2: float
    y2: float
    score: float
    mask_prob: float | None = None
    """P(masked) when the detector family classifies masks itself, else None."""

    @property
    def width(self) -> float:
        return max(0.0, self.x2 - self.x1)

    @property
    def height(self) -> float:
        return max(0.0, self.y2 - self.y1)


MaskVerdict = Literal["masked", "worn_wrong", "unmasked"]
"""A face's mask verdict: a mask worn properly, a mask worn wrong (nose or mouth uncovered), none.
Only ``masked`` is compliant."""


def verdict_of(mask_prob: float, worn_wrong_prob: float) -> MaskVerdict:
    """The verdict of P(masked) and P(mask worn wrong): masked from 0.5; otherwise the likelier
    of a mask worn wrong and no mask (P(no mask) being the rest)."""
    if mask_prob >= 0.5:
        return "masked"
    return "worn_wrong" if worn_wrong_prob >= 1.0 - mask_prob - worn_wrong_prob else "unmasked"


@dataclass(frozen=True, slots=True)
class FaceFinding:
    """One face and its mask verdict."""

    box: Box
    mask_prob: float
    """P(masked: a mask worn properly) in [0, 1]."""
    worn_wrong_prob: float = 0.0
    """P(a mask worn wrong: nose or mouth uncovered) in [0, 1]; always 0 from a mask model with
    two verdicts (masked, unmasked). P(no mask) is ``1 - mask_prob - worn_wrong_prob``."""

    @property
    def masked(self) -> bool:
        return self.mask_prob >= 0.5

    @property
    def verdict(self) -> MaskVerdict:
        return verdict_of(self.mask_prob, self.worn_wrong_prob)


@dataclass(frozen=True, slots=True)
class SceneFindings:
    """Everything the models found in one frame."""

    at: float
    """POSIX time the frame was captured."""
    faces: tuple[FaceFinding, ...]
    persons: tuple[Box, ...] | None
    """Person boxes when a person detector is configured, else None (count faces instead)."""
    inference_ms: float
    frame_width: int
    frame_height: int


class FaceDetector(Protocol):
    """A face detection model family."""

    def detect(self, frame: Frame) -> list[Box]:
        """Faces in ``frame`` (BGR), boxes in frame pixels, after score threshold and NMS."""


class PersonDetector(Protocol):
    """A person detection model family."""

    def detect(self, frame: Frame) -> list[Box]:
        """People in ``frame`` (BGR), boxes in frame pixels, after score threshold and NMS."""


@dataclass(frozen=True, slots=True)
class MaskProbs:
    """What a mask classifier says about one face crop."""

    masked: float
    """P(a mask worn properly) in [0, 1]."""
    worn_wrong: float = 0.0
    """P(a mask worn wrong: nose or mouth uncovered) in [0, 1]; 0 from a two-class model."""


class MaskClassifier(Protocol):
    """A face-crop mask classifier."""

    def classify(self, crops: list[Frame]) -> list[MaskProbs]:
        """P(masked) and P(mask worn wrong) for each BGR face crop, in order."""


class SceneInference(Protocol):
    """Face detection + mask classification (+ optional person detection) on one frame."""

    def analyse(self, frame: Frame, at: float) -> SceneFindings:
        """Run the models on one frame captured at ``at``."""


# -- camera integrity: what the worker's tamper checks found (numbers only, never a frame) ---------
IntegrityCheck = Literal["covered", "dark", "blurred", "moved"]
CHECKS: tuple[IntegrityCheck, ...] = ("covered", "dark", "blurred", "moved")
Outcome = Literal["ok", "failed", "unknown"]
Basis = Literal["reference", "absolute"]


@dataclass(frozen=True, slots=True)
class IntegrityVerdict:
    """One check's decision on the recent frames, with the measured value behind it."""

    check: IntegrityCheck
    outcome: Outcome
    value: float | None
    """covered: featureless share (0..1); dark: mean brightness (0..255); blurred: sharpness
    (share of the commissioned, or absolute Laplacian energy, see ``basis``); moved: share of
    landmarks in place (0..1). None when not measurable."""
    limit: float
    """The threshold ``value`` is compared with."""
    basis: Basis
    """Judged against the commissioned reference or against an absolute threshold."""
    why_unknown: str | None = None
    """When ``outcome`` is unknown: why the check could not be judged."""
    shift: float | None = None
    """moved only: displacement of the view (share of the frame width) when measurable."""


@dataclass(frozen=True, slots=True)
class IntegrityFindings:
    """The integrity verdicts for one checked frame (the observation the analyser consumes)."""

    at: float
    """POSIX time the frame was captured."""
    verdicts: tuple[IntegrityVerdict, ...]
    commissioned: bool
    """A usable reference was loaded (``moved`` can be judged)."""
    check_ms: float
    """Time this check took."""

    def verdict(self, check: IntegrityCheck) -> IntegrityVerdict:
        for v in self.verdicts:
            if v.check == check:
                return v
        raise KeyError(check)

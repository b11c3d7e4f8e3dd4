"""What the vision models find in one frame, and the seams between models and the rest of vision.

These value objects stay inside the process: face boxes are used for tracking and mask state, and
are never put into an event, a log line or a diagnostic (see docs/PRIVACY in docs/ARCHITECTURE.md).

- :class:`FaceDetector` plugins (one per model family) turn a BGR frame into face :class:`Box` es,
  optionally with a mask probability when the family classifies masks itself (AIZOO-style SSD).
- :class:`MaskClassifier` turns a face crop into P(masked).
- :class:`PersonDetector` plugins turn a frame into person boxes (for occupancy).
- :class:`SceneAnalyser` combines them: ``analyse(frame) -> SceneFindings``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

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


@dataclass(frozen=True, slots=True)
class FaceFinding:
    """One face and its mask verdict."""

    box: Box
    mask_prob: float
    """P(masked) in [0, 1]."""

    @property
    def masked(self) -> bool:
        return self.mask_prob >= 0.5


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


class MaskClassifier(Protocol):
    """A face-crop mask classifier."""

    def classify(self, crops: list[Frame]) -> list[float]:
        """P(masked) for each BGR face crop."""


class SceneAnalyser(Protocol):
    """Face detection + mask classification (+ optional person detection) on one frame."""

    def analyse(self, frame: Frame, at: float) -> SceneFindings:
        """Run the models on one frame captured at ``at``."""

"""Motion detection: where in a frame something changed, cheaply enough to run on every frame.

The idea is Frigate's (a downscaled grey frame compared with a running average), written for this
agent: the frame is converted to grey and shrunk to :attr:`MotionDetector.height` rows (about
0.2 ms for 640x480), blurred, compared with a running-average background
(``cv2.accumulateWeighted``), thresholded at ``threshold`` grey levels, dilated, and the external
contours larger than ``min_area`` (in downscaled pixels) become motion boxes in frame pixels.

- While something moves, the background learns slowly (``alpha``), and only once the change has
  persisted for ``settle_frames`` frames, so a person standing still at the desk fades into the
  background after a few seconds instead of at once (the tracker keeps them meanwhile).
- A change over ``flood`` of the picture (lights switched, camera auto-exposure, IR mode) is not
  reported as motion: the detector recalibrates to the new picture and says so in
  :attr:`MotionResult.flooded` (the caller usually runs a full-frame detection then).
- The first frame only seeds the background (no motion reported).

Nothing here leaves the vision package; boxes are frame pixels for the detectors' regions.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import numpy.typing as npt

from agent.vision.findings import Frame

_KERNEL = np.ones((3, 3), np.uint8)
Region = tuple[int, int, int, int]
"""An axis-aligned box in frame pixels: ``x1, y1, x2, y2`` (exclusive ends)."""


@dataclass(frozen=True, slots=True)
class MotionResult:
    """What changed in one frame."""

    boxes: tuple[Region, ...]
    """Moving areas in frame pixels (empty when nothing moved)."""
    changed: float
    """Share of the downscaled picture over the threshold (0..1)."""
    flooded: bool = False
    """The whole picture changed (light, exposure): the background was reset to this frame."""


class MotionDetector:
    """Running-average background subtraction on a small grey copy of each frame."""

    def __init__(
        self,
        *,
        height: int = 120,
        threshold: int = 20,
        min_area: int = 12,
        alpha: float = 0.02,
        settle_frames: int = 15,
        flood: float = 0.7,
    ) -> None:
        self.height = height
        self.threshold = threshold
        self.min_area = min_area
        self.alpha = alpha
        self.settle_frames = settle_frames
        self.flood = flood
        self._avg: npt.NDArray[np.float32] | None = None
        self._moving_for = 0
        self._shape: tuple[int, int] = (0, 0)

    def reset(self) -> None:
        """Forget the background (the next frame seeds it again)."""
        self._avg = None
        self._moving_for = 0

    def _small(self, frame: Frame) -> npt.NDArray[np.uint8]:
        h, w = int(frame.shape[0]), int(frame.shape[1])
        height = min(self.height, h)
        size = (max(1, round(w * height / h)), height)
        # grey first, then shrink: the area average of one channel instead of three (0.56 -> 0.25
        # ms a frame at 640x480 on the bench machine; the same picture up to rounding)
        grey = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
        small = cv2.resize(grey, size, interpolation=cv2.INTER_AREA)
        return np.asarray(cv2.GaussianBlur(small, (3, 3), 0), dtype=np.uint8)

    def detect(self, frame: Frame) -> MotionResult:
        """Moving areas of ``frame`` (BGR) against the background; updates the background."""
        grey = self._small(frame)
        if self._avg is None or self._avg.shape != grey.shape:
            self._avg = grey.astype(np.float32)
            self._shape = (int(frame.shape[0]), int(frame.shape[1]))
            self._moving_for = 0
            return MotionResult((), 0.0)
        delta = cv2.absdiff(grey, cv2.convertScaleAbs(self._avg))
        _, mask = cv2.threshold(delta, self.threshold, 255, cv2.THRESH_BINARY)
        changed = float(cv2.countNonZero(mask)) / float(mask.size)
        if changed > self.flood:
            self._avg = grey.astype(np.float32)
            self._moving_for = 0
            return MotionResult((), changed, flooded=True)
        boxes: list[Region] = []
        if changed > 0.0:
            mask = cv2.dilate(mask, _KERNEL, iterations=2)
            contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
            scale = frame.shape[0] / grey.shape[0]
            fh, fw = int(frame.shape[0]), int(frame.shape[1])
            for contour in contours:
                if cv2.contourArea(contour) < self.min_area:
                    continue
                x, y, w, h = cv2.boundingRect(contour)
                boxes.append(
                    (
                        max(0, int(x * scale)),
                        max(0, int(y * scale)),
                        min(fw, int(np.ceil((x + w) * scale))),
                        min(fh, int(np.ceil((y + h) * scale))),
                    )
                )
        if boxes:
            self._moving_for += 1
            if self._moving_for >= self.settle_frames:
                cv2.accumulateWeighted(grey, self._avg, self.alpha)
        else:
            self._moving_for = 0
            cv2.accumulateWeighted(grey, self._avg, self.alpha)
        return MotionResult(tuple(boxes), changed)


def union(regions: list[Region]) -> Region | None:
    """The smallest box holding every region (None for none)."""
    if not regions:
        return None
    return (
        min(r[0] for r in regions),
        min(r[1] for r in regions),
        max(r[2] for r in regions),
        max(r[3] for r in regions),
    )


def grow(region: Region, margin: float, pad: int, width: int, height: int) -> Region:
    """``region`` grown by ``margin`` of its size plus ``pad`` pixels per side, clipped to the frame."""
    x1, y1, x2, y2 = region
    dx = int((x2 - x1) * margin) + pad
    dy = int((y2 - y1) * margin) + pad
    return (max(0, x1 - dx), max(0, y1 - dy), min(width, x2 + dx), min(height, y2 + dy))


def align(region: Region, step: int, width: int, height: int) -> Region:
    """``region`` widened outwards to multiples of ``step`` pixels, clipped to the frame."""
    x1, y1, x2, y2 = region
    return (
        x1 // step * step,
        y1 // step * step,
        min(width, -(-x2 // step) * step),
        min(height, -(-y2 // step) * step),
    )


def overlap(a: Region, b: Region) -> bool:
    """True when the two regions share at least one pixel."""
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def merge(regions: list[Region]) -> list[Region]:
    """Overlapping regions joined (repeatedly) into their union boxes; the result is disjoint."""
    out = list(regions)
    joined = True
    while joined:
        joined = False
        for i in range(len(out)):
            for j in range(i + 1, len(out)):
                if overlap(out[i], out[j]):
                    both = union([out[i], out[j]])
                    assert both is not None
                    out[i] = both
                    del out[j]
                    joined = True
                    break
            if joined:
                break
    return out


def area(region: Region) -> int:
    """Pixels inside ``region``."""
    return max(0, region[2] - region[0]) * max(0, region[3] - region[1])

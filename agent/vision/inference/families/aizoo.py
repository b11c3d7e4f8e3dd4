"""AIZOO FaceMaskDetection family: an SSD face detector that also classifies mask / no mask.

Upstream: AIZOOTech/FaceMaskDetection (MIT). Input: the frame stretched to 260x260, RGB, ``/255``
(manifest ``input``: mean 0, std 255). Outputs, picked by shape:

- ``loc`` ``[1, 5972, 4]``: SSD offsets ``(dx, dy, dw, dh)`` against fixed anchors;
- ``cls`` ``[1, 5972, 2]``: per-class probabilities, class 0 = Mask, class 1 = NoMask.

Anchors (normalised corner form), one set per feature map of size 33, 17, 9, 5, 3 with cell
centres at ``(i + 0.5) / size``; per cell 4 anchors: both sizes of the level with ratio 1, then the
first size with ratios 0.62 and 0.42 (``w = s * sqrt(r)``, ``h = s / sqrt(r)``). Decoding with
variances ``(0.1, 0.1, 0.2, 0.2)``: ``cx = a_cx + dx*0.1*a_w``, ``w = a_w * exp(dw*0.2)``.

Face score = ``max(cls)``; ``Box.mask_prob = Mask / (Mask + NoMask)``.
Manifest thresholds: ``score`` (default 0.5) and ``nms_iou`` (default 0.4).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from agent.vision.findings import Box, Frame
from agent.vision.inference.families.nms import select
from agent.vision.inference.families.preprocess import prepare
from agent.vision.inference.families.session import FloatArray, OnnxModel
from agent.vision.manifest import ModelError, ModelSpec

FEATURE_MAPS = (33, 17, 9, 5, 3)
ANCHOR_SIZES = ((0.04, 0.056), (0.08, 0.11), (0.16, 0.22), (0.32, 0.45), (0.64, 0.72))
ANCHOR_RATIOS = (1.0, 0.62, 0.42)
VARIANCES = (0.1, 0.1, 0.2, 0.2)
DEFAULT_SCORE = 0.5
DEFAULT_NMS_IOU = 0.4


def anchors() -> FloatArray:
    """The 5972 SSD anchors, normalised corner form ``x1, y1, x2, y2``, in output order."""
    out: list[FloatArray] = []
    for size, scales in zip(FEATURE_MAPS, ANCHOR_SIZES, strict=True):
        centres = (np.arange(size, dtype=np.float32) + 0.5) / size
        cx, cy = np.meshgrid(centres, centres)  # row-major: y outer, x inner
        shapes = [(s * np.sqrt(ANCHOR_RATIOS[0]), s / np.sqrt(ANCHOR_RATIOS[0])) for s in scales]
        shapes += [(scales[0] * np.sqrt(r), scales[0] / np.sqrt(r)) for r in ANCHOR_RATIOS[1:]]
        wh = np.asarray(shapes, dtype=np.float32)  # A x 2
        c = np.stack([cx, cy], axis=-1).reshape(-1, 1, 2)  # HW x 1 x 2
        level = np.concatenate([c - wh / 2.0, c + wh / 2.0], axis=-1)  # HW x A x 4
        out.append(level.reshape(-1, 4).astype(np.float32))
    return np.concatenate(out, axis=0)


def decode(loc: FloatArray, priors: FloatArray) -> FloatArray:
    """SSD offsets ``Nx4`` against corner-form ``priors`` -> normalised corner boxes."""
    pw = priors[:, 2] - priors[:, 0]
    ph = priors[:, 3] - priors[:, 1]
    pcx = priors[:, 0] + pw / 2.0
    pcy = priors[:, 1] + ph / 2.0
    v = np.asarray(VARIANCES, dtype=np.float32)
    r = loc * v
    cx = r[:, 0] * pw + pcx
    cy = r[:, 1] * ph + pcy
    w = np.exp(r[:, 2]) * pw
    h = np.exp(r[:, 3]) * ph
    return np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], axis=1).astype(np.float32)


class AizooDetector:
    """A :class:`~agent.vision.findings.FaceDetector` that also sets ``Box.mask_prob``."""

    def __init__(self, spec: ModelSpec, path: Path, *, threads: int = 1) -> None:
        self._model = OnnxModel(spec, path, threads)
        self._spec = spec
        self._priors = anchors()
        self.min_score = spec.thresholds.get("score", DEFAULT_SCORE)
        self.nms_iou = spec.thresholds.get("nms_iou", DEFAULT_NMS_IOU)

    def _split(self, outputs: list[FloatArray]) -> tuple[FloatArray, FloatArray]:
        n = self._priors.shape[0]
        loc = [o for o in outputs if o.shape == (1, n, 4)]
        cls = [o for o in outputs if o.shape == (1, n, 2)]
        if len(loc) != 1 or len(cls) != 1:
            shapes = [o.shape for o in outputs]
            raise ModelError(
                f"model {self._spec.name!r}: outputs {shapes} are not AIZOO SSD "
                f"(loc [1,{n},4], cls [1,{n},2])"
            )
        return loc[0][0], cls[0][0]

    def __repr__(self) -> str:
        i = self._spec.input
        return f"AizooDetector({self._spec.name!r}, {i.width}x{i.height}, score>={self.min_score})"

    def detect(self, frame: Frame) -> list[Box]:
        """Faces in a BGR frame, in frame pixels, with P(masked), after threshold and NMS."""
        prepared = prepare(frame, self._spec.input, mode="stretch")
        loc, cls = self._split(self._model.run(prepared.tensor))
        scores = cls.max(axis=1)
        keep = scores >= self.min_score
        boxes = prepared.letterbox.normalised_to_frame(decode(loc[keep], self._priors[keep]))
        kept = cls[keep]
        mask_probs = (kept[:, 0] / np.maximum(kept.sum(axis=1), 1e-6)).astype(np.float32)
        return select(boxes, scores[keep], self.min_score, self.nms_iou, mask_probs)

"""Mask-classifier family: face crop -> P(masked), batched, for the project's own classifier.

The model (``models/train_mask.py``) takes ``Nx3xHxW`` (manifest ``input``: size, colour, mean,
std) and returns ``Nx2`` softmax probabilities in the order of the manifest ``labels``; the index
of ``with_mask`` is P(masked).

Crops: :func:`crop_face` cuts a face box out of a frame, grown by the manifest threshold
``crop_expand`` (default 1.2: the training images show the whole head with a margin, detector boxes
are tight) around the box centre, clipped to the frame. Each crop is stretched to the input size.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from agent.vision.findings import Box, Frame
from agent.vision.inference.families.preprocess import check_frame, to_tensor
from agent.vision.inference.families.session import FloatArray, OnnxModel
from agent.vision.manifest import ModelError, ModelSpec

MASKED_LABEL = "with_mask"
DEFAULT_CROP_EXPAND = 1.2
MAX_BATCH = 32


def crop_face(frame: Frame, box: Box, expand: float = DEFAULT_CROP_EXPAND) -> Frame:
    """The face ``box`` grown by ``expand`` around its centre, clipped to ``frame`` (a view)."""
    check_frame(frame)
    fh, fw = frame.shape[0], frame.shape[1]
    cx, cy = (box.x1 + box.x2) / 2.0, (box.y1 + box.y2) / 2.0
    half_w, half_h = box.width * expand / 2.0, box.height * expand / 2.0
    x1, x2 = max(0, int(cx - half_w)), min(fw, int(np.ceil(cx + half_w)))
    y1, y2 = max(0, int(cy - half_h)), min(fh, int(np.ceil(cy + half_h)))
    if x2 <= x1 or y2 <= y1:
        return frame
    return frame[y1:y2, x1:x2]


class OnnxMaskClassifier:
    """A :class:`~agent.vision.findings.MaskClassifier` over an ONNX softmax classifier."""

    def __init__(self, spec: ModelSpec, path: Path, *, threads: int = 1) -> None:
        if MASKED_LABEL not in spec.labels or len(spec.labels) != 2:
            raise ModelError(
                f"model {spec.name!r}: labels {list(spec.labels)} must be two classes, one of "
                f"them {MASKED_LABEL!r}"
            )
        self._model = OnnxModel(spec, path, threads)
        self._spec = spec
        self._masked = spec.labels.index(MASKED_LABEL)
        self.crop_expand = spec.thresholds.get("crop_expand", DEFAULT_CROP_EXPAND)

    def _tensor(self, crop: Frame) -> FloatArray:
        check_frame(crop)
        size = (self._spec.input.width, self._spec.input.height)
        resized = np.asarray(cv2.resize(crop, size, interpolation=cv2.INTER_AREA), dtype=np.uint8)
        return to_tensor(resized, self._spec.input)

    def classify(self, crops: list[Frame]) -> list[float]:
        """P(masked) for each BGR face crop, in order."""
        out: list[float] = []
        for i in range(0, len(crops), MAX_BATCH):
            batch = np.concatenate([self._tensor(c) for c in crops[i : i + MAX_BATCH]], axis=0)
            probs = self._model.run(batch)[0]
            if probs.ndim != 2 or probs.shape != (len(batch), 2):
                raise ModelError(
                    f"model {self._spec.name!r}: output shape {probs.shape}, expected "
                    f"({len(batch)}, 2) probabilities"
                )
            out.extend(float(p) for p in probs[:, self._masked])
        return out

    def classify_faces(self, frame: Frame, boxes: list[Box]) -> list[float]:
        """P(masked) for each face box of ``frame`` (crops grown by ``crop_expand``)."""
        return self.classify([crop_face(frame, b, self.crop_expand) for b in boxes])

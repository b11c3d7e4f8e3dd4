"""Mask-classifier family: face crop -> P(masked), P(mask worn wrong), batched, for the project's
own classifier.

The model (``models/train_mask.py``) takes ``Nx3xHxW`` (manifest ``input``: size, colour, mean,
std) and returns ``N x len(labels)`` softmax probabilities in the order of the manifest
``labels``, which are either two classes, one of them ``with_mask`` (P(mask worn wrong) is then
0), or the three ``with_mask``, ``without_mask`` and ``mask_worn_wrong`` in any order. Columns are
picked by label name, never by position.

Crops: :func:`crop_face` cuts a face box out of a frame, grown by the manifest threshold
``crop_expand`` (default 1.2: the training images show the whole head with a margin, detector boxes
are tight) around the box centre, clipped to the frame. Each crop is stretched to the input size.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from agent.vision.findings import Box, Frame, MaskProbs
from agent.vision.inference.families.preprocess import check_frame, to_tensor
from agent.vision.inference.families.session import FloatArray, OnnxModel
from agent.vision.manifest import ModelError, ModelSpec

MASKED_LABEL = "with_mask"
UNMASKED_LABEL = "without_mask"
WORN_WRONG_LABEL = "mask_worn_wrong"
THREE_LABELS = frozenset({MASKED_LABEL, UNMASKED_LABEL, WORN_WRONG_LABEL})
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
        labels = list(spec.labels)
        two = len(labels) == 2 and MASKED_LABEL in labels and len(set(labels)) == 2
        three = len(labels) == 3 and set(labels) == THREE_LABELS
        if not (two or three):
            raise ModelError(
                f"model {spec.name!r}: labels {labels} must be two classes, one of them "
                f"{MASKED_LABEL!r}, or the three {sorted(THREE_LABELS)} (in any order)"
            )
        self._model = OnnxModel(spec, path, threads)
        self._spec = spec
        self._masked = labels.index(MASKED_LABEL)
        self._worn_wrong = labels.index(WORN_WRONG_LABEL) if three else None
        self.crop_expand = spec.thresholds.get("crop_expand", DEFAULT_CROP_EXPAND)

    def _tensor(self, crop: Frame) -> FloatArray:
        check_frame(crop)
        size = (self._spec.input.width, self._spec.input.height)
        resized = np.asarray(cv2.resize(crop, size, interpolation=cv2.INTER_AREA), dtype=np.uint8)
        return to_tensor(resized, self._spec.input)

    def classify(self, crops: list[Frame]) -> list[MaskProbs]:
        """P(masked) and P(mask worn wrong) for each BGR face crop, in order."""
        out: list[MaskProbs] = []
        n_labels = len(self._spec.labels)
        for i in range(0, len(crops), MAX_BATCH):
            batch = np.concatenate([self._tensor(c) for c in crops[i : i + MAX_BATCH]], axis=0)
            probs = self._model.run(batch)[0]
            if probs.ndim != 2 or probs.shape != (len(batch), n_labels):
                raise ModelError(
                    f"model {self._spec.name!r}: output shape {probs.shape}, expected "
                    f"({len(batch)}, {n_labels}) probabilities (one per manifest label)"
                )
            masked = probs[:, self._masked]
            wrong = probs[:, self._worn_wrong] if self._worn_wrong is not None else None
            out.extend(
                MaskProbs(float(masked[j]), float(wrong[j]) if wrong is not None else 0.0)
                for j in range(len(batch))
            )
        return out

    def classify_faces(self, frame: Frame, boxes: list[Box]) -> list[MaskProbs]:
        """:meth:`classify` for each face box of ``frame`` (crops grown by ``crop_expand``)."""
        return self.classify([crop_face(frame, b, self.crop_expand) for b in boxes])

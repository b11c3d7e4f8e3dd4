"""Ultra-Light-Fast-Generic-Face-Detector family (RFB-320, slim, and the RFB-640 masked-face variant).

Upstream: Linzaer/Ultra-Light-Fast-Generic-Face-Detector-1MB (MIT). The ONNX exports take a
stretched RGB image normalised as ``(x - 127) / 128`` (manifest ``input``) and already decode
their priors, so the outputs are:

- ``scores`` ``[1, N, C]``: softmax class probabilities, class 0 = background;
- ``boxes``  ``[1, N, 4]``: corner form ``x1, y1, x2, y2`` normalised to 0..1 of the input.

With two classes (background, face) the face score is ``scores[:, 1]``. With three
(background, face, masked_face) the face score is ``1 - background`` and
``Box.mask_prob = masked_face / (face + masked_face)``. Outputs are picked by shape, not name.

Manifest thresholds: ``score`` (default 0.7) and ``nms_iou`` (default 0.3).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from agent.vision.findings import Box, Frame
from agent.vision.inference.families.nms import select
from agent.vision.inference.families.preprocess import prepare
from agent.vision.inference.families.session import FloatArray, OnnxModel
from agent.vision.manifest import ModelError, ModelSpec

DEFAULT_SCORE = 0.7
DEFAULT_NMS_IOU = 0.3


class UltrafaceDetector:
    """A :class:`~agent.vision.findings.FaceDetector` for Ultra-Light-Fast face detectors."""

    def __init__(self, spec: ModelSpec, path: Path, *, threads: int = 1) -> None:
        self._model = OnnxModel(spec, path, threads)
        self._spec = spec
        self.min_score = spec.thresholds.get("score", DEFAULT_SCORE)
        self.nms_iou = spec.thresholds.get("nms_iou", DEFAULT_NMS_IOU)
        if len(self._model.output_names) != 2:
            raise ModelError(
                f"model {spec.name!r} ({path}) has {len(self._model.output_names)} outputs; the "
                "ultraface family expects 2 (scores [1,N,C], boxes [1,N,4])"
            )

    def _split(self, outputs: list[FloatArray]) -> tuple[FloatArray, FloatArray]:
        boxes = [o for o in outputs if o.ndim == 3 and o.shape[2] == 4]
        scores = [o for o in outputs if o.ndim == 3 and o.shape[2] in (2, 3)]
        if len(boxes) != 1 or len(scores) != 1 or boxes[0].shape[1] != scores[0].shape[1]:
            shapes = [o.shape for o in outputs]
            raise ModelError(
                f"model {self._spec.name!r}: outputs {shapes} are not ultraface "
                "(scores [1,N,2|3], boxes [1,N,4])"
            )
        return scores[0][0], boxes[0][0]

    def __repr__(self) -> str:
        i = self._spec.input
        return (
            f"UltrafaceDetector({self._spec.name!r}, {i.width}x{i.height}, score>={self.min_score})"
        )

    def detect(self, frame: Frame) -> list[Box]:
        """Faces in a BGR frame, in frame pixels, after score threshold and NMS."""
        prepared = prepare(frame, self._spec.input, mode="stretch")
        scores, boxes = self._split(self._model.run(prepared.tensor))
        mask_probs: FloatArray | None = None
        if scores.shape[1] == 3:
            face = (1.0 - scores[:, 0]).astype(np.float32)
            mask_probs = (scores[:, 2] / np.maximum(face, 1e-6)).astype(np.float32)
        else:
            face = scores[:, 1]
        candidates = face >= self.min_score
        frame_boxes = prepared.letterbox.normalised_to_frame(boxes[candidates])
        return select(
            frame_boxes,
            face[candidates],
            self.min_score,
            self.nms_iou,
            mask_probs[candidates] if mask_probs is not None else None,
        )

"""NanoDet family (NanoDet-m, 320x320, COCO-80): a :class:`PersonDetector` on class 0 (person).

Upstream: RangiLyu/nanodet (Apache-2.0). Input: the frame letterboxed into 320x320 (aspect kept,
padded bottom/right), BGR, normalised with mean (103.53, 116.28, 123.675) and std
(57.375, 57.12, 58.395) (manifest ``input``).

The export has one pair of outputs per stride (8, 16, 32); their names are not reliable, so
they are picked by shape: for an input of ``W x H`` and stride ``s`` there are
``n = (W/s) * (H/s)`` points, ``cls`` is ``[n, 80]`` (sigmoid already applied) and ``reg`` is
``[n, 4 * (reg_max + 1)]`` (raw logits, ``reg_max = 7``).

GFL distribution decode: for each side (left, top, right, bottom) softmax over the 8 bins, take
the expectation ``sum(i * p_i)`` and multiply by the stride; the point's centre is
``((col + 0.5) * s, (row + 0.5) * s)`` in input pixels (row-major), so the box is
``(cx - l, cy - t, cx + r, cy + b)``. (The half-cell offset was checked on the reference export:
with it, detections on a mirrored frame mirror back to within 0.3 % of the box width; without it
they are off by about 20 %.)

Manifest ``labels`` must name the classes with ``person`` among them (COCO: index 0).
Manifest thresholds: ``score`` (default 0.4) and ``nms_iou`` (default 0.5).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from agent.vision.findings import Box, Frame
from agent.vision.inference.families.nms import select
from agent.vision.inference.families.preprocess import prepare
from agent.vision.inference.families.session import FloatArray, OnnxModel
from agent.vision.manifest import ModelError, ModelSpec

STRIDES = (8, 16, 32)
REG_MAX = 7
CENTRE_OFFSET = 0.5
"""Point centre = (index + CENTRE_OFFSET) * stride."""
DEFAULT_SCORE = 0.4
DEFAULT_NMS_IOU = 0.5
PERSON = "person"


def distribution_to_distance(reg: FloatArray, stride: int) -> FloatArray:
    """``[n, 4*(REG_MAX+1)]`` logits -> ``[n, 4]`` distances (l, t, r, b) in input pixels."""
    logits = reg.reshape(-1, 4, REG_MAX + 1)
    logits = logits - logits.max(axis=2, keepdims=True)
    p = np.exp(logits)
    p /= p.sum(axis=2, keepdims=True)
    bins = np.arange(REG_MAX + 1, dtype=np.float32)
    distances: FloatArray = ((p * bins).sum(axis=2) * stride).astype(np.float32)
    return distances


def centres(width: int, height: int, stride: int) -> FloatArray:
    """``[n, 2]`` point centres ``(x, y)`` of one level, row-major, in input pixels."""
    cols, rows = -(-width // stride), -(-height // stride)
    xs = (np.arange(cols, dtype=np.float32) + CENTRE_OFFSET) * stride
    ys = (np.arange(rows, dtype=np.float32) + CENTRE_OFFSET) * stride
    gx, gy = np.meshgrid(xs, ys)
    return np.stack([gx.ravel(), gy.ravel()], axis=1)


class NanodetDetector:
    """A :class:`~agent.vision.findings.PersonDetector` for NanoDet exports (class ``person``)."""

    def __init__(self, spec: ModelSpec, path: Path, *, threads: int = 1) -> None:
        if PERSON not in spec.labels:
            raise ModelError(
                f"model {spec.name!r}: manifest labels {list(spec.labels)[:5]}... have no "
                f"{PERSON!r}; list the model's classes in order (COCO: 'person' first)"
            )
        self._model = OnnxModel(spec, path, threads)
        self._spec = spec
        self._class = spec.labels.index(PERSON)
        self._num_classes = len(spec.labels)
        self.min_score = spec.thresholds.get("score", DEFAULT_SCORE)
        self.nms_iou = spec.thresholds.get("nms_iou", DEFAULT_NMS_IOU)
        w, h = spec.input.width, spec.input.height
        self._levels = [(s, centres(w, h, s)) for s in STRIDES]

    def _pick(
        self, outputs: list[FloatArray]
    ) -> list[tuple[int, FloatArray, FloatArray, FloatArray]]:
        """(stride, centres, cls [n,C], reg [n,32]) per level, matched by shape."""
        flat = [o.reshape(-1, o.shape[-1]) for o in outputs]
        levels = []
        for stride, points in self._levels:
            n = points.shape[0]
            cls = [o for o in flat if o.shape == (n, self._num_classes)]
            reg = [o for o in flat if o.shape == (n, 4 * (REG_MAX + 1))]
            if len(cls) != 1 or len(reg) != 1:
                shapes = [o.shape for o in outputs]
                raise ModelError(
                    f"model {self._spec.name!r}: outputs {shapes} have no unique "
                    f"[{n},{self._num_classes}] scores and [{n},{4 * (REG_MAX + 1)}] distributions "
                    f"for stride {stride}; is it a NanoDet export with {self._num_classes} classes?"
                )
            levels.append((stride, points, cls[0], reg[0]))
        return levels

    def __repr__(self) -> str:
        i = self._spec.input
        return (
            f"NanodetDetector({self._spec.name!r}, {i.width}x{i.height}, score>={self.min_score})"
        )

    def detect(self, frame: Frame) -> list[Box]:
        """People in a BGR frame, in frame pixels, after score threshold and NMS."""
        prepared = prepare(frame, self._spec.input, mode="letterbox")
        all_boxes: list[FloatArray] = []
        all_scores: list[FloatArray] = []
        for stride, points, cls, reg in self._pick(self._model.run(prepared.tensor)):
            scores = cls[:, self._class]
            keep = scores >= self.min_score
            if not keep.any():
                continue
            d = distribution_to_distance(reg[keep], stride)
            p = points[keep]
            all_boxes.append(np.concatenate([p - d[:, :2], p + d[:, 2:]], axis=1))
            all_scores.append(scores[keep])
        if not all_boxes:
            return []
        boxes = prepared.letterbox.to_frame(np.concatenate(all_boxes).astype(np.float32))
        return select(boxes, np.concatenate(all_scores), self.min_score, self.nms_iou)

"""Non-maximum suppression: score-filtered candidate boxes -> the final :class:`Box` list.

Shared by every detector family so that thresholds mean the same thing everywhere:
candidates below ``min_score`` are dropped, the rest are suppressed greedily (highest score
first) when their IoU with a kept box exceeds ``iou``, and at most ``top_k`` boxes are returned.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from agent.vision.findings import Box

FloatArray = npt.NDArray[np.float32]


def iou_one_to_many(box: FloatArray, others: FloatArray) -> FloatArray:
    """IoU of one corner box against ``Nx4`` corner boxes."""
    x1 = np.maximum(box[0], others[:, 0])
    y1 = np.maximum(box[1], others[:, 1])
    x2 = np.minimum(box[2], others[:, 2])
    y2 = np.minimum(box[3], others[:, 3])
    inter = np.clip(x2 - x1, 0.0, None) * np.clip(y2 - y1, 0.0, None)
    area = max(0.0, float(box[2] - box[0])) * max(0.0, float(box[3] - box[1]))
    areas = np.clip(others[:, 2] - others[:, 0], 0.0, None) * np.clip(
        others[:, 3] - others[:, 1], 0.0, None
    )
    union = area + areas - inter
    return np.where(union > 0.0, inter / np.maximum(union, 1e-9), 0.0).astype(np.float32)


def nms_indices(boxes: FloatArray, scores: FloatArray, iou: float, top_k: int = 200) -> list[int]:
    """Indices of the boxes kept by greedy NMS, highest score first."""
    order = np.argsort(-scores, kind="stable")
    keep: list[int] = []
    while order.size > 0 and len(keep) < top_k:
        i = int(order[0])
        keep.append(i)
        if order.size == 1:
            break
        rest = order[1:]
        order = rest[iou_one_to_many(boxes[i], boxes[rest]) <= iou]
    return keep


def select(
    boxes: FloatArray,
    scores: FloatArray,
    min_score: float,
    iou: float,
    mask_probs: FloatArray | None = None,
    top_k: int = 200,
) -> list[Box]:
    """Threshold, NMS and wrap as :class:`Box` (with ``mask_prob`` when given)."""
    keep_mask = scores >= min_score
    boxes, scores = boxes[keep_mask], scores[keep_mask]
    probs = mask_probs[keep_mask] if mask_probs is not None else None
    valid = (boxes[:, 2] > boxes[:, 0]) & (boxes[:, 3] > boxes[:, 1])
    boxes, scores = boxes[valid], scores[valid]
    probs = probs[valid] if probs is not None else None
    return [
        Box(
            x1=float(boxes[i, 0]),
            y1=float(boxes[i, 1]),
            x2=float(boxes[i, 2]),
            y2=float(boxes[i, 3]),
            score=float(scores[i]),
            mask_prob=float(probs[i]) if probs is not None else None,
        )
        for i in nms_indices(boxes, scores, iou, top_k)
    ]

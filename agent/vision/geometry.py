"""Box geometry shared by inference and the analysers: overlap (IoU) and centroid distance.

Pure functions of two :class:`~agent.vision.findings.Box` es in frame pixels. The scene inference
(:mod:`agent.vision.inference.scene`) reuses a face's mask probability by IoU; the tracker
(:mod:`agent.vision.analysers.tracker`) and the arrival counter match boxes by IoU and centroid
distance.
"""

from __future__ import annotations

import math

from agent.vision.findings import Box


def iou(a: Box, b: Box) -> float:
    """Intersection over union of two boxes (0 when disjoint)."""
    iw = min(a.x2, b.x2) - max(a.x1, b.x1)
    ih = min(a.y2, b.y2) - max(a.y1, b.y1)
    if iw <= 0 or ih <= 0:
        return 0.0
    inter = iw * ih
    union = a.width * a.height + b.width * b.height - inter
    return inter / union if union > 0 else 0.0


def shift(a: Box, b: Box) -> float:
    """Centroid distance between two boxes in units of ``a``'s size."""
    dx = (a.x1 + a.x2 - b.x1 - b.x2) / 2
    dy = (a.y1 + a.y2 - b.y1 - b.y2) / 2
    size = max(1.0, math.sqrt(max(a.width * a.height, 1.0)))
    return math.hypot(dx, dy) / size

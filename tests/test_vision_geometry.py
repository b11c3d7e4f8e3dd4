"""Box geometry (agent/vision/geometry.py): the overlap (IoU) of two boxes."""

from __future__ import annotations

import pytest

from agent.vision.findings import Box
from agent.vision.geometry import iou


def box(x: float, y: float, w: float = 60, h: float = 80) -> Box:
    return Box(x, y, x + w, y + h, 0.9)


def test_iou() -> None:
    assert iou(box(0, 0), box(0, 0)) == pytest.approx(1.0)
    assert iou(box(0, 0), box(200, 0)) == 0.0
    assert iou(box(0, 0, 10, 10), box(5, 0, 10, 10)) == pytest.approx(50 / 150)

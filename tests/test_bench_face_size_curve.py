"""The back-of-the-queue frames of bench/face_size_curve.py: a labelled box lands on the same
pixels after the photo is shrunk into the grey frame, and the size bins cover every face once."""

from __future__ import annotations

import numpy as np

from agent.vision.findings import Box
from bench.face_size_curve import BINS, shrunk_to_back


def test_a_labelled_box_lands_on_its_pixels_in_the_shrunk_frame() -> None:
    photo = np.zeros((400, 600, 3), np.uint8)
    photo[100:180, 300:360] = 255  # the "face": 60x80 px
    frame, (box,) = shrunk_to_back(photo, [Box(300, 100, 360, 180, 1.0)], 0.5)
    assert frame.shape == (480, 640, 3)
    assert (frame[0, 0] == 114).all()  # grey above the shrunk photo
    assert box.width == 30
    assert box.height == 40
    assert box.y2 <= 480
    inside = frame[round(box.y1) + 2 : round(box.y2) - 2, round(box.x1) + 2 : round(box.x2) - 2]
    assert (inside == 255).all()
    assert (frame[round(box.y2) + 2, round(box.x1) : round(box.x2)] == 0).all()


def test_the_size_bins_cover_every_face_once() -> None:
    for size in (0.5, 15.9, 16, 23.9, 31.9, 32, 63.9, 64, 500):
        assert sum(lo <= size < hi for lo, hi in BINS) == 1

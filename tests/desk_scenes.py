"""Desk scenes for the scenario tests: real people cut out of ../shared scene photos and composited
into a 640x480 triage-desk picture, with known truth (who stands where, masked or not, or with a
mask worn wrong drawn on).

Nothing here is committed media: every frame is built at test time. The people come from
``19.jpg`` (five adults standing in a row, faces visible and unmasked); the crops below were chosen
by hand so that each holds one whole person. A person leaving the scene is a frame without that
crop. The zones used with these frames (:data:`ZONES`):

- ``desk`` (staff): the right 40 % of the picture above the floor line; staff stand with their
  feet at y = 340 (0.71 of the height);
- ``queue`` (queue): the floor strip along the bottom; patients stand with their feet at y = 470;
- ``hall`` (waiting): the upper left; nobody is ever put there.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

import cv2
import numpy as np

from agent.vision.findings import Frame
from tests.vision_media import scene
from tools.eval_mask import synth_module

W, H = 640, 480
FLOOR_Y = 330
STAFF_FEET_Y = 340
QUEUE_FEET_Y = 470
CROPS = {
    "blue": (58, 120, 262, 754),
    "bald": (395, 120, 610, 754),
    "teal": (742, 100, 960, 754),
}
"""Boxes (x1, y1, x2, y2) in ``19.jpg`` holding one person each (all unmasked)."""
ZONES: list[dict[str, Any]] = [
    {
        "name": "desk",
        "role": "staff",
        "polygon": [[0.6, 0.0], [1.0, 0.0], [1.0, 0.75], [0.6, 0.75]],
    },
    {
        "name": "queue",
        "role": "queue",
        "polygon": [[0.0, 0.75], [1.0, 0.75], [1.0, 1.0], [0.0, 1.0]],
        "crowd_limit": 3,
        "crowd_after_s": 3,
    },
    {
        "name": "hall",
        "role": "waiting",
        "polygon": [[0.0, 0.0], [0.6, 0.0], [0.6, 0.75], [0.0, 0.75]],
        "crowd_limit": 1,
        "crowd_after_s": 3,
    },
]


def person(name: str) -> Frame:
    """One real person cut out of ``19.jpg``; ``"<name>/<style>"`` wears a mask drawn the way
    ``style`` says (``under_nose`` or ``chin``: worn wrong) by ``models/synth_worn_wrong.py``,
    placed by the face's landmarks, seeded by the name (the same pixels every run)."""
    base, _, style = name.partition("/")
    x1, y1, x2, y2 = CROPS[base]
    crop = np.ascontiguousarray(scene("19.jpg")[y1:y2, x1:x2])
    if not style:
        return crop
    synth = synth_module()
    landmarks = synth.LandmarkFinder().find(crop)
    assert landmarks is not None, f"no face found in {base}"
    seed = int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "little")
    drawn: Frame = synth.draw_mask(crop, landmarks, style, np.random.default_rng(seed))[0]
    return drawn


def room() -> Frame:
    """The empty desk: wall, floor, the side of the desk."""
    img = np.full((H, W, 3), (200, 205, 210), np.uint8)
    img[FLOOR_Y:, :] = (150, 160, 170)
    cv2.rectangle(img, (380, 250), (420, FLOOR_Y), (60, 90, 130), -1)
    return img


def paste(img: Frame, crop: Frame, x: int, feet_y: int, height: int) -> Frame:
    """``crop`` scaled to ``height`` px with its bottom edge (the feet) at ``feet_y``, left at ``x``."""
    scale = height / crop.shape[0]
    r = cv2.resize(crop, (int(crop.shape[1] * scale), height), interpolation=cv2.INTER_AREA)
    top = feet_y - height
    x2 = min(W, x + r.shape[1])
    y0 = max(0, top)
    img[y0:feet_y, x:x2] = r[y0 - top :, : x2 - x]
    return img


def desk_scene(staff: Sequence[str] = (), queue: Sequence[str] = ()) -> Frame:
    """The desk with ``staff`` behind it (in the staff zone) and ``queue`` in the queue zone."""
    img = room()
    for i, name in enumerate(queue):
        paste(img, person(name), 10 + i * 100, QUEUE_FEET_Y, 280)
    for i, name in enumerate(staff):
        paste(img, person(name), 470 - i * 10, STAFF_FEET_Y, 300)
    return img

"""Crowds: the face detector again on overlapping tiles of a crowded frame, each upscaled.

At 640x480 the faces of a crowd are a few pixels wide, below what the face detector finds on the
whole frame (on the crowd photos of ``../shared`` it found about half the people). When a frame is
*crowded* (its whole-frame people count above ``vision.crowd_tile_above``), the scene inference
(:mod:`agent.vision.inference.scene`) runs the face detector again on a ``grid x grid`` of tiles
(:func:`tiles`: each :data:`OVERLAP` of its size over its neighbours, the frame's aspect kept),
each scaled up to the detector's input size (:func:`upscale`; 2x2 tiles of 640x480 are about
1.75x), and keeps a tile face only when it is not cut by an inner tile border (:func:`cut`: a
face that small lies whole in the neighbour's overlap, a larger one was found on the whole frame)
and not already found (:func:`merge`: the whole-frame faces first, then the tile faces by score,
each dropped when it overlaps a kept face by more than :data:`MERGE_IOU` IoU or one of the two
lies mostly inside the other, :data:`MERGE_INSIDE`). Tile faces need only ``vision.crowd_face_min_score``: in a
crowd, small faces score lower.

Only the face detector is tiled: person boxes cut by tile borders were measured to add people
that are not there in group photos, and in a crowd faces are most of the count. An ordinary desk
scene (1 to 4 people) is never crowded, so none of this runs there. Boxes stay in process memory.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace

import cv2
import numpy as np

from agent.vision.findings import Box, FaceDetector, Frame
from agent.vision.geometry import iou
from agent.vision.inference.motion import Region

OVERLAP = 0.25
"""Share of a tile's width (height) that overlaps its neighbour's."""
MERGE_IOU = 0.3
"""A tile face overlapping a kept face by more than this IoU is the same face (the detector's own
NMS threshold)..."""
MERGE_INSIDE = 0.7
"""...and so is one whose area lies by more than this share inside a kept face (a part of it)."""
EDGE_PX = 2.0
"""A tile box within this many pixels of an inner tile border is cut by it."""


@dataclass(frozen=True, slots=True)
class CrowdSettings:
    """When and how a crowded frame is tiled; built from ``vision.crowd_*`` settings."""

    grid: int = 2
    """``grid x grid`` tiles; below 2: never tiled."""
    above: int = 12
    """A frame whose whole-frame people count is above this is crowded."""
    face_min_score: float = 0.3
    """Minimum score of a face found on a tile."""
    input_size: tuple[int, int] = (640, 480)
    """The face detector's input (width, height): each tile is scaled up to fit it."""

    @property
    def enabled(self) -> bool:
        return self.grid >= 2


def tiles(width: int, height: int, grid: int, overlap: float = OVERLAP) -> list[Region]:
    """``grid x grid`` tiles ``(x1, y1, x2, y2)`` covering a ``width x height`` frame, row by row,
    each overlapping its neighbours by ``overlap`` of its size."""
    if grid < 2:
        return [(0, 0, width, height)]
    tw = min(width, round(width / (grid - (grid - 1) * overlap)))
    th = min(height, round(height / (grid - (grid - 1) * overlap)))
    xs = [round(i * (width - tw) / (grid - 1)) for i in range(grid)]
    ys = [round(j * (height - th) / (grid - 1)) for j in range(grid)]
    return [(x, y, x + tw, y + th) for y in ys for x in xs]


def upscale(frame: Frame, tile: Region, size: tuple[int, int]) -> tuple[Frame, float]:
    """The ``tile`` of ``frame`` scaled to fit ``size`` (aspect kept; never down), and the scale."""
    x1, y1, x2, y2 = tile
    crop = frame[y1:y2, x1:x2]
    s = max(1.0, min(size[0] / max(x2 - x1, 1), size[1] / max(y2 - y1, 1)))
    if s == 1.0:
        return np.ascontiguousarray(crop), 1.0
    w, h = round((x2 - x1) * s), round((y2 - y1) * s)
    return np.asarray(cv2.resize(crop, (w, h), interpolation=cv2.INTER_LINEAR), np.uint8), s


def to_frame(box: Box, tile: Region, scale: float) -> Box:
    """A box found on an upscaled tile, in frame pixels."""
    x, y = tile[0], tile[1]
    return replace(
        box,
        x1=box.x1 / scale + x,
        y1=box.y1 / scale + y,
        x2=box.x2 / scale + x,
        y2=box.y2 / scale + y,
    )


def cut(box: Box, tile: Region, width: int, height: int, edge: float = EDGE_PX) -> bool:
    """``box`` (frame pixels) touches a border of ``tile`` that is not the frame's border."""
    x1, y1, x2, y2 = tile
    return (
        (x1 > 0 and box.x1 <= x1 + edge)
        or (y1 > 0 and box.y1 <= y1 + edge)
        or (x2 < width and box.x2 >= x2 - edge)
        or (y2 < height and box.y2 >= y2 - edge)
    )


def _inside(a: Box, b: Box) -> float:
    """Share of ``a``'s area that lies inside ``b``."""
    iw = min(a.x2, b.x2) - max(a.x1, b.x1)
    ih = min(a.y2, b.y2) - max(a.y1, b.y1)
    area = a.width * a.height
    return iw * ih / area if iw > 0 and ih > 0 and area > 0 else 0.0


def merge(whole: Sequence[Box], tiled: Iterable[Box]) -> list[Box]:
    """The whole-frame boxes, then each tile box (highest score first) that is no duplicate of a
    box kept before it (IoU above :data:`MERGE_IOU`, or one mostly inside the other:
    :data:`MERGE_INSIDE`)."""
    kept = list(whole)
    for box in sorted(tiled, key=lambda b: -b.score):
        if not any(
            iou(box, k) > MERGE_IOU or max(_inside(box, k), _inside(k, box)) > MERGE_INSIDE
            for k in kept
        ):
            kept.append(box)
    return kept


def detect_tiled(detector: FaceDetector, frame: Frame, settings: CrowdSettings) -> list[Box]:
    """Faces found on the upscaled tiles of ``frame`` (frame pixels, score at least
    ``settings.face_min_score``), those cut by an inner tile border dropped; not yet merged."""
    h, w = int(frame.shape[0]), int(frame.shape[1])
    found: list[Box] = []
    with detector_min_score(detector, settings.face_min_score):
        for tile in tiles(w, h, settings.grid):
            image, scale = upscale(frame, tile, settings.input_size)
            for b in detector.detect(image):
                box = to_frame(b, tile, scale)
                if box.score >= settings.face_min_score and not cut(box, tile, w, h):
                    found.append(box)
    return found


@contextmanager
def detector_min_score(detector: FaceDetector, score: float) -> Iterator[None]:
    """Lower a detector family's own score threshold (its ``min_score``) for the tiles, if it has
    one; restored on exit. The vision worker is the only thread using the detector."""
    before = getattr(detector, "min_score", None)
    lower = isinstance(before, float) and score < before
    if lower:
        setattr(detector, "min_score", score)  # noqa: B010 (not every family has one)
    try:
        yield
    finally:
        if lower:
            setattr(detector, "min_score", before)  # noqa: B010

"""Faces at the back of the queue: the face detector again, upscaled, on small people's heads.

At 640x480 a face under about 16 px is mostly below what the face detector finds on the whole
frame, yet the person detector still sees the body it belongs to. When an analysis has fresh
person boxes, each person *without* a face whose box is narrow (:attr:`CloserSettings.below_px`:
a face in it would be small) gets a closer look: a window around its head (:func:`head_window`:
the top of the box, as wide as the box plus a margin, aligned to an :data:`ALIGN`-px grid) is
scaled up so the expected face is about :attr:`CloserSettings.face_px` wide (at most
:attr:`CloserSettings.max_scale` times), windows that overlap are merged, and the face detector
runs on each, at most :attr:`CloserSettings.max_looks` windows a frame, the narrowest people
first. A face found there is kept when it is not cut by the window's border inside the frame and
not already found (:func:`agent.vision.inference.crowd.merge`); it needs only
:attr:`CloserSettings.face_min_score`.
The scene inference keeps the windows for :attr:`CloserSettings.keep_s`, so the analyses between
two person detections (the gate carries the boxes) look at the same heads.

Only faceless small people are looked at: a desk scene with faces found costs nothing, a person
seen from behind costs one small detection (a window of about 72x56 px, scaled 2.2x, for a
person 40 px wide). The faces found here count towards a crowd, which is then tiled as well
(:mod:`agent.vision.inference.crowd`).
Measured by ``python -m bench.face_size_curve`` (docs/PERFORMANCE.md, "Faces at the back of the
queue"). Windows stay in process memory.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from agent.vision.findings import Box, FaceDetector, FaceFinding, Frame
from agent.vision.inference.crowd import cut, detector_min_score, to_frame, upscale
from agent.vision.inference.motion import Region, merge
from agent.vision.people import attach

HEAD_SHARE = 0.45
"""A person box's width times this is the width its face is expected to have (shoulders about
two head widths; a raised arm widens the box, so this errs small)."""
ALIGN = 8
"""Windows start and end on this pixel grid (merging and cutting stay stable between frames)."""


@dataclass(frozen=True, slots=True)
class CloserSettings:
    """Who gets a closer look and how; built from ``vision.closer_*`` settings."""

    below_px: float = 80.0
    """A faceless person whose box is narrower than this (frame pixels) is looked at closer: the
    face expected in it is under ``below_px * HEAD_SHARE`` (36 px)."""
    face_px: float = 40.0
    """A window is scaled so the expected face is about this wide..."""
    max_scale: float = 3.0
    """...but at most this many times."""
    max_looks: int = 4
    """Windows looked at per frame (the narrowest people first); 0: never."""
    face_min_score: float = 0.4
    """Minimum score of a face found in a window."""
    keep_s: float = 1.0
    """Analyses without fresh person boxes look at the last windows while they are this young
    (the detection gate's carried person boxes are never older than 1 s either)."""

    @property
    def enabled(self) -> bool:
        return self.max_looks > 0


def head_window(person: Box, width: int, height: int) -> Region:
    """The window around ``person``'s head: the box's width plus a quarter on each side, from a
    quarter of the width above the box's top to one width below it, clipped to the frame and
    aligned outwards to :data:`ALIGN`."""
    w = person.width
    x1 = max(0, int((person.x1 - 0.25 * w) // ALIGN * ALIGN))
    y1 = max(0, int((person.y1 - 0.25 * w) // ALIGN * ALIGN))
    x2 = min(width, int(-(-(person.x2 + 0.25 * w) // ALIGN) * ALIGN))
    y2 = min(height, int(-(-(person.y1 + 1.0 * w) // ALIGN) * ALIGN))
    return (x1, y1, max(x2, x1 + 1), max(y2, y1 + 1))


def looks(
    persons: Sequence[Box], faces: Sequence[FaceFinding], width: int, height: int, s: CloserSettings
) -> list[tuple[Region, float]]:
    """The windows to look at and the scale of each: faceless people narrower than
    ``s.below_px``, narrowest first, their head windows merged where they overlap (a merged window
    is scaled for its narrowest person), at most ``s.max_looks``; windows that would gain less than
    1.25x are left out (the whole frame saw them as well)."""
    faceless = sorted(
        (p.box for p in attach(persons, faces, width, height) if p.detected and p.face is None),
        key=lambda b: b.width,
    )
    small = [b for b in faceless if 1.0 <= b.width < s.below_px]
    if not small:
        return []
    windows = merge([head_window(b, width, height) for b in small])
    out: list[tuple[Region, float]] = []
    for window in windows:
        inside = [b for b in small if _contains(window, b)]
        narrowest = min((b.width for b in inside), default=s.below_px)
        scale = min(s.max_scale, s.face_px / max(narrowest * HEAD_SHARE, 1.0))
        if scale >= 1.25:
            out.append((window, scale))
    out.sort(key=lambda ws: -ws[1])
    return out[: s.max_looks]


def look_closer(
    detector: FaceDetector,
    frame: Frame,
    windows: Sequence[tuple[Region, float]],
    settings: CloserSettings,
) -> list[Box]:
    """Faces found in ``windows`` (from :func:`looks`), each upscaled by its scale (frame pixels,
    score at least ``settings.face_min_score``), those cut by a window border inside the frame
    dropped; not yet merged with the frame's faces."""
    h, w = int(frame.shape[0]), int(frame.shape[1])
    found: list[Box] = []
    with detector_min_score(detector, settings.face_min_score):
        for window, scale in windows:
            ww, wh = window[2] - window[0], window[3] - window[1]
            image, s = upscale(frame, window, (round(ww * scale), round(wh * scale)))
            for b in detector.detect(image):
                box = to_frame(b, window, s)
                if box.score >= settings.face_min_score and not cut(box, window, w, h):
                    found.append(box)
    return found


def _contains(window: Region, box: Box) -> bool:
    cx = (box.x1 + box.x2) / 2
    return window[0] <= cx <= window[2] and window[1] <= box.y1 + 1 and box.y1 <= window[3]

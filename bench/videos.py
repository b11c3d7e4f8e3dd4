"""Benchmark videos, written at run time with ``cv2.VideoWriter`` from ../shared photos (nothing here
is committed media): 640x480, 30 fps, MPEG-4 part 2 (``mp4v``, inter-frame coded like the H.264 an IP
camera streams; a static scene then costs little to decode) or, with ``codec="MJPG"``, one JPEG per
frame like many USB cameras (every frame costs a full decode, about 1 ms here).

- :func:`busy`: a desk scene (the upper half of the face-free street photo ``hpc203_street.jpg``,
  where no person is either, as background) with up
  to four people (face photos of the held-out *test* split of ``../shared/data/mask``, about
  110-150 px tall, masked and unmasked) walking in, standing, swaying and leaving; at any time
  between 1 and 4 are in view. The ground truth (boxes, mask labels per frame) is returned with the
  file so the gated pipeline's accuracy can be measured against it.
- :func:`static`: the same background with sensor noise (Gaussian, sigma 2 grey levels) and nobody
  in view, optionally followed by one person stepping in at ``enter_at_s``.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from agent.vision.capture.frames import fit
from agent.vision.findings import Box, Frame
from tools.datasplit import list_images

REPO = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("TRIAGE_SHARED", REPO.parent / "shared"))
FPS = 30.0
CODECS = {"mp4v": ".mp4", "MJPG": ".avi"}
SIZE = (640, 480)
BACKGROUND = "hpc203_street.jpg"
BACKGROUND_ROWS = 50
"""Percent of the background photo (from the top) used as the empty scene."""


@dataclass(frozen=True, slots=True)
class Truth:
    """One face in one frame of a benchmark video."""

    frame: int
    box: Box
    masked: bool


@dataclass(frozen=True, slots=True)
class _Walker:
    face: Frame
    masked: bool
    enter: float
    leave: float
    x0: float
    x1: float
    y: float


def _background() -> Frame:
    image = cv2.imread(str(SHARED / "data" / "scenes" / BACKGROUND))
    if image is None:
        raise FileNotFoundError(SHARED / "data" / "scenes" / BACKGROUND)
    # the upper half: buildings and windows, none of the photo's pedestrians (the person detector
    # finds seven of them in the whole photo, and "nobody there" must mean nobody)
    top = image[: image.shape[0] * BACKGROUND_ROWS // 100]
    return np.asarray(cv2.resize(top, SIZE, interpolation=cv2.INTER_AREA), dtype=np.uint8)


def _faces(n: int) -> list[tuple[Frame, bool]]:
    items = list_images(SHARED / "data" / "mask", "test")
    masked = [i for i in items if i.label == 1]
    bare = [i for i in items if i.label == 0]
    picks = []
    for k in range(n):
        pool = masked if k % 2 == 0 else bare
        item = pool[(k * 37) % len(pool)]
        image = cv2.imread(str(item.path))
        if image is None:
            raise FileNotFoundError(item.path)
        height = 110 + 10 * (k % 5)
        face = fit(np.asarray(image, dtype=np.uint8), 10_000, height)
        if face.shape[0] < height:
            scale = height / face.shape[0]
            size = (round(face.shape[1] * scale), height)
            face = np.asarray(cv2.resize(face, size, interpolation=cv2.INTER_LINEAR), np.uint8)
        picks.append((face, item.label == 1))
    return picks


def _writer(path: Path, codec: str) -> cv2.VideoWriter:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*codec), FPS, SIZE)
    if not writer.isOpened():
        raise RuntimeError(f"OpenCV cannot write {codec} video to {path}")
    return writer


def busy(path: Path, seconds: float = 20.0, codec: str = "mp4v") -> tuple[Path, list[Truth]]:
    """The busy desk video at ``path`` (suffix from :data:`CODECS`) and its per-frame truth."""
    path = path.with_suffix(CODECS[codec])
    background = _background()
    faces = _faces(6)
    span = seconds
    walkers = [
        _Walker(faces[0][0], faces[0][1], 0.0, span, 60, 200, 120),
        _Walker(faces[1][0], faces[1][1], 0.1 * span, 0.7 * span, 600, 380, 200),
        _Walker(faces[2][0], faces[2][1], 0.25 * span, 0.95 * span, -100, 120, 300),
        _Walker(faces[3][0], faces[3][1], 0.4 * span, span, 640, 450, 90),
        _Walker(faces[4][0], faces[4][1], 0.75 * span, span, 300, 260, 320),
    ]
    writer = _writer(path, codec)
    truth: list[Truth] = []
    frames = int(seconds * FPS)
    for i in range(frames):
        t = i / FPS
        canvas = background.copy()
        for w in walkers:
            if not (w.enter <= t < w.leave):
                continue
            walk = min(1.0, (t - w.enter) / 3.0)  # three seconds to reach the desk, then sway
            x = w.x0 + (w.x1 - w.x0) * walk + 12 * math.sin(2 * math.pi * 0.4 * t + w.y)
            y = w.y + 6 * math.sin(2 * math.pi * 0.3 * t + w.x0)
            fh, fw = w.face.shape[:2]
            x1, y1 = round(x), round(y)
            cx1, cy1 = max(0, x1), max(0, y1)
            cx2, cy2 = min(SIZE[0], x1 + fw), min(SIZE[1], y1 + fh)
            if cx2 - cx1 < fw * 0.6 or cy2 <= cy1:
                continue  # mostly outside the picture: not counted as a face in view
            canvas[cy1:cy2, cx1:cx2] = w.face[cy1 - y1 : cy2 - y1, cx1 - x1 : cx2 - x1]
            truth.append(Truth(i, Box(cx1, cy1, cx2, cy2, 1.0), w.masked))
        writer.write(canvas)
    writer.release()
    return path, truth


def static(
    path: Path, seconds: float = 5.0, enter_at_s: float | None = None, codec: str = "mp4v"
) -> Path:
    """A noisy static background (looped by the camera), with one person stepping in at
    ``enter_at_s`` when given (then the video should not loop)."""
    path = path.with_suffix(CODECS[codec])
    background = _background().astype(np.int16)
    face, _ = _faces(1)[0]
    rng = np.random.default_rng(7)
    writer = _writer(path, codec)
    for i in range(int(seconds * FPS)):
        noise = rng.normal(0.0, 2.0, background.shape).astype(np.int16)
        canvas = np.clip(background + noise, 0, 255).astype(np.uint8)
        if enter_at_s is not None and i / FPS >= enter_at_s:
            fh, fw = face.shape[:2]
            canvas[150 : 150 + fh, 260 : 260 + fw] = face
        writer.write(canvas)
    writer.release()
    return path

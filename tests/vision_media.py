"""Test media for the vision tests: videos and folders built at test time from ../shared photos.

Nothing here is committed media: every video is written into the test's ``tmp_path`` with
``cv2.VideoWriter`` from ``../shared/data/scenes`` and ``../shared/data/mask`` (tests skip with the
reason when ../shared is absent). :func:`scene_inference` is the real product analyser loaded from the
shipped ``models/``; a missing or broken shipped model makes the test fail, never skip, and no
reference model is ever swapped in for it.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np

from agent.vision import load_inference
from agent.vision.config import VisionConfig
from agent.vision.findings import Frame, SceneInference
from tests.conftest import REPO, shared_path

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png"}


def read(path: Path) -> Frame:
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    assert image is not None, path
    return np.asarray(image, dtype=np.uint8)


def scene(name: str) -> Frame:
    """A photo from ../shared/data/scenes."""
    return read(shared_path("data", "scenes", name))


def mask_faces(cls: str, n: int, start: int = 0) -> list[Frame]:
    """``n`` face images of ``with_mask`` or ``without_mask`` (every k-th file, deterministic)."""
    folder = shared_path("data", "mask", cls)
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    step = max(1, len(files) // (4 * n))
    return [read(p) for p in files[start::step][:n]]


def desk(faces: Sequence[Frame], width: int = 640, height: int = 480) -> Frame:
    """A frame with the given face images side by side on a plain background."""
    canvas = np.full((height, width, 3), 190, np.uint8)
    slot = width // max(1, len(faces))
    for i, face in enumerate(faces):
        scale = min((slot - 16) / face.shape[1], (height - 40) / face.shape[0], 1.5)
        f = cv2.resize(face, (int(face.shape[1] * scale), int(face.shape[0] * scale)))
        y = (height - f.shape[0]) // 2
        x = i * slot + (slot - f.shape[1]) // 2
        canvas[y : y + f.shape[0], x : x + f.shape[1]] = f
    return canvas


def fit_to(image: Frame, width: int, height: int) -> Frame:
    """``image`` letterboxed into exactly ``width`` x ``height`` (a video needs one frame size)."""
    scale = min(width / image.shape[1], height / image.shape[0])
    w, h = int(image.shape[1] * scale), int(image.shape[0] * scale)
    canvas = np.zeros((height, width, 3), np.uint8)
    y, x = (height - h) // 2, (width - w) // 2
    canvas[y : y + h, x : x + w] = cv2.resize(image, (w, h), interpolation=cv2.INTER_AREA)
    return canvas


def write_video(
    path: Path,
    segments: Sequence[tuple[Frame, int]],
    fps: float = 10.0,
    size: tuple[int, int] = (640, 480),
) -> Path:
    """Write ``(frame, repeat)`` segments as an MJPG .avi (decodable by every OpenCV build)."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"MJPG"), fps, size)
    assert writer.isOpened(), f"cv2.VideoWriter cannot write {path}"
    for frame, repeat in segments:
        f = fit_to(frame, *size)
        for _ in range(repeat):
            writer.write(f)
    writer.release()
    assert path.stat().st_size > 0
    return path


def scene_inference(vision: VisionConfig | None = None) -> SceneInference:
    """The product's scene inference from the shipped ``models/`` (ModelError fails the test)."""
    return load_inference(vision or VisionConfig(models_dir=REPO / "models"))

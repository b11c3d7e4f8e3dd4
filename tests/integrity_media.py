"""Tampered camera frames for the integrity tests, made at test time from ../shared scene photos.

The camera is modelled as a 640x480 window onto a scene photo. From it: a black frame (with sensor
noise), a hand over most of the lens (a defocused skin-coloured blob with shading), the window
shifted or rotated (a camera knocked or re-aimed: new content comes into view), Gaussian blur (out of
focus), low gain (a dark room), and a busy scene: people (crops of other photos and face images)
walking across the fixed background. Nothing is written anywhere but the test's tmp_path.
"""

from __future__ import annotations

from collections.abc import Iterator

import cv2
import numpy as np

from agent.vision.findings import Frame
from tests.vision_media import mask_faces, scene

WIDTH, HEIGHT = 640, 480
BACKGROUNDS = ("hpc203_street.jpg", "hpc203_bus.jpg", "13.jpg", "img8.jpg", "26.jpg", "17.jpg")
"""Fixed views: a street, a bus stop, an office, a masked crowd, a group photo, a dense crowd."""
WALKER_SOURCES = ("hpc203_zidane.jpg", "9.jpg", "hpc203_person.jpg", "img3.jpg")


def _rng(seed: int) -> np.random.Generator:
    return np.random.default_rng(seed)


def view(
    name: str, dx: float = 0.0, dy: float = 0.0, angle: float = 0.0, zoom: float = 1.0
) -> Frame:
    """The camera's 640x480 window onto photo ``name``: centred, 80% of the photo, optionally
    shifted by ``dx``/``dy`` (share of the window size), rotated by ``angle`` degrees, zoomed."""
    photo = scene(name)
    ph, pw = photo.shape[:2]
    win_w = min(pw * 0.8, ph * 0.8 * WIDTH / HEIGHT) / zoom
    win_h = win_w * HEIGHT / WIDTH
    cx, cy = pw / 2 + dx * win_w, ph / 2 + dy * win_h
    scale = WIDTH / win_w
    m = cv2.getRotationMatrix2D((cx, cy), angle, scale)
    m[0, 2] += WIDTH / 2 - cx
    m[1, 2] += HEIGHT / 2 - cy
    out = cv2.warpAffine(
        photo, m, (WIDTH, HEIGHT), flags=cv2.INTER_AREA, borderMode=cv2.BORDER_REFLECT
    )
    return np.asarray(out, dtype=np.uint8)


def noisy(frame: Frame, sigma: float, seed: int = 0) -> Frame:
    """``frame`` with Gaussian sensor noise."""
    noise = _rng(seed).normal(0.0, sigma, frame.shape)
    return np.asarray(np.clip(frame.astype(np.float32) + noise, 0, 255), dtype=np.uint8)


def black(seed: int = 0) -> Frame:
    """A capped lens or a dead sensor: black with sensor noise."""
    return noisy(np.zeros((HEIGHT, WIDTH, 3), np.uint8), 2.0, seed)


def hand(frame: Frame, cover: float = 0.85, seed: int = 0) -> Frame:
    """A hand held over the lens: a defocused, shaded skin-coloured blob over ``cover`` of it."""
    rng = _rng(seed)
    yy, xx = np.mgrid[0:HEIGHT, 0:WIDTH].astype(np.float32)
    cx, cy = WIDTH * (0.45 + 0.1 * rng.random()), HEIGHT * (0.55 + 0.1 * rng.random())
    # an ellipse whose area inside the frame is about `cover` of it
    a, b = WIDTH * 0.5, HEIGHT * 0.5
    for _ in range(40):
        inside = ((xx - cx) / a) ** 2 + ((yy - cy) / b) ** 2 <= 1.0
        if inside.mean() >= cover:
            break
        a, b = a * 1.05, b * 1.05
    alpha = cv2.GaussianBlur(inside.astype(np.float32), (0, 0), 25)
    shade = 0.55 + 0.45 * (1.0 - yy / HEIGHT) * (0.8 + 0.2 * xx / WIDTH)
    skin = np.stack([110 * shade, 140 * shade, 190 * shade], axis=2)
    skin = cv2.GaussianBlur(skin, (0, 0), 9)
    out = alpha[..., None] * skin + (1 - alpha[..., None]) * frame.astype(np.float32)
    return noisy(np.asarray(np.clip(out, 0, 255), dtype=np.uint8), 1.5, seed)


def blurred(frame: Frame, sigma: float) -> Frame:
    """Out of focus or a smeared lens: Gaussian blur of ``sigma`` pixels."""
    return np.asarray(cv2.GaussianBlur(frame, (0, 0), sigma), dtype=np.uint8)


def low_gain(frame: Frame, gain: float = 0.12, seed: int = 0) -> Frame:
    """A dark room / auto-exposure at its limit: brightness scaled by ``gain`` plus noise."""
    return noisy(np.asarray(frame.astype(np.float32) * gain, dtype=np.uint8), 1.5, seed)


def walkers(seed: int = 0) -> list[Frame]:
    """People to walk through the view: crops of other photos (people) and face images."""
    rng = _rng(seed)
    out: list[Frame] = []
    for name in WALKER_SOURCES:
        photo = scene(name)
        h, w = photo.shape[:2]
        cw, ch = int(w * 0.3), int(h * 0.8)
        x = int(rng.integers(0, w - cw))
        out.append(np.ascontiguousarray(photo[h - ch :, x : x + cw]))
    out += mask_faces("without_mask", 2) + mask_faces("with_mask", 2)
    return out


def busy(background: str, frames: int, seed: int = 0, people: int = 4) -> Iterator[Frame]:
    """``frames`` frames of ``people`` walkers crossing the fixed view of ``background``, some close
    to the camera (large), some far; each frame has fresh sensor noise."""
    rng = _rng(seed)
    base = view(background)
    patches = walkers(seed)
    tracks = []
    for i in range(people):
        patch = patches[int(rng.integers(0, len(patches)))]
        height = int(HEIGHT * (0.35 + 0.45 * rng.random()))  # 35..80% of the frame height
        width = max(8, int(patch.shape[1] * height / patch.shape[0]))
        resized = cv2.resize(patch, (width, height), interpolation=cv2.INTER_AREA)
        speed = (WIDTH + width) / (frames * (0.6 + 0.8 * rng.random()))
        direction = 1 if i % 2 == 0 else -1
        x0 = -width if direction > 0 else WIDTH
        phase = rng.random() * frames * 0.5
        y = int(HEIGHT - height - rng.random() * HEIGHT * 0.15)
        tracks.append((resized, x0, direction * speed, phase, max(0, y)))
    for t in range(frames):
        frame = base.copy()
        for walker, x0, v, phase, y in tracks:
            x = int(x0 + v * ((t + phase) % frames))
            ph, pw = walker.shape[:2]
            x1, x2 = max(0, x), min(WIDTH, x + pw)
            if x2 <= x1:
                continue
            frame[y : y + ph, x1:x2] = walker[: HEIGHT - y, x1 - x : x2 - x]
        yield noisy(frame, 2.0, seed * 100_000 + t)

"""The motion detector on drawn frames: quiet on noise, boxes around what moves, floods reset."""

from __future__ import annotations

import cv2
import numpy as np

from agent.vision.findings import Frame
from agent.vision.inference.motion import MotionDetector, align, area, grow, merge, overlap, union


def noisy(rng: np.random.Generator, level: int = 120) -> Frame:
    base = np.full((480, 640, 3), level, np.int16)
    noise = rng.normal(0.0, 2.0, base.shape).astype(np.int16)
    frame: Frame = np.clip(base + noise, 0, 255).astype(np.uint8)
    return frame


def with_block(frame: Frame, x: int, y: int, size: int = 80) -> Frame:
    out = frame.copy()
    cv2.rectangle(out, (x, y), (x + size, y + size), (20, 40, 230), -1)
    return out


def test_sensor_noise_is_not_motion() -> None:
    rng = np.random.default_rng(1)
    motion = MotionDetector()
    results = [motion.detect(noisy(rng)) for _ in range(30)]
    assert all(r.boxes == () for r in results)
    assert not any(r.flooded for r in results)


def test_a_moving_block_is_boxed_where_it_is() -> None:
    rng = np.random.default_rng(2)
    motion = MotionDetector()
    for _ in range(5):
        motion.detect(noisy(rng))
    result = motion.detect(with_block(noisy(rng), 400, 200))
    assert len(result.boxes) == 1
    x1, y1, x2, y2 = result.boxes[0]
    assert x1 <= 400
    assert y1 <= 200
    assert x2 >= 480
    assert y2 >= 280
    assert area(result.boxes[0]) < 2 * 100 * 100  # ...and not much more
    assert 0.0 < result.changed < 0.1


def test_a_light_switch_floods_and_recalibrates() -> None:
    rng = np.random.default_rng(3)
    motion = MotionDetector()
    for _ in range(5):
        motion.detect(noisy(rng, 120))
    flood = motion.detect(noisy(rng, 200))
    assert flood.flooded
    assert flood.boxes == ()
    assert motion.detect(noisy(rng, 200)).boxes == ()  # the new picture is the background


def test_someone_standing_still_fades_into_the_background() -> None:
    rng = np.random.default_rng(4)
    motion = MotionDetector(settle_frames=5, alpha=0.2)
    for _ in range(5):
        motion.detect(noisy(rng))
    moving = [motion.detect(with_block(noisy(rng), 100, 100)).boxes for _ in range(40)]
    assert moving[0]
    assert moving[4]
    assert moving[-1] == ()  # learnt after standing still


def test_region_helpers() -> None:
    assert union([]) is None
    assert union([(0, 0, 10, 10), (5, 20, 30, 25)]) == (0, 0, 30, 25)
    assert grow((100, 100, 200, 200), 0.25, 10, 640, 480) == (65, 65, 235, 235)
    assert grow((0, 0, 640, 480), 0.5, 10, 640, 480) == (0, 0, 640, 480)
    assert align((65, 65, 235, 235), 32, 640, 480) == (64, 64, 256, 256)
    assert align((600, 450, 630, 470), 32, 630, 470) == (576, 448, 630, 470)
    assert overlap((0, 0, 10, 10), (9, 9, 20, 20))
    assert not overlap((0, 0, 10, 10), (10, 0, 20, 10))
    merged = merge([(0, 0, 10, 10), (100, 100, 110, 110), (5, 5, 50, 50), (45, 45, 101, 101)])
    assert merged == [(0, 0, 110, 110)]
    assert sorted(merge([(0, 0, 10, 10), (20, 20, 30, 30)])) == [(0, 0, 10, 10), (20, 20, 30, 30)]

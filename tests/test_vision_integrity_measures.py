"""Tests of agent.vision.inference.integrity_measures: one frame reduced to numbers.

On synthetic but real images (a seeded scene of drawn shapes, with sensor noise, shifted, blurred,
blacked out) and a reference built from them by the real commissioning code: the analysis image
(grey in BGR order, 320 wide, never upscaled, at least a grid high), the contrast stretch (uniform
frames, the 1st..99th percentile range, the capped gain), per-cell structure and sharpness, ORB
landmarks, landmarks in place and the view's displacement, and :func:`measure` with and without a
reference (same view, moved, blurred, covered, a reference of another size or with too few
landmarks). tests/test_vision_integrity.py judges the checks on the scene photos of ../shared.
"""

from __future__ import annotations

import dataclasses

import cv2
import numpy as np
import numpy.typing as npt
import pytest

from agent.vision.findings import Frame
from agent.vision.inference.integrity_measures import (
    ANALYSIS_WIDTH,
    FLAT_STRUCTURE,
    GRID_COLS,
    GRID_ROWS,
    MATCH_RADIUS_PX,
    MIN_CONTRAST,
    MIN_INLIERS,
    ORB_FEATURES,
    STRETCH_FLOOR,
    TEXTURED_STRUCTURE,
    cell_sharpness,
    cell_structure,
    displacement,
    in_place,
    landmarks,
    measure,
    normalise,
    prepare,
)
from agent.vision.inference.integrity_reference import Reference, build_reference

W, H = 640, 480
SHIFT_PX = 16
"""A shift of the camera view in capture pixels (8 analysis pixels at 320 wide)."""


def scene(seed: int = 0, w: int = W, h: int = H) -> Frame:
    """A view full of edges and corners: seeded rectangles and discs on a grey wall."""
    rng = np.random.default_rng(seed)
    img = np.full((h, w, 3), 90, np.uint8)
    for _ in range(160):
        colour = tuple(int(v) for v in rng.integers(0, 256, 3))
        x, y = int(rng.integers(0, w)), int(rng.integers(0, h))
        if rng.random() < 0.5:
            corner = (x + int(rng.integers(8, 60)), y + int(rng.integers(8, 60)))
            cv2.rectangle(img, (x, y), corner, colour, -1)
        else:
            cv2.circle(img, (x, y), int(rng.integers(4, 30)), colour, -1)
    return img


def noisy(frame: Frame, sigma: float, seed: int) -> Frame:
    rng = np.random.default_rng(seed)
    return np.clip(frame + rng.normal(0, sigma, frame.shape), 0, 255).astype(np.uint8)


def shifted(frame: Frame, dx: float, dy: float = 0.0) -> Frame:
    matrix = np.array([[1, 0, dx], [0, 1, dy]], dtype=np.float32)
    size = (frame.shape[1], frame.shape[0])
    return np.asarray(
        cv2.warpAffine(frame, matrix, size, borderMode=cv2.BORDER_REFLECT), dtype=np.uint8
    )


def blur(frame: Frame, sigma: float) -> Frame:
    return np.asarray(cv2.GaussianBlur(frame, (0, 0), sigma), dtype=np.uint8)


def stretched(frame: Frame) -> npt.NDArray[np.uint8]:
    image, _ = normalise(prepare(frame))
    assert image is not None
    return image


@pytest.fixture(scope="module")
def reference() -> Reference:
    """Commissioned from five noisy captures of the scene."""
    return build_reference([noisy(scene(), 2.0, i) for i in range(5)], created=0.0)


# -- the analysis image ------------------------------------------------------------------------
def test_a_colour_frame_becomes_grey_320_wide_keeping_the_aspect() -> None:
    gray = prepare(scene())
    assert gray.shape == (240, ANALYSIS_WIDTH)
    assert gray.dtype == np.uint8
    assert prepare(np.asarray(cv2.cvtColor(scene(), cv2.COLOR_BGR2GRAY), dtype=np.uint8)).shape == (
        240,
        ANALYSIS_WIDTH,
    )


def test_channels_are_read_in_bgr_order() -> None:
    blue = np.zeros((10, 10, 3), np.uint8)
    blue[..., 0] = 255
    red = np.zeros((10, 10, 3), np.uint8)
    red[..., 2] = 255
    assert int(prepare(blue)[0, 0]) == round(0.114 * 255)
    assert int(prepare(red)[0, 0]) == round(0.299 * 255)


def test_a_small_frame_is_never_upscaled_and_a_strip_keeps_a_grids_height() -> None:
    assert prepare(scene(w=200, h=100)).shape == (100, 200)
    assert prepare(np.full((10, 3200), 50, np.uint8)).shape == (GRID_ROWS, ANALYSIS_WIDTH)


# -- contrast ------------------------------------------------------------------------------------
def test_a_uniform_or_nearly_uniform_frame_is_not_stretched() -> None:
    assert normalise(np.full((60, 80), 128, np.uint8)) == (None, 0.0)
    ramp = np.tile(np.linspace(100, 100 + MIN_CONTRAST - 1, 80).astype(np.uint8), (60, 1))
    image, contrast = normalise(ramp)
    assert image is None
    assert contrast == pytest.approx(MIN_CONTRAST - 1, abs=1)


def test_the_contrast_is_the_1st_to_99th_percentile_range() -> None:
    gray = np.tile(np.linspace(50, 150, 100).astype(np.uint8), (100, 1))
    gray[0, :50] = 0  # 0.5 % outliers at each end do not count
    gray[0, 50:] = 255
    image, contrast = normalise(gray)
    assert contrast == pytest.approx(100, abs=2)
    assert image is not None
    assert int(image[1:].min()) <= 2
    assert int(image[1:].max()) >= 253  # stretched to the full range


def test_a_narrow_range_is_stretched_at_most_by_the_floor() -> None:
    gray = np.tile(np.linspace(100, 120, 100).astype(np.uint8), (100, 1))
    image, contrast = normalise(gray)
    assert contrast == pytest.approx(20, abs=1)
    assert image is not None
    span = int(image.max()) - int(image.min())
    assert span == pytest.approx(
        contrast * 255 / STRETCH_FLOOR, abs=10
    )  # not 255: noise stays small


# -- structure, sharpness, landmarks ---------------------------------------------------------------
def test_structure_tells_textured_cells_from_flat_ones_and_ignores_shading() -> None:
    frame = scene()
    frame[:, W // 2 :] = np.linspace(40, 200, W // 2, dtype=np.uint8)[None, :, None]  # shading
    cells = cell_structure(stretched(frame))
    assert cells.shape == (GRID_ROWS, GRID_COLS)
    textured = cells[:, : GRID_COLS // 2 - 1]
    assert (textured > FLAT_STRUCTURE).all()
    assert float(np.median(textured)) > TEXTURED_STRUCTURE
    assert (cells[:, GRID_COLS // 2 + 1 :] < FLAT_STRUCTURE).all()


def test_a_blurred_view_has_less_laplacian_energy_in_every_cell() -> None:
    sharp = cell_sharpness(stretched(scene()))
    blurred = cell_sharpness(stretched(blur(scene(), 3.0)))
    assert sharp.shape == (GRID_ROWS, GRID_COLS)
    assert (blurred < sharp).all()
    assert float(np.median(blurred / sharp)) < 0.2


def test_landmarks_of_a_scene_and_of_nothing() -> None:
    points, desc = landmarks(stretched(scene()))
    assert 100 < points.shape[0] <= ORB_FEATURES
    assert desc.shape == (points.shape[0], 32)
    assert (points >= 0).all()
    assert (points[:, 0] < ANALYSIS_WIDTH).all()
    assert (points[:, 1] < 240).all()
    none_p, none_d = landmarks(np.zeros((240, 320), np.uint8))
    assert (none_p.shape, none_d.shape) == ((0, 2), (0, 32))


def test_landmarks_are_in_place_only_where_they_were() -> None:
    points, desc = landmarks(stretched(scene()))
    assert in_place(points, desc, points, desc).all()
    again = landmarks(stretched(noisy(scene(), 2.0, 7)))
    assert in_place(points, desc, *again).mean() > 0.8
    moved = landmarks(stretched(shifted(scene(), SHIFT_PX)))  # 8 px > MATCH_RADIUS_PX
    assert SHIFT_PX / 2 > MATCH_RADIUS_PX
    assert in_place(points, desc, *moved).mean() < 0.2
    assert not in_place(
        points, desc, np.zeros((0, 2), np.float32), np.zeros((0, 32), np.uint8)
    ).any()
    assert in_place(
        points, desc, np.zeros((0, 2), np.float32), np.zeros((0, 32), np.uint8)
    ).shape == (points.shape[0],)


def test_the_displacement_is_how_far_the_view_moved() -> None:
    points, desc = landmarks(stretched(scene()))
    assert displacement(points, desc, points, desc) == pytest.approx(0.0, abs=0.01)
    moved = landmarks(stretched(shifted(scene(), SHIFT_PX, SHIFT_PX / 2)))
    assert displacement(points, desc, *moved) == pytest.approx(np.hypot(8, 4), abs=0.5)


def test_no_displacement_without_enough_agreeing_landmarks() -> None:
    points, desc = landmarks(stretched(scene()))
    few = MIN_INLIERS - 1
    assert displacement(points[:few], desc[:few], points, desc) is None
    assert displacement(points, desc, points[:few], desc[:few]) is None
    other = landmarks(stretched(scene(seed=5)))
    assert displacement(points, desc, *other) is None  # another scene: nothing agrees


# -- measure ------------------------------------------------------------------------------------
def test_without_a_reference_the_measures_are_absolute() -> None:
    frame = scene()
    m = measure(frame)
    assert m.luma == pytest.approx(float(prepare(frame).mean()))
    assert m.shape == (240, 320)
    assert m.flat_share == 0.0
    assert m.sharpness is not None
    assert m.sharpness > 1000  # mean squared Laplacian of a stretched image
    assert (m.found, m.view_match, m.shift) == (None, None, None)


def test_a_covered_camera_is_uniform_flat_and_has_no_sharpness(reference: Reference) -> None:
    black = np.zeros((H, W, 3), np.uint8)
    alone = measure(black)
    assert (alone.luma, alone.contrast, alone.flat_share, alone.sharpness) == (0.0, 0.0, 1.0, None)
    assert alone.found is None
    judged = measure(black, reference)
    assert judged.found is not None
    assert judged.found.shape == (reference.landmarks,)
    assert judged.view_match == 0.0


def test_the_commissioned_view_matches_its_reference(reference: Reference) -> None:
    assert reference.can_judge_moves
    m = measure(noisy(scene(), 2.0, 99), reference)
    assert m.view_match is not None
    assert m.view_match > 0.9
    assert m.sharpness == pytest.approx(1.0, abs=0.1)  # relative to the reference
    assert m.shift is not None
    assert m.shift < 0.002


def test_a_moved_view_loses_its_landmarks_and_says_how_far(reference: Reference) -> None:
    m = measure(shifted(scene(), SHIFT_PX), reference)
    assert m.view_match is not None
    assert m.view_match < 0.2
    assert m.shift == pytest.approx(SHIFT_PX / W, abs=0.003)


def test_a_blurred_view_is_less_sharp_than_its_reference(reference: Reference) -> None:
    m = measure(blur(scene(), 3.0), reference)
    assert m.sharpness is not None
    assert m.sharpness < 0.2
    assert m.view_match is not None


def test_a_reference_of_another_size_is_not_used(reference: Reference) -> None:
    m = measure(scene(w=640, h=360), reference)  # 320 x 180 against 320 x 240
    assert m.found is None
    assert m.sharpness is not None
    assert m.sharpness > 100  # absolute, not relative


def test_a_reference_with_too_few_landmarks_judges_no_move(reference: Reference) -> None:
    poor = dataclasses.replace(
        reference, points=reference.points[:5], descriptors=reference.descriptors[:5]
    )
    assert not poor.can_judge_moves
    m = measure(shifted(scene(), SHIFT_PX), poor)
    assert (m.found, m.shift) == (None, None)
    assert m.sharpness is not None  # still relative to the reference's cells
    assert m.sharpness == pytest.approx(1.0, abs=0.15)

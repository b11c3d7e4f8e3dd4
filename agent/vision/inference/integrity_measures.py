"""Image measures of the camera integrity checks: one frame reduced to numbers (never kept).

A frame is shrunk to a grey image :data:`ANALYSIS_WIDTH` pixels wide and contrast-normalised; from
it :func:`measure` takes the brightness, the featureless share of a :data:`GRID_COLS` x
:data:`GRID_ROWS` grid, the sharpness (Laplacian energy) and, against a commissioned
:class:`~agent.vision.inference.integrity_reference.Reference`, the landmarks found in place and the
view's displacement. What the numbers mean for each check: :mod:`agent.vision.inference.integrity`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import cv2
import numpy as np
import numpy.typing as npt

from agent.vision.findings import Frame

if TYPE_CHECKING:
    from agent.vision.inference.integrity_reference import Reference

ANALYSIS_WIDTH = 320
"""Frames are checked at this width (aspect kept)."""
GRID_COLS = 8
GRID_ROWS = 6
MIN_CONTRAST = 12.0
"""A frame whose 1st..99th percentile brightness range is below this (0..255) is uniform."""
STRETCH_FLOOR = 32.0
"""Brightness ranges narrower than this are stretched as if they were this wide."""
STRUCTURE_SIGMAS = (1.5, 8.0)
"""Band-pass (difference of Gaussians) scales, in analysis pixels, that measure structure: smooth
shading (a hand's shadow, vignetting) and sensor noise fall outside it, edges of things do not."""
FLAT_STRUCTURE = 4.0
"""A grid cell whose band-passed standard deviation is below this is featureless."""
TEXTURED_STRUCTURE = 2 * FLAT_STRUCTURE
"""A reference cell counts as textured (can become covered) above this."""
ORB_FEATURES = 500
MATCH_RADIUS_PX = 3.0
"""A landmark is in place when found within this many analysis pixels of where it was."""
MATCH_MAX_HAMMING = 48
"""ORB descriptor distance (of 256 bits) below which two keypoints are the same landmark."""
STABLE_SHARE = 0.5
"""A commissioning keypoint is a landmark when it is in place in at least this share of frames."""
MIN_LANDMARKS = 20
"""With fewer landmarks than this the view has too little structure to judge a move."""
MIN_INLIERS = 15
"""Landmarks that must agree on one transform before a displacement is believed."""

Gray = npt.NDArray[np.uint8]
_POPCOUNT = np.array([bin(i).count("1") for i in range(256)], dtype=np.uint8)


@dataclass(frozen=True, slots=True)
class Measurement:
    """What one frame measured (numbers only)."""

    luma: float
    contrast: float
    flat_share: float
    sharpness: float | None
    """Relative to the reference (1.0 = as sharp) when there is one, else absolute; None when
    nothing in the frame is textured."""
    found: npt.NDArray[np.bool_] | None
    """Per reference landmark: found in place in this frame; None without a usable reference."""
    shape: tuple[int, int]
    """Analysis image size (height, width)."""
    shift: float | None = None
    """Displacement of the view as a share of the frame width, when landmarks agree on one."""

    @property
    def view_match(self) -> float | None:
        """Share of the reference landmarks found in place in this frame alone."""
        return None if self.found is None else float(self.found.mean())


# -- image measures --------------------------------------------------------------------------------
def prepare(frame: Frame) -> Gray:
    """``frame`` (BGR or grey) as a grey image :data:`ANALYSIS_WIDTH` wide (never upscaled)."""
    gray = frame if frame.ndim == 2 else cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
    h, w = gray.shape[:2]
    if w > ANALYSIS_WIDTH:
        size = (ANALYSIS_WIDTH, max(GRID_ROWS, round(h * ANALYSIS_WIDTH / w)))
        gray = cv2.resize(gray, size, interpolation=cv2.INTER_AREA)
    return np.asarray(gray, dtype=np.uint8)


def _percentiles(gray: Gray) -> tuple[float, float]:
    hist = np.bincount(gray.ravel(), minlength=256)
    cdf = np.cumsum(hist)
    n = cdf[-1]
    lo = int(np.searchsorted(cdf, 0.01 * n))
    hi = int(np.searchsorted(cdf, 0.99 * n))
    return float(lo), float(hi)


def normalise(gray: Gray) -> tuple[Gray | None, float]:
    """The contrast-stretched image (None when the frame is uniform) and its brightness range.

    The stretch is at most 255 / :data:`STRETCH_FLOOR`, so sensor noise on a capped lens is not
    blown up into texture."""
    lo, hi = _percentiles(gray)
    contrast = hi - lo
    if contrast < MIN_CONTRAST:
        return None, contrast
    scale = 255.0 / max(contrast, STRETCH_FLOOR)
    stretched = cv2.convertScaleAbs(gray, alpha=scale, beta=-lo * scale)
    return np.asarray(stretched, dtype=np.uint8), contrast


def _cells(image: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    """``image`` cropped to whole cells and reshaped to (rows, cell_h, cols, cell_w)."""
    h, w = image.shape[:2]
    ch, cw = h // GRID_ROWS, w // GRID_COLS
    cropped = image[: ch * GRID_ROWS, : cw * GRID_COLS]
    return cropped.reshape(GRID_ROWS, ch, GRID_COLS, cw)


def cell_structure(stretched: Gray) -> npt.NDArray[np.float32]:
    """Band-passed standard deviation per grid cell (GRID_ROWS x GRID_COLS)."""
    img = stretched.astype(np.float32)
    fine = cv2.GaussianBlur(img, (0, 0), STRUCTURE_SIGMAS[0])
    coarse = cv2.GaussianBlur(img, (0, 0), STRUCTURE_SIGMAS[1])
    cells = _cells(np.asarray(fine - coarse, dtype=np.float32))
    return np.asarray(cells.std(axis=(1, 3)), dtype=np.float32)


def cell_sharpness(stretched: Gray) -> npt.NDArray[np.float32]:
    """Laplacian energy (mean squared Laplacian) per grid cell."""
    lap = cv2.Laplacian(stretched, cv2.CV_32F, ksize=3)
    cells = _cells(np.asarray(lap, dtype=np.float32) ** 2)
    return np.asarray(cells.mean(axis=(1, 3)), dtype=np.float32)


_ORB: cv2.ORB | None = None


def landmarks(stretched: Gray) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.uint8]]:
    """ORB keypoint positions (N x 2) and descriptors (N x 32) of a normalised image."""
    global _ORB  # noqa: PLW0603 - one detector object per process, created on first use
    if _ORB is None:
        _ORB = cv2.ORB.create(nfeatures=ORB_FEATURES, edgeThreshold=15, patchSize=15)
    kps, desc = _ORB.detectAndCompute(stretched, None)
    if desc is None or not kps:
        return np.zeros((0, 2), np.float32), np.zeros((0, 32), np.uint8)
    pts = np.array([kp.pt for kp in kps], dtype=np.float32)
    return pts, np.asarray(desc, dtype=np.uint8)


def in_place(
    ref_points: npt.NDArray[np.float32],
    ref_desc: npt.NDArray[np.uint8],
    points: npt.NDArray[np.float32],
    desc: npt.NDArray[np.uint8],
) -> npt.NDArray[np.bool_]:
    """For each reference landmark: is a keypoint with a similar descriptor still at its place?"""
    found = np.zeros(ref_points.shape[0], dtype=bool)
    if ref_points.shape[0] == 0 or points.shape[0] == 0:
        return found
    dx = ref_points[:, 0:1] - points[:, 0]
    dy = ref_points[:, 1:2] - points[:, 1]
    ri, ci = np.nonzero(dx * dx + dy * dy <= MATCH_RADIUS_PX**2)
    if ri.size == 0:
        return found
    hamming = _POPCOUNT[ref_desc[ri] ^ desc[ci]].sum(axis=1)
    found[ri[hamming <= MATCH_MAX_HAMMING]] = True
    return found


def displacement(
    ref_points: npt.NDArray[np.float32],
    ref_desc: npt.NDArray[np.uint8],
    points: npt.NDArray[np.float32],
    desc: npt.NDArray[np.uint8],
) -> float | None:
    """How far (analysis pixels, median over landmarks) the view moved, from the rotation +
    translation + scale that best maps the reference landmarks onto this frame's keypoints (RANSAC);
    None when fewer than :data:`MIN_INLIERS` landmarks agree on one."""
    if ref_desc.shape[0] < MIN_INLIERS or desc.shape[0] < MIN_INLIERS:
        return None
    pairs = cv2.BFMatcher(cv2.NORM_HAMMING, crossCheck=True).match(ref_desc, desc)
    good = [p for p in pairs if p.distance <= MATCH_MAX_HAMMING]
    if len(good) < MIN_INLIERS:
        return None
    src = ref_points[[p.queryIdx for p in good]]
    dst = points[[p.trainIdx for p in good]]
    matrix, inliers = cv2.estimateAffinePartial2D(
        src, dst, method=cv2.RANSAC, ransacReprojThreshold=MATCH_RADIUS_PX
    )
    if matrix is None or inliers is None or int(inliers.sum()) < MIN_INLIERS:
        return None
    moved = src @ matrix[:, :2].T + matrix[:, 2] - src
    return float(np.median(np.hypot(moved[:, 0], moved[:, 1])))


def measure(frame: Frame, reference: Reference | None = None) -> Measurement:
    """Measure one frame, against ``reference`` when given and made at the same size."""
    gray = prepare(frame)
    luma = float(gray.mean())
    stretched, contrast = normalise(gray)
    ref = reference
    if ref is not None and (ref.height, ref.width) != gray.shape:
        ref = None
    judge_moves = ref is not None and ref.can_judge_moves
    if stretched is None:
        nothing = np.zeros(ref.landmarks, dtype=bool) if ref is not None and judge_moves else None
        return Measurement(luma, contrast, 1.0, None, nothing, gray.shape)
    flat = cell_structure(stretched) < FLAT_STRUCTURE
    textured = ref.textured if ref is not None and ref.textured.any() else np.ones_like(flat)
    flat_share = float(flat[textured].mean())
    energy = cell_sharpness(stretched)
    live = textured & ~flat
    sharpness: float | None = None
    if live.any():
        if ref is not None:
            ratio = energy[live] / np.maximum(ref.cell_sharpness[live], 1e-3)
            sharpness = float(np.median(ratio))
        else:
            sharpness = float(np.median(energy[live]))
    found: npt.NDArray[np.bool_] | None = None
    shift: float | None = None
    if ref is not None and judge_moves:
        pts, desc = landmarks(stretched)
        found = in_place(ref.points, ref.descriptors, pts, desc)
        px = displacement(ref.points, ref.descriptors, pts, desc)
        shift = None if px is None else px / gray.shape[1]
    return Measurement(luma, contrast, flat_share, sharpness, found, gray.shape, shift)

"""Camera integrity (tamper) checks: is the camera covered, too dark, out of focus, or moved?

Pure numpy/OpenCV, no models. Each checked frame is reduced to a small grey image
(:data:`ANALYSIS_WIDTH` pixels wide) and contrast-normalised (1st..99th percentile stretched to
0..255, so a low gain does not read as blur or as a covered lens). From it:

- **covered** (or blacked out): the share of the frame that is featureless. The frame is cut into a
  :data:`GRID_COLS` x :data:`GRID_ROWS` grid; a cell is flat when its normalised standard deviation
  is below :data:`FLAT_STD`. A frame whose whole brightness range is under :data:`MIN_CONTRAST`
  levels is entirely flat. With a reference only the cells that were textured when commissioned
  count (a plain wall in view is not a cover), without one all cells do.
- **dark** (too dark to analyse): the mean brightness (0..255), an absolute threshold.
- **blurred** (out of focus, smeared): the Laplacian energy per textured cell. With a reference,
  the median over cells of (now / commissioned) energy, so a person walking through a few cells
  does not move it; without one, the median absolute energy of the textured cells.
- **moved** (re-aimed): the share of the reference's landmarks (ORB keypoints that were stable over
  the commissioning frames) found again within :data:`MATCH_RADIUS_PX` of their place with a
  similar descriptor; that is the inlier ratio of the identity transform. People in front of the
  background hide some landmarks, a turned camera moves all of them. Needs a reference.

:class:`IntegrityChecker` keeps the last ``window`` measurements (numbers only, never a frame) and
decides on their medians, with a precedence: a covered frame cannot be judged dark, blurred or
moved; a dark one not blurred or moved; a blurred one not moved (those are ``unknown``). The
:class:`Reference` holds landmark positions and descriptors and per-cell statistics; it is not an
image and cannot be turned back into one. It is saved with :func:`save_reference` (``.npz``, no
pickle). Raising alerts after a delay is the integrity analyser's job, not this module's.
"""

from __future__ import annotations

import io
import os
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from statistics import median

import cv2
import numpy as np
import numpy.typing as npt

from agent.vision.config import IntegrityConfig
from agent.vision.findings import Basis, Frame, IntegrityFindings, IntegrityVerdict

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
REFERENCE_FORMAT = 1
REFERENCE_NAME = "camera-reference.npz"
"""File name of the reference in the state directory."""

Gray = npt.NDArray[np.uint8]
_POPCOUNT = np.array([bin(i).count("1") for i in range(256)], dtype=np.uint8)


class ReferenceFileError(Exception):
    """A reference file that cannot be read; the message says what to do."""


@dataclass(frozen=True, slots=True)
class IntegrityThresholds:
    """When a check fails (the integrity config maps onto this)."""

    covered_share: float = 0.6
    covered_share_uncommissioned: float = 0.85
    """Without a reference a plain wall cannot be told from a cover: only a nearly featureless
    frame is covered."""
    """Share of (textured) grid cells that are featureless at or above which the camera is covered."""
    dark_luma: float = 35.0
    """Mean brightness (0..255) below which the frame is too dark to analyse."""
    blur_ratio: float = 0.3
    """With a reference: sharpness below this share of the commissioned sharpness is blurred."""
    blur_min_sharpness: float = 400.0
    """Without a reference: median Laplacian energy of textured cells below this is blurred."""
    moved_min_match: float = 0.15
    """With a reference: share of landmarks in place (over ``moved_window``) below which the view
    no longer matches (turned away)."""
    moved_min_shift: float = 0.015
    """With a reference: a view displaced by at least this share of the frame width has moved."""
    window: int = 5
    """Decide on the median of this many recent checks."""
    moved_window: int = 30
    """A landmark counts as in place when found in any of this many recent checks (people walking
    through hide different landmarks from one check to the next; a moved camera loses them all)."""


def thresholds(cfg: IntegrityConfig) -> IntegrityThresholds:
    """The detector thresholds of the integrity config."""
    return IntegrityThresholds(
        covered_share=cfg.covered_share,
        covered_share_uncommissioned=cfg.covered_share_uncommissioned,
        dark_luma=cfg.dark_luma,
        blur_ratio=cfg.blur_ratio,
        blur_min_sharpness=cfg.blur_min_sharpness,
        moved_min_match=cfg.moved_min_match,
        moved_min_shift=cfg.moved_min_shift,
        window=cfg.window,
        moved_window=cfg.moved_window,
    )


@dataclass(frozen=True, slots=True)
class Reference:
    """The commissioned view as numbers: landmarks and per-cell statistics, never an image."""

    width: int
    height: int
    """Size of the analysis image the reference was made at."""
    points: npt.NDArray[np.float32]
    """Landmark positions (N x 2, analysis pixels)."""
    descriptors: npt.NDArray[np.uint8]
    """ORB descriptors of the landmarks (N x 32)."""
    textured: npt.NDArray[np.bool_]
    """Grid cells (GRID_ROWS x GRID_COLS) that had texture when commissioned."""
    cell_sharpness: npt.NDArray[np.float32]
    """Median Laplacian energy per grid cell over the commissioning frames."""
    luma: float
    """Median mean brightness over the commissioning frames."""
    created: float
    """POSIX time of commissioning."""
    frames: int
    """How many frames the reference was built from."""

    @property
    def landmarks(self) -> int:
        return int(self.points.shape[0])

    @property
    def can_judge_moves(self) -> bool:
        """Enough landmarks to tell a moved camera from people in front of it."""
        return self.landmarks >= MIN_LANDMARKS


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


# -- the commissioned reference --------------------------------------------------------------------
def build_reference(frames: Sequence[Frame], created: float | None = None) -> Reference:
    """A reference from several frames of the intended view (people may walk through).

    Landmarks are taken from the per-pixel median of the frames (moving people vanish from it) and
    kept only when they are in place in at least :data:`STABLE_SHARE` of the single frames.
    """
    if not frames:
        raise ValueError("build_reference needs at least one frame")
    grays = [prepare(f) for f in frames]
    shape = grays[0].shape
    if any(g.shape != shape for g in grays):
        raise ValueError("commissioning frames differ in size")
    med = np.asarray(np.median(np.stack(grays), axis=0), dtype=np.uint8)
    stretched, _ = normalise(med)
    if stretched is None:
        raise ValueError("the camera shows a uniform image (covered or dark): nothing to record")
    points, desc = landmarks(stretched)
    hits = np.zeros(points.shape[0], dtype=np.int32)
    energies = []
    for g in grays:
        s, _ = normalise(g)
        if s is None:
            continue
        p, d = landmarks(s)
        hits += in_place(points, desc, p, d)
        energies.append(cell_sharpness(s))
    used = len(energies)
    if used == 0:
        raise ValueError(
            "every commissioning frame is uniform (covered or dark): nothing to record"
        )
    keep = hits >= STABLE_SHARE * used
    return Reference(
        width=int(shape[1]),
        height=int(shape[0]),
        points=np.ascontiguousarray(points[keep]),
        descriptors=np.ascontiguousarray(desc[keep]),
        textured=cell_structure(stretched) >= TEXTURED_STRUCTURE,
        cell_sharpness=np.asarray(np.median(np.stack(energies), axis=0), dtype=np.float32),
        luma=float(median(float(g.mean()) for g in grays)),
        created=time.time() if created is None else created,
        frames=len(frames),
    )


def save_reference(reference: Reference, path: Path) -> None:
    """Write ``reference`` to ``path`` (``.npz``, atomically: a crash leaves the old file)."""
    buf = io.BytesIO()
    np.savez_compressed(
        buf,
        format=np.array(REFERENCE_FORMAT),
        size=np.array([reference.width, reference.height]),
        points=reference.points,
        descriptors=reference.descriptors,
        textured=reference.textured,
        cell_sharpness=reference.cell_sharpness,
        stats=np.array([reference.luma, reference.created, reference.frames], dtype=np.float64),
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as fh:
        fh.write(buf.getvalue())
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def load_reference(path: Path) -> Reference:
    """Read a reference written by :func:`save_reference`; :class:`ReferenceFileError` if unusable."""
    fix = "re-run `triage-agent commission`"
    try:
        with np.load(path, allow_pickle=False) as data:
            if int(data["format"]) != REFERENCE_FORMAT:
                raise ReferenceFileError(
                    f"camera reference {path} has format {int(data['format'])}, "
                    f"this version reads {REFERENCE_FORMAT}: {fix}"
                )
            width, height = (int(x) for x in data["size"])
            luma, created, frames = (float(x) for x in data["stats"])
            ref = Reference(
                width=width,
                height=height,
                points=np.asarray(data["points"], dtype=np.float32).reshape(-1, 2),
                descriptors=np.asarray(data["descriptors"], dtype=np.uint8).reshape(-1, 32),
                textured=np.asarray(data["textured"], dtype=bool),
                cell_sharpness=np.asarray(data["cell_sharpness"], dtype=np.float32),
                luma=luma,
                created=created,
                frames=int(frames),
            )
    except FileNotFoundError:
        raise
    except ReferenceFileError:
        raise
    except (OSError, KeyError, ValueError, TypeError) as exc:
        raise ReferenceFileError(f"camera reference {path} is unreadable ({exc}): {fix}") from None
    grid = (GRID_ROWS, GRID_COLS)
    if (
        ref.textured.shape != grid
        or ref.cell_sharpness.shape != grid
        or ref.points.shape[0] != ref.descriptors.shape[0]
    ):
        raise ReferenceFileError(f"camera reference {path} is inconsistent: {fix}")
    return ref


# -- decisions over recent frames ------------------------------------------------------------------
def _median(values: Sequence[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return float(median(present)) if present else None


def _union_match(measurements: Sequence[Measurement]) -> float | None:
    """Share of landmarks found in place in at least one of ``measurements``."""
    found = [m.found for m in measurements if m.found is not None]
    if not found or any(f.shape != found[0].shape for f in found):
        return None
    return float(np.logical_or.reduce(found).mean())


@dataclass
class IntegrityChecker:
    """Measures frames and decides the four checks on the median of the last ``window`` ones."""

    thresholds: IntegrityThresholds = field(default_factory=IntegrityThresholds)
    reference: Reference | None = None
    _recent: deque[Measurement] = field(init=False)

    def __post_init__(self) -> None:
        self._recent = deque(maxlen=max(1, self.thresholds.window, self.thresholds.moved_window))

    def check(self, frame: Frame, at: float) -> IntegrityFindings:
        """Measure ``frame`` (captured at ``at``) and return the verdicts on the recent frames."""
        started = time.perf_counter()
        m = measure(frame, self.reference)
        if self._recent and self._recent[-1].shape != m.shape:
            self._recent.clear()  # the camera changed resolution: old figures do not compare
        self._recent.append(m)
        verdicts = self.decide()
        return IntegrityFindings(
            at=at,
            verdicts=verdicts,
            commissioned=self.commissioned_for(m.shape),
            check_ms=(time.perf_counter() - started) * 1000.0,
        )

    def commissioned_for(self, shape: tuple[int, int]) -> bool:
        """A reference exists, matches this analysis size and has enough landmarks."""
        ref = self.reference
        return ref is not None and (ref.height, ref.width) == shape and ref.can_judge_moves

    def decide(self) -> tuple[IntegrityVerdict, ...]:
        """The verdicts on the median of the recent measurements, with the precedence rules."""
        t = self.thresholds
        every = list(self._recent)
        if not every:
            raise ValueError("no measurement yet")
        recent = every[-max(1, t.window) :]
        shape = recent[-1].shape
        ref = self.reference if self.reference is not None else None
        ref_usable = ref is not None and (ref.height, ref.width) == shape
        basis: Basis = "reference" if ref_usable else "absolute"
        flat = _median([m.flat_share for m in recent]) or 0.0
        luma = _median([m.luma for m in recent]) or 0.0
        sharp = _median([m.sharpness for m in recent])
        match = _union_match(every[-max(1, t.moved_window) :])

        cover_limit = t.covered_share if ref_usable else t.covered_share_uncommissioned
        covered = flat >= cover_limit
        out = [IntegrityVerdict("covered", "failed" if covered else "ok", flat, cover_limit, basis)]
        if covered:
            out.append(
                IntegrityVerdict("dark", "unknown", luma, t.dark_luma, "absolute", "covered")
            )
            dark = False
        else:
            dark = luma < t.dark_luma
            out.append(
                IntegrityVerdict("dark", "failed" if dark else "ok", luma, t.dark_luma, "absolute")
            )
        blur_limit = t.blur_ratio if ref_usable else t.blur_min_sharpness
        blurred = False
        if covered or dark:
            why = "covered" if covered else "dark"
            out.append(IntegrityVerdict("blurred", "unknown", sharp, blur_limit, basis, why))
        elif sharp is None:
            out.append(
                IntegrityVerdict(
                    "blurred", "unknown", None, blur_limit, basis, "no texture in view"
                )
            )
        else:
            blurred = sharp < blur_limit
            out.append(
                IntegrityVerdict("blurred", "failed" if blurred else "ok", sharp, blur_limit, basis)
            )
        if not ref_usable or ref is None:
            why_moved = (
                "not commissioned" if ref is None else "reference made at another resolution"
            )
            out.append(
                IntegrityVerdict("moved", "unknown", None, t.moved_min_match, basis, why_moved)
            )
        elif not ref.can_judge_moves:
            out.append(
                IntegrityVerdict(
                    "moved",
                    "unknown",
                    None,
                    t.moved_min_match,
                    basis,
                    "too few landmarks in reference",
                )
            )
        elif covered or dark or blurred:
            why = "covered" if covered else "dark" if dark else "blurred"
            out.append(IntegrityVerdict("moved", "unknown", match, t.moved_min_match, basis, why))
        else:
            shift = _median([m.shift for m in recent])
            moved = (match is not None and match < t.moved_min_match) or (
                shift is not None and shift >= t.moved_min_shift
            )
            out.append(
                IntegrityVerdict(
                    "moved",
                    "failed" if moved else "ok",
                    match,
                    t.moved_min_match,
                    basis,
                    shift=shift,
                )
            )
        return tuple(out)

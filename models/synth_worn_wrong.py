"""Synthesise "mask worn wrong" face images from ``../shared/data/mask/without_mask`` (in memory).

No public set here has a "mask worn incorrectly" class (``../shared/README.md``), so the third
class of the mask classifier is made: each unmasked face gets a surgical- or cloth-like mask drawn
where a mask worn wrong sits, placed by the face's five landmarks from the shipped CenterFace model
(``models/centerface.onnx``; its 10-channel landmark output, which the agent's family ignores, is
decoded here):

- ``under_nose`` (about 60 %): the mask covers mouth and chin, its top edge between the nose tip
  and the upper lip; the nose is out;
- ``chin`` (about 40 %): only the chin is covered; the mouth and nose are out.

With ``proper_share`` > 0 the same faces also get, that often, the same kind of mask worn properly
(``proper``: over the bridge of the nose down under the chin), labelled ``with_mask`` by training:
the model then has to learn where the mask sits, not that a mask was drawn.

Mask looks (all seeded): light blue, white, black, grey or a muted cloth colour; cylindrical
shading across the face, horizontal pleats on surgical masks, a light weave on cloth ones, a darker
rim, ear loops to the sides of the face at about ear height, the image's own brightness and noise.
The mask follows the roll of the eye line and the nose's offset from the eyes (a turned head).

Every synthetic image belongs to the split of its source image (``tools.datasplit.split_of`` of
``without_mask/<file>``), so no test-split person leaks into training. Nothing is written into
the project: images stay in memory (``synthesise``) or go to a folder you name (``--out``, e.g.
under /tmp) with a PNG contact sheet to look at.

Usage::

    .venv/bin/python models/synth_worn_wrong.py --data ../shared/data/mask --out /tmp/worn \\
        [--split test] [--limit 64] [--seed 20240601]
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import math
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import cv2
import numpy as np
import numpy.typing as npt
import onnxruntime as ort

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from agent.vision.inference.families.centerface import STRIDE, fit  # noqa: E402
from agent.vision.manifest import resolve  # noqa: E402
from tools.datasplit import Split, split_of  # noqa: E402

U8 = npt.NDArray[np.uint8]
F32 = npt.NDArray[np.float32]
Style = Literal["under_nose", "chin", "proper"]
"""How a drawn mask is worn: the two worn-wrong styles, or ``proper`` (over the nose: a control
labelled ``with_mask``, so that a drawn mask alone does not mean "worn wrong")."""
SOURCE_CLASS = "without_mask"
DEFAULT_SEED = 20240601
MIN_SCORE = 0.5
MIN_COVER = 0.08
"""A synthetic mask must cover at least this share of the face box in the image (else the image,
say a chin mask below a tightly cropped face, would look unmasked and is skipped)."""
UNDER_NOSE_SHARE = 0.6
DONOR_CLASS = "with_mask"
REAL_WORN_WRONG = ROOT / "models" / "eval" / "worn_wrong_real.csv"
MASK_SKIN_DISTANCE = 28.0
"""CIELAB distance (OpenCV's 8-bit scale) from the skin colour that makes a pixel mask."""
MIN_MASK_FILL = 0.3
"""A donor's cut-out mask must fill this share of its lower face."""
MAX_SIDE_CUT = 0.1
"""A donor's mask may touch the photo's left or right edge on at most this share of its rows."""

COLOURS: dict[str, tuple[int, int, int]] = {  # BGR
    "light_blue": (222, 196, 150),
    "pale_blue": (235, 215, 175),
    "white": (238, 240, 240),
    "black": (38, 36, 36),
    "grey": (140, 138, 135),
    "cloth_navy": (90, 50, 35),
    "cloth_pink": (185, 170, 225),
    "cloth_green": (150, 170, 120),
}
SURGICAL = ("light_blue", "pale_blue", "white")
"""Colours drawn with pleats; the rest are cloth-like."""
WEIGHTS = {
    "light_blue": 4,
    "pale_blue": 2,
    "white": 2,
    "black": 3,
    "grey": 1,
    "cloth_navy": 1,
    "cloth_pink": 1,
    "cloth_green": 1,
}


@dataclass(frozen=True, slots=True)
class Landmarks:
    """A face box and its five points (x, y) in image pixels."""

    box: tuple[float, float, float, float]
    score: float
    left_eye: tuple[float, float]
    right_eye: tuple[float, float]
    nose: tuple[float, float]
    mouth_left: tuple[float, float]
    mouth_right: tuple[float, float]

    def points(self) -> F32:
        """The five points as a 5x2 array (eyes, nose, mouth corners)."""
        return np.asarray(
            [self.left_eye, self.right_eye, self.nose, self.mouth_left, self.mouth_right],
            dtype=np.float32,
        )


class LandmarkFinder:
    """The shipped CenterFace model, with its landmark output decoded (best face only)."""

    def __init__(self, models_dir: Path = ROOT / "models", threads: int = 1) -> None:
        spec, path = resolve(models_dir, "face-detector")
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.log_severity_level = 3
        self._session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        self._input = self._session.get_inputs()[0].name
        self._spec = spec

    def find(self, image: U8) -> Landmarks | None:
        """The highest-scoring face of a BGR image, or None. Small images are enlarged first
        (CenterFace misses faces that fill a small frame)."""
        h, w = image.shape[:2]
        up = max(1.0, 320.0 / max(h, w))
        big = image if up == 1.0 else cv2.resize(image, (round(w * up), round(h * up)))
        fitted, geo = fit(np.asarray(big, dtype=np.uint8), 640, 480)
        x = cv2.cvtColor(fitted, cv2.COLOR_BGR2RGB).astype(np.float32).transpose(2, 0, 1)[None]
        outs = self._session.run(None, {self._input: x})
        heat = next(o for o in outs if o.shape[1] == 1)[0, 0]
        two = [o for o in outs if o.shape[1] == 2]
        lms = next(o for o in outs if o.shape[1] == 10)[0]
        scale, offset = two[0][0], two[1][0]  # upstream order: scale before offset
        y, x_ = np.unravel_index(int(np.argmax(heat)), heat.shape)
        score = float(heat[y, x_])
        if score < MIN_SCORE:
            return None
        s0 = math.exp(float(scale[0, y, x_])) * STRIDE  # height
        s1 = math.exp(float(scale[1, y, x_])) * STRIDE  # width
        cy = (y + float(offset[0, y, x_]) + 0.5) * STRIDE
        cx = (x_ + float(offset[1, y, x_]) + 0.5) * STRIDE
        x1, y1 = cx - s1 / 2, cy - s0 / 2
        sx, sy = geo.scale_x * up, geo.scale_y * up

        def point(j: int) -> tuple[float, float]:
            px = float(lms[2 * j + 1, y, x_]) * s1 + x1
            py = float(lms[2 * j, y, x_]) * s0 + y1
            return px / sx, py / sy

        return Landmarks(
            box=(x1 / sx, y1 / sy, (x1 + s1) / sx, (y1 + s0) / sy),
            score=score,
            left_eye=point(0),
            right_eye=point(1),
            nose=point(2),
            mouth_left=point(3),
            mouth_right=point(4),
        )


def _mid(a: tuple[float, float], b: tuple[float, float]) -> npt.NDArray[np.float64]:
    return (np.asarray(a, dtype=np.float64) + np.asarray(b, dtype=np.float64)) / 2.0


def draw_mask(image: U8, lm: Landmarks, style: Style, rng: np.random.Generator) -> tuple[U8, float]:
    """``image`` with a mask drawn on it, worn ``style`` (a new array), and the share of the face
    box the visible mask covers (a chin mask of a tightly cropped face can fall off the image)."""
    h, w = image.shape[:2]
    eyes, ux, uy, span, nose_v = _face_axes(lm)
    nose = np.asarray(lm.nose, dtype=np.float64)
    box_w = lm.box[2] - lm.box[0]
    half = 0.5 * box_w * rng.uniform(0.88, 1.0)
    turn = float(np.dot(nose - eyes, ux))  # a turned head: the mask's middle follows the nose
    origin = eyes + ux * (0.6 * turn)
    mouth_v = span
    if style == "proper":
        top = nose_v * rng.uniform(0.35, 0.6)
        bottom = mouth_v + span * rng.uniform(0.75, 0.95)
    elif style == "under_nose":
        top = nose_v + (mouth_v - nose_v) * rng.uniform(0.25, 0.55)
        bottom = mouth_v + span * rng.uniform(0.75, 0.95)
    else:
        top = mouth_v + span * rng.uniform(0.22, 0.38)
        bottom = mouth_v + span * rng.uniform(0.85, 1.05)
    # per-pixel face coordinates: u across (0 at the mask's middle), v down (0 at the eyes)
    u, v = _face_uv(image.shape, origin, ux, uy)
    height = bottom - top
    t = np.clip((v - top) / max(1.0, height), 0.0, 1.0)
    # the outline: full width at the top, narrowing and rounding towards the chin
    width_at = half * (1.0 - 0.35 * t**2.2)
    arch = 0.06 * height * (1.0 - (u / half) ** 2)  # the top edge rises a little in the middle
    inside = (v >= top - arch) & (v <= bottom) & (np.abs(u) <= width_at)
    alpha = cv2.GaussianBlur(inside.astype(np.float32), (0, 0), max(0.6, half / 60.0))

    name = rng.choice(list(WEIGHTS), p=np.asarray(list(WEIGHTS.values())) / sum(WEIGHTS.values()))
    base = np.asarray(COLOURS[str(name)], dtype=np.float64) + rng.normal(0, 8, 3)
    across = np.clip(np.abs(u) / half, 0.0, 1.0)
    shade = 0.62 + 0.38 * np.cos(across * math.pi / 2) ** 0.7  # round face: darker at the sides
    shade *= 1.0 - 0.12 * t  # a little darker under the chin
    if str(name) in SURGICAL:
        pleats = int(rng.integers(2, 4))
        for k in range(pleats):
            pv = top + height * (0.25 + 0.5 * k / max(1, pleats - 1)) * rng.uniform(0.95, 1.05)
            d = (v - pv) / max(0.8, height * 0.035)
            shade *= 1.0 - 0.16 * np.exp(-(d**2)) + 0.08 * np.exp(-((d + 1.6) ** 2))
    else:
        weave = rng.normal(0, 1, (h, w)).astype(np.float32)
        shade *= 1.0 + 0.05 * cv2.GaussianBlur(weave, (0, 0), 0.7)
    rim = np.clip(1.0 - (width_at - np.abs(u)) / max(1.0, half * 0.06), 0.0, 1.0)
    shade *= 1.0 - 0.18 * rim
    # the image's own lighting: the face's mean brightness scales the mask's
    face_grey = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY).astype(np.float64)
    lit = float(np.mean(face_grey[inside])) if inside.any() else 128.0
    light = np.clip(0.55 + 0.45 * lit / 150.0, 0.6, 1.15)
    colour = base[None, None, :] * (shade * light)[:, :, None]
    colour += rng.normal(0, rng.uniform(1.0, 5.0), colour.shape)
    out = image.astype(np.float64)
    a = alpha[:, :, None].astype(np.float64)
    out = out * (1.0 - a) + np.clip(colour, 0, 255) * a
    # ear loops: from the mask's upper and lower corners to the side of the face at ear height
    loop = tuple(int(c) for c in np.clip(base * 0.9 * light, 0, 255))
    thick = max(1, round(box_w / 90))
    ear_v = nose_v * rng.uniform(0.7, 1.0)
    for side in (-1.0, 1.0):
        ear = origin + ux * side * half * rng.uniform(1.06, 1.16) + uy * ear_v
        for corner_v in (top + 0.1 * height, bottom - 0.25 * height):
            c_t = (corner_v - top) / max(1.0, height)
            corner = origin + ux * side * half * (1.0 - 0.35 * c_t**2.2) + uy * corner_v
            cv2.line(
                out,
                (round(corner[0]), round(corner[1])),
                (round(ear[0]), round(ear[1])),
                loop,
                thick,
                cv2.LINE_AA,
            )
    box_area = max(1.0, box_w * (lm.box[3] - lm.box[1]))
    return np.asarray(np.clip(out, 0, 255), dtype=np.uint8), float(alpha.sum()) / box_area


@dataclass(frozen=True, slots=True)
class Donor:
    """A real mask cut out of a ``with_mask`` photo: the photo, its landmarks, and the mask's
    alpha (1 on mask pixels, feathered at the edge) in the photo's pixels."""

    image: U8
    landmarks: Landmarks
    alpha: F32
    source: str


def _face_axes(
    lm: Landmarks,
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64], npt.NDArray[np.float64], float, float]:
    """The face's frame: eye centre, unit vectors across and down the face, the eyes-to-mouth
    span and the nose's depth below the eyes (both along "down")."""
    eyes = _mid(lm.left_eye, lm.right_eye)
    mouth = _mid(lm.mouth_left, lm.mouth_right)
    axis = np.asarray(lm.right_eye, dtype=np.float64) - np.asarray(lm.left_eye, dtype=np.float64)
    roll = math.atan2(axis[1], axis[0]) if np.linalg.norm(axis) > 1 else 0.0
    ux = np.array([math.cos(roll), math.sin(roll)])
    uy = np.array([-math.sin(roll), math.cos(roll)])
    span = max(4.0, float(np.dot(mouth - eyes, uy)))
    nose_v = float(np.dot(np.asarray(lm.nose, dtype=np.float64) - eyes, uy))
    return eyes, ux, uy, span, nose_v


def _face_uv(
    shape: tuple[int, ...],
    origin: npt.NDArray[np.float64],
    ux: npt.NDArray[np.float64],
    uy: npt.NDArray[np.float64],
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Per-pixel face coordinates: u across, v down, both 0 at ``origin``."""
    yy, xx = np.mgrid[0 : shape[0], 0 : shape[1]].astype(np.float64)
    dx, dy = xx - origin[0], yy - origin[1]
    return dx * ux[0] + dy * ux[1], dx * uy[0] + dy * uy[1]


def _between_eyes(
    lm: Landmarks, u: npt.NDArray[np.float64], v: npt.NDArray[np.float64], span: float
) -> npt.NDArray[np.bool_]:
    """The skin between the eyes (a mask never covers it): pixels near the eye centre, from the
    face coordinates ``u``, ``v`` (:func:`_face_uv` at the eye centre)."""
    eye_gap = max(2.0, float(np.linalg.norm(np.subtract(lm.right_eye, lm.left_eye))))
    return np.asarray((np.abs(u) <= 0.18 * eye_gap) & (np.abs(v) <= 0.12 * span))


def _skin_between_eyes(image: U8, lm: Landmarks) -> npt.NDArray[np.bool_]:
    """:func:`_between_eyes` of a face, its coordinates made here."""
    eyes, ux, uy, span, _ = _face_axes(lm)
    u, v = _face_uv(image.shape, eyes, ux, uy)
    return _between_eyes(lm, u, v, span)


def cut_mask(image: U8, lm: Landmarks) -> F32 | None:
    """The alpha of the real mask on a masked face, or None when it cannot be told from the skin.

    The mask is the largest connected area of the lower face (from a little above the nose down
    to below the chin, inside an ellipse a face wide) whose colour (CIELAB) is at least :data:`MASK_SKIN_DISTANCE`
    from the skin between the eyes; it must fill :data:`MIN_MASK_FILL` of that area (a skin-
    coloured mask, or a face whose landmarks missed, is no donor)."""
    eyes, ux, uy, span, nose_v = _face_axes(lm)
    u, v = _face_uv(image.shape, eyes, ux, uy)
    lab = cv2.cvtColor(image, cv2.COLOR_BGR2LAB).astype(np.float32)
    between = _between_eyes(lm, u, v, span)
    if int(between.sum()) < 4:
        return None
    skin = np.median(lab[between], axis=0)
    box_w = lm.box[2] - lm.box[0]
    lower = (v >= 0.25 * max(nose_v, 0.3 * span)) & (v <= span * 2.0) & (np.abs(u) <= 0.6 * box_w)
    # where a mask can be: an ellipse over the lower face (no background beside the face)
    lower &= (u / (0.55 * box_w)) ** 2 + ((v - 0.95 * span) / (1.05 * span)) ** 2 <= 1.0
    far = np.linalg.norm(lab - skin[None, None, :], axis=2) >= MASK_SKIN_DISTANCE
    raw = (lower & far).astype(np.uint8)
    k = max(1, round(box_w / 40))
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * k + 1, 2 * k + 1))
    raw = cv2.morphologyEx(cv2.morphologyEx(raw, cv2.MORPH_OPEN, kernel), cv2.MORPH_CLOSE, kernel)
    count, labels, stats, _ = cv2.connectedComponentsWithStats(raw, connectivity=8)
    if count < 2:
        return None
    best = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
    part = labels == best
    if part.sum() < MIN_MASK_FILL * max(1, int((lower & (v <= span * 1.6)).sum())):
        return None
    if not part[(v > 0.6 * span) & (v < 1.2 * span) & (np.abs(u) < 0.2 * box_w)].any():
        return None  # nothing over the mouth: not a mask
    rows = max(1, int(part.any(axis=1).sum()))
    if (part[:, 0] | part[:, -1]).sum() >= MAX_SIDE_CUT * rows:
        return None  # cut by the photo's side: moved, it would show a straight edge
    alpha = cv2.GaussianBlur(part.astype(np.float32), (0, 0), max(0.6, box_w / 80.0))
    return np.asarray(alpha, dtype=np.float32)


def transplant_mask(
    image: U8, lm: Landmarks, donor: Donor, style: Style, rng: np.random.Generator
) -> tuple[U8, float]:
    """``image`` with ``donor``'s real mask moved onto it, worn ``style``: the donor face is
    aligned to this one by its five landmarks (a similarity), then slid down the face until the
    mask's top edge sits where that style puts it; the mask's brightness follows this image's
    skin. Returns the new image and the share of the face box the visible mask covers."""
    h, w = image.shape[:2]
    src, dst = donor.landmarks.points(), lm.points()
    matrix, _ = cv2.estimateAffinePartial2D(src, dst, method=cv2.LMEDS)
    if matrix is None:
        return image.copy(), 0.0
    eyes, ux, uy, span, nose_v = _face_axes(lm)
    alpha = cv2.warpAffine(donor.alpha, matrix, (w, h), flags=cv2.INTER_LINEAR)
    u, v = _face_uv(image.shape, eyes, ux, uy)
    on = alpha > 0.5
    if not on.any():
        return image.copy(), 0.0
    top_now = float(np.percentile(v[on], 3))
    if style == "under_nose":
        top = nose_v + (span - nose_v) * rng.uniform(0.05, 0.35)
    elif style == "chin":
        top = span + span * rng.uniform(0.2, 0.35)
    else:
        top = top_now
    shift = uy * (top - top_now)
    matrix = np.array(matrix, dtype=np.float64)  # a copy
    matrix[:, 2] = matrix[:, 2] + shift
    alpha = cv2.warpAffine(donor.alpha, matrix, (w, h), flags=cv2.INTER_LINEAR)
    mask = cv2.warpAffine(donor.image, matrix, (w, h), flags=cv2.INTER_LINEAR)
    # this image's light: the skin between the eyes, here against the donor's
    between = _between_eyes(lm, u, v, span)
    d_between = _skin_between_eyes(donor.image, donor.landmarks)
    grey = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    d_grey = cv2.cvtColor(donor.image, cv2.COLOR_BGR2GRAY)
    gain = 1.0
    if between.any() and d_between.any():
        ratio = np.mean(grey[between]) / max(1.0, float(np.mean(d_grey[d_between])))
        gain = float(np.clip(ratio, 0.7, 1.3))
    a = alpha[:, :, None].astype(np.float64)
    out = image.astype(np.float64) * (1.0 - a) + np.clip(mask.astype(np.float64) * gain, 0, 255) * a
    box_area = max(1.0, (lm.box[2] - lm.box[0]) * (lm.box[3] - lm.box[1]))
    return np.asarray(np.clip(out, 0, 255), dtype=np.uint8), float(alpha.sum()) / box_area


def donors(
    data: Path, split: Split, finder: LandmarkFinder, exclude: frozenset[str] = frozenset()
) -> list[Donor]:
    """Real masks of the ``with_mask`` photos of ``split`` (sorted by file name) that
    :func:`cut_mask` can cut out; photos named in ``exclude`` (the real worn-wrong ones) never."""
    return [
        Donor(image, lm, alpha, name)
        for name, _, image, lm in faces(data, DONOR_CLASS, split, finder, exclude)
        if (alpha := cut_mask(image, lm)) is not None
    ]


def faces(
    data: Path, cls: str, split: Split, finder: LandmarkFinder, exclude: frozenset[str]
) -> Iterator[tuple[str, Split, U8, Landmarks]]:
    """Each ``data/cls`` photo of ``split`` (sorted by file name, not in ``exclude``) in which a
    face is found: its file name, split, pixels and landmarks."""
    for path in sorted((data / cls).iterdir()):
        if path.suffix.lower() not in {".jpg", ".jpeg", ".png"} or path.name in exclude:
            continue
        where = split_of(cls, path.name)
        if split not in ("all", where):
            continue
        bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if bgr is None:
            continue
        image = np.asarray(bgr, dtype=np.uint8)
        lm = finder.find(image)
        if lm is not None:
            yield path.name, where, image, lm


@dataclass(frozen=True, slots=True)
class WornWrong:
    """One synthetic face: its pixels, the source file and its split, how the mask is worn."""

    image: U8
    source: str
    split: Split
    style: Style
    donor: str | None = None
    """The ``with_mask`` photo whose real mask was moved here; None: a drawn mask."""


def style_of(name: str, seed: int) -> tuple[Style, np.random.Generator]:
    """The style and random generator of one source file (stable per file and seed)."""
    digest = hashlib.sha256(f"{seed}/{name}".encode()).digest()
    rng = np.random.default_rng(int.from_bytes(digest[:8], "little"))
    style: Style = "under_nose" if rng.random() < UNDER_NOSE_SHARE else "chin"
    return style, rng


def synthesise(
    data: Path,
    split: Split = "all",
    *,
    seed: int = DEFAULT_SEED,
    finder: LandmarkFinder | None = None,
    exclude: frozenset[str] = frozenset(),
    limit: int | None = None,
    proper_share: float = 0.0,
    real_share: float = 0.0,
    donor_exclude: frozenset[str] = frozenset(),
) -> Iterator[WornWrong]:
    """Worn-wrong faces made from ``data/without_mask`` images in ``split`` (sorted by file name;
    images with no face found, named in ``exclude``, or whose mask would be mostly outside the
    image (:data:`MIN_COVER`) are skipped); with ``proper_share``, that share of the faces also
    with a mask worn properly (style ``proper``, right after its worn-wrong sibling).

    With ``real_share``, that share of the faces gets a real mask instead of a drawn one: moved
    (:func:`transplant_mask`) from a ``with_mask`` photo of the same split (:func:`donors`; the
    photos named in ``donor_exclude``, the real worn-wrong ones, never give one), chosen by the face's own random generator."""
    finder = finder or LandmarkFinder()
    pools: dict[str, list[Donor]] = {}
    made = 0
    for name, where, image, lm in faces(data, SOURCE_CLASS, split, finder, exclude):
        style, rng = style_of(name, seed)
        donor: Donor | None = None
        if real_share > 0.0 and rng.random() < real_share:
            if where not in pools:
                pools[where] = donors(data, where, finder, donor_exclude)
            if pools[where]:
                donor = pools[where][int(rng.integers(len(pools[where])))]
        if donor is None:
            drawn, cover = draw_mask(image, lm, style, rng)
        else:
            drawn, cover = transplant_mask(image, lm, donor, style, rng)
        if cover < MIN_COVER:
            continue
        yield WornWrong(drawn, name, where, style, None if donor is None else donor.source)
        made += 1
        if limit is not None and made >= limit:
            return
        if proper_share > 0.0:
            digest = hashlib.sha256(f"{seed}/proper/{name}".encode()).digest()
            rng = np.random.default_rng(int.from_bytes(digest[:8], "little"))
            if rng.random() < proper_share:
                yield WornWrong(draw_mask(image, lm, "proper", rng)[0], name, where, "proper")
                made += 1
        if limit is not None and made >= limit:
            return


def real_worn_wrong_names(listing: Path = REAL_WORN_WRONG) -> tuple[str, ...]:
    """The ``with_mask`` photos that show a real mask worn wrong (``models/eval/
    worn_wrong_real.csv``, column ``file``, in file order): labelled ``mask_worn_wrong`` in their
    own split, and never a donor of a real mask."""
    with listing.open(newline="", encoding="utf-8") as f:
        rows = csv.DictReader(line for line in f if not line.startswith("#"))
        return tuple(row["file"] for row in rows)


def held_out_worn_wrong_names(listing: Path = REAL_WORN_WRONG) -> tuple[str, ...]:
    """Those of :func:`real_worn_wrong_names` in the test split: never trained on, measured."""
    return tuple(n for n in real_worn_wrong_names(listing) if split_of("with_mask", n) == "test")


def contact_sheet(images: list[U8], labels: list[str], size: int = 128, cols: int = 8) -> U8:
    """A grid of images with a caption each (to look at the output)."""
    tiles = []
    for image, text in zip(images, labels, strict=True):
        tile = cv2.resize(image, (size, size), interpolation=cv2.INTER_AREA)
        cv2.putText(tile, text, (2, 11), cv2.FONT_HERSHEY_SIMPLEX, 0.33, (0, 255, 255), 1)
        tiles.append(tile)
    while len(tiles) % cols:
        tiles.append(np.zeros((size, size, 3), dtype=np.uint8))
    rows = [np.hstack(tiles[i : i + cols]) for i in range(0, len(tiles), cols)]
    return np.asarray(np.vstack(rows), dtype=np.uint8)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data" / "mask")
    parser.add_argument("--out", type=Path, required=True, help="Folder for the PNGs (not here).")
    parser.add_argument("--split", choices=["all", "train", "val", "test"], default="all")
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument(
        "--proper-share", type=float, default=0.0, help="Also draw masks worn properly this often."
    )
    parser.add_argument(
        "--real-share", type=float, default=0.0, help="Move real masks onto this share."
    )
    args = parser.parse_args(argv)
    if args.out.resolve().is_relative_to(ROOT):
        parser.error("--out must be outside the project (no images are committed)")
    args.out.mkdir(parents=True, exist_ok=True)
    made = list(
        synthesise(
            args.data,
            args.split,
            seed=args.seed,
            limit=args.limit,
            proper_share=args.proper_share,
            real_share=args.real_share,
            donor_exclude=frozenset(real_worn_wrong_names()),
        )
    )
    for item in made:
        name = f"{Path(item.source).stem}_{item.style}.png"
        cv2.imwrite(str(args.out / name), item.image)
    sheet = contact_sheet(
        [m.image for m in made[:96]],
        [f"{m.style} {'real' if m.donor else 'drawn'}" for m in made[:96]],
    )
    cv2.imwrite(str(args.out / "contact_sheet.png"), sheet)
    styles = {s: sum(m.style == s for m in made) for s in ("under_nose", "chin", "proper")}
    print(
        f"{len(made)} images in {args.out} ({styles}); contact sheet {args.out}/contact_sheet.png"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""The commissioned camera reference: the intended view as numbers, and its file.

:func:`build_reference` makes a :class:`Reference` from several frames of the intended view
(``triage-agent commission``); it holds landmark positions and descriptors and per-cell statistics,
is not an image and cannot be turned back into one. :func:`save_reference` writes it (``.npz``, no
pickle, atomically), :func:`load_reference` reads it back (:class:`ReferenceFileError` when
unusable, with what to do).
"""

from __future__ import annotations

import io
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from statistics import median

import numpy as np
import numpy.typing as npt

from agent.vision.errors import VisionError
from agent.vision.findings import Frame
from agent.vision.inference.integrity_measures import (
    GRID_COLS,
    GRID_ROWS,
    MIN_LANDMARKS,
    STABLE_SHARE,
    TEXTURED_STRUCTURE,
    cell_sharpness,
    cell_structure,
    in_place,
    landmarks,
    normalise,
    prepare,
)

REFERENCE_FORMAT = 1
REFERENCE_NAME = "camera-reference.npz"
"""File name of the reference in the state directory."""


class ReferenceFileError(VisionError):
    """A reference file that cannot be read; the message says what to do."""


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

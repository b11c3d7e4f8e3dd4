"""The labelled mask image folder and its deterministic train / val / test split.

A mask data folder is laid out as ``DIR/with_mask/*.jpg|png`` and ``DIR/without_mask/*.jpg|png``.
The split is decided by the file alone, so it is the same on every machine and for every run, and
adding images never moves an existing image to another split:

    bucket = int(sha256("<class>/<file name>")[:8], 16) % 10
    bucket 0..6 -> train (70 %), 7 -> val (10 %), 8..9 -> test (20 %)

``models/train_mask.py`` trains on ``train``, picks the epoch on ``val`` and reports ``test``;
``python -m tools.eval_mask --data DIR --split test`` evaluates the same held-out images.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

Split = Literal["train", "val", "test", "all"]
CLASSES: tuple[str, str] = ("without_mask", "with_mask")
"""Class folder names; the index is the label (1 = masked)."""
IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png"})


@dataclass(frozen=True, slots=True)
class LabelledImage:
    """One image file and its label (1 = with mask, 0 = without)."""

    path: Path
    label: int


def split_of(class_name: str, file_name: str) -> Split:
    """The split a file belongs to, from a hash of ``class/file name``."""
    digest = hashlib.sha256(f"{class_name}/{file_name}".encode()).hexdigest()
    bucket = int(digest[:8], 16) % 10
    if bucket <= 6:
        return "train"
    if bucket == 7:
        return "val"
    return "test"


def list_images(data_dir: Path, split: Split = "all") -> list[LabelledImage]:
    """Images of ``data_dir`` in ``split``, sorted by class then name.

    Raises ``FileNotFoundError`` naming what is missing when the layout is not as documented.
    """
    if not data_dir.is_dir():
        raise FileNotFoundError(f"mask data folder {data_dir} does not exist")
    missing = [c for c in CLASSES if not (data_dir / c).is_dir()]
    if missing:
        raise FileNotFoundError(
            f"mask data folder {data_dir} has no {' or '.join(missing)} sub-folder; expected "
            f"{data_dir}/with_mask/*.jpg|png and {data_dir}/without_mask/*.jpg|png"
        )
    out: list[LabelledImage] = []
    for label, cls in enumerate(CLASSES):
        for path in sorted((data_dir / cls).iterdir()):
            if path.suffix.lower() not in IMAGE_SUFFIXES or not path.is_file():
                continue
            if split == "all" or split_of(cls, path.name) == split:
                out.append(LabelledImage(path=path, label=label))
    return out

"""The camera reference (agent/vision/inference/integrity_reference.py) that ``triage-agent
commission`` records: saved and loaded without a change and without any image in it, and a damaged
file a clear error.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from agent.vision.inference.integrity_measures import GRID_COLS, GRID_ROWS, measure
from agent.vision.inference.integrity_reference import (
    ReferenceFileError,
    load_reference,
    save_reference,
)
from tests import integrity_media as media
from tests.test_vision_integrity import commission


@pytest.mark.shared
def test_reference_round_trips_and_holds_no_image(tmp_path: Path) -> None:
    ref = commission("hpc203_street.jpg")
    path = tmp_path / "state" / "camera-reference.npz"
    save_reference(ref, path)
    loaded = load_reference(path)
    assert (loaded.width, loaded.height, loaded.landmarks) == (ref.width, ref.height, ref.landmarks)
    assert np.array_equal(loaded.descriptors, ref.descriptors)
    assert np.array_equal(loaded.textured, ref.textured)
    frame = media.noisy(media.view("hpc203_street.jpg", dx=0.05), 2.0)
    a, b = measure(frame, loaded), measure(frame, ref)
    assert (a.view_match, a.shift, a.sharpness) == (b.view_match, b.shift, b.sharpness)
    # numbers, not pictures: no array in the file is image-shaped, and the whole file is small
    with np.load(path, allow_pickle=False) as data:
        shapes = {k: data[k].shape for k in data.files}
    assert shapes["textured"] == (GRID_ROWS, GRID_COLS)
    assert shapes["points"][1] == 2
    assert shapes["descriptors"][1] == 32
    assert all(len(s) <= 2 and (len(s) < 2 or s[1] <= 32) for s in shapes.values())
    assert path.stat().st_size < 64 * 1024


def test_a_damaged_reference_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "camera-reference.npz"
    path.write_bytes(b"not a reference")
    with pytest.raises(ReferenceFileError, match="re-run `triage-agent commission`"):
        load_reference(path)

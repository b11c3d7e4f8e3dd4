"""``models/synth_worn_wrong.py``: worn-wrong faces drawn on real unmasked faces from ../shared."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

from tests.conftest import shared_path
from tools.datasplit import split_of
from tools.eval_mask import synth_module as synth


def assert_mask_low_on_the_face(data: Path, item: Any) -> None:
    """Pixels changed from the source photo: many in its lower half, fewer in its top third."""
    source = cv2.imread(str(data / "without_mask" / item.source), cv2.IMREAD_COLOR)
    assert source is not None
    assert source.shape == item.image.shape
    changed = np.abs(item.image.astype(int) - source.astype(int)).sum(axis=2) > 30
    h = changed.shape[0]
    top, bottom = changed[: h // 3].mean(), changed[h // 2 :].mean()
    assert bottom > 0.1, item.source  # a mask was put on...
    assert top < bottom, item.source  # ...low on the face


@pytest.mark.model
@pytest.mark.shared
def test_masks_are_drawn_low_on_the_face_in_the_source_split_and_seeded() -> None:
    data = shared_path("data", "mask")
    module = synth()
    made = list(module.synthesise(data, "test", limit=6, proper_share=0.5))
    again = list(module.synthesise(data, "test", limit=6, proper_share=0.5))
    assert len(made) == 6
    assert [m.style for m in made] == [m.style for m in again]
    assert all(np.array_equal(a.image, b.image) for a, b in zip(made, again, strict=True))
    for item in made:
        assert item.split == split_of("without_mask", item.source) == "test"
        assert_mask_low_on_the_face(data, item)
    assert {m.style for m in made} <= {"under_nose", "chin", "proper"}


@pytest.mark.model
@pytest.mark.shared
def test_real_masks_move_from_with_mask_photos_of_the_same_split_never_the_held_out_ones() -> None:
    data = shared_path("data", "mask")
    module = synth()
    made = list(module.synthesise(data, "test", limit=4, real_share=1.0))
    assert len(made) == 4
    held_out = set(module.real_worn_wrong_names())
    assert held_out  # the real worn-wrong photos are listed
    for item in made:
        assert item.donor is not None
        assert split_of("with_mask", item.donor) == "test" == item.split
        assert item.donor not in held_out
        assert_mask_low_on_the_face(data, item)
    used = frozenset(m.donor for m in made if m.donor is not None)
    again = list(module.synthesise(data, "test", limit=4, real_share=1.0, donor_exclude=used))
    assert [m.source for m in again] == [m.source for m in made]  # same faces...
    assert not used & {m.donor for m in again}  # ...never from an excluded photo


@pytest.mark.model
@pytest.mark.shared
def test_a_mask_is_cut_only_where_it_differs_from_the_skin() -> None:
    data = shared_path("data", "mask")
    module = synth()
    finder = module.LandmarkFinder()
    donors = module.donors(data, "val", finder)
    assert len(donors) >= 20
    for donor in donors[:10]:
        alpha = donor.alpha > 0.5
        rows = np.flatnonzero(alpha.any(axis=1))
        eye_y = (donor.landmarks.left_eye[1] + donor.landmarks.right_eye[1]) / 2
        assert rows.min() > eye_y, donor.source  # below the eyes
        assert alpha.mean() > 0.05, donor.source
    blank = np.full((160, 160, 3), (120, 150, 190), dtype=np.uint8)  # one skin colour
    lm = donors[0].landmarks
    scale = 160 / max(donors[0].image.shape[:2])
    moved = module.Landmarks(
        box=tuple(c * scale for c in lm.box),
        score=lm.score,
        left_eye=(lm.left_eye[0] * scale, lm.left_eye[1] * scale),
        right_eye=(lm.right_eye[0] * scale, lm.right_eye[1] * scale),
        nose=(lm.nose[0] * scale, lm.nose[1] * scale),
        mouth_left=(lm.mouth_left[0] * scale, lm.mouth_left[1] * scale),
        mouth_right=(lm.mouth_right[0] * scale, lm.mouth_right[1] * scale),
    )
    assert module.cut_mask(blank, moved) is None  # nothing but skin: no mask

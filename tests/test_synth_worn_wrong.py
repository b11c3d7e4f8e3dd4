"""``models/synth_worn_wrong.py``: worn-wrong faces drawn on real unmasked faces from ../shared."""

from __future__ import annotations

import importlib.util
import sys
from types import ModuleType

import cv2
import numpy as np
import pytest

from tests.conftest import REPO, shared_path
from tools.datasplit import split_of


def synth() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "synth_worn_wrong", REPO / "models" / "synth_worn_wrong.py"
    )
    assert spec is not None
    assert spec.loader is not None
    if spec.name not in sys.modules:
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module
        spec.loader.exec_module(module)
    return sys.modules[spec.name]


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
        source = cv2.imread(str(data / "without_mask" / item.source), cv2.IMREAD_COLOR)
        assert source is not None
        assert source.shape == item.image.shape
        changed = np.abs(item.image.astype(int) - source.astype(int)).sum(axis=2) > 30
        h = changed.shape[0]
        top, bottom = changed[: h // 3].mean(), changed[h // 2 :].mean()
        assert bottom > 0.1, item.source  # a mask was drawn...
        assert top < bottom, item.source  # ...low on the face
    assert {m.style for m in made} <= {"under_nose", "chin", "proper"}
